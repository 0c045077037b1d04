import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { isDatabaseUnavailable, persistently } from '../../src/stores/unavailable.js';

/** A write that fails with `errors` in turn, then succeeds; counts its tries. */
function flaky(errors: Error[]) {
  let tries = 0;
  return {
    get tries() {
      return tries;
    },
    write: () => {
      tries += 1;
      const error = errors[tries - 1];
      return error ? Promise.reject(error) : Promise.resolve('stored');
    },
  };
}

describe('persistently: a write retried while the database is away', () => {
  test('a database unreachable for a moment is waited for', async () => {
    const write = flaky([new MongoNetworkError('connection closed'), new MongoNetworkError('connection refused')]);
    assert.equal(await persistently(write.write, { withinMs: 5_000, firstPauseMs: 1 }), 'stored');
    assert.equal(write.tries, 3);
  });

  test('any other error is not retried', async () => {
    const write = flaky([new MongoServerError({ message: 'bad document', code: 2 })]);
    await assert.rejects(persistently(write.write, { withinMs: 5_000, firstPauseMs: 1 }), /bad document/);
    assert.equal(write.tries, 1);
  });

  test('it gives up once its time is spent, and at once when the step is cancelled', async () => {
    const down = () => Promise.reject(new MongoNetworkError('connection refused'));
    await assert.rejects(persistently(down, { withinMs: 20, firstPauseMs: 5 }), /connection refused/);
    const cancelled = new AbortController();
    cancelled.abort();
    const write = flaky([new MongoNetworkError('connection refused')]);
    await assert.rejects(persistently(write.write, { withinMs: 5_000, signal: cancelled.signal }), /refused/);
    assert.equal(write.tries, 1);
  });

  test('the driver errors that mean "unreachable now" are told from the rest', () => {
    assert.equal(isDatabaseUnavailable(new MongoNetworkError('x')), true);
    assert.equal(isDatabaseUnavailable(new MongoServerError({ message: 'x' })), false);
    assert.equal(isDatabaseUnavailable(null), false);
    assert.equal(isDatabaseUnavailable('text'), false);
  });
});
