import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRetryAfter } from '../../src/activities/reply-post.js';
import { capRetryAfter, MAX_RETRY_AFTER_SECONDS, nextRetryWaitSeconds } from '../../src/domain/retry-wait.js';

const SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

describe('retry waits: a receiver’s Retry-After capped, the schedule’s total kept', () => {
  test('Retry-After is capped at an hour where it is parsed, in seconds or as a date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120);
    assert.equal(parseRetryAfter('99999999999999', now), MAX_RETRY_AFTER_SECONDS);
    assert.equal(parseRetryAfter('3000000000', now), MAX_RETRY_AFTER_SECONDS);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2121 00:00:00 GMT', now), MAX_RETRY_AFTER_SECONDS);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:10:00 GMT', now), 600);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });

  test('what is no number of seconds counts as no Retry-After', () => {
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN, -1]) assert.equal(capRetryAfter(bad), undefined);
  });

  test('each wait: the step stretched up to an hour, never past what is left of the total', () => {
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 0, 0, undefined), 5);
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 0, 0, 600), 600);
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 0, 0, 99999999999999), 3600);
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 0, 0, Number.POSITIVE_INFINITY), 5);
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 5, 0, 99999999999999), 36000, 'a longer step stands');
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 6, 72000, 36000), 27305, 'what is left of 99305 s');
    assert.equal(nextRetryWaitSeconds(SCHEDULE, 7, 0, 5), undefined, 'no step left');
    assert.equal(nextRetryWaitSeconds([1, 1], 1, 2, 5), undefined, 'the total spent by stretched waits');
  });
});
