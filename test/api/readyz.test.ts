import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import { healthRouter } from '../../src/api/routes/health.js';

describe('/readyz: the checks run at most once a second, whoever asks', () => {
  let clock = 1_000_000;
  const pings = { mongodb: 0, temporal: 0 };
  let temporalUp = true;
  let base: string;
  let close: () => Promise<void>;

  before(async () => {
    const app = express();
    app.use(
      healthRouter(
        {
          mongodb: () => {
            pings.mongodb++;
            return Promise.resolve();
          },
          temporal: () => {
            pings.temporal++;
            return temporalUp ? Promise.resolve() : Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:7233'));
          },
        },
        undefined,
        { now: () => clock },
      ),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  });
  after(async () => {
    await close();
  });

  const ready = async (): Promise<number> => (await fetch(`${base}/readyz`)).status;

  test('fifty calls at once and fifty in a row within the second: one ping of each dependency', async () => {
    const statuses = await Promise.all(Array.from({ length: 50 }, ready));
    for (let i = 0; i < 50; i++) statuses.push(await ready());
    assert.ok(
      statuses.every((status) => status === 200),
      JSON.stringify(statuses),
    );
    assert.deepEqual(pings, { mongodb: 1, temporal: 1 });
  });

  test('a second later the checks run again, and a dependency that went away is seen', async () => {
    temporalUp = false;
    assert.equal(await ready(), 200, 'within the second: the answer before');
    clock += 1_000;
    assert.equal(await ready(), 503);
    assert.deepEqual(pings, { mongodb: 2, temporal: 2 });
  });
});
