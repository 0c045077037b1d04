import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pacesParts, typingPausesMs } from '../../src/domain/reply-plan.js';

test('typing pauses: none before the first part, then length × ms per character, never over the cap', () => {
  assert.deepEqual(typingPausesMs({ msPerChar: 40, maxSeconds: 3 }, [500, 10, 74, 76, 0]), [0, 400, 2960, 3000, 0]);
});

test('typing pauses: none at all when the channel does not pace its parts', () => {
  assert.deepEqual(typingPausesMs(undefined, [10, 20]), []);
});

test('only a reply of more than one part on a pacing channel is paced', () => {
  const typing = { msPerChar: 40, maxSeconds: 3 };
  assert.equal(pacesParts({ typing }, 2), true);
  assert.equal(pacesParts({ typing }, 1), false);
  assert.equal(pacesParts({}, 3), false);
});
