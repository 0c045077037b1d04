/**
 * Retention (issue 12, item 19): the daily job's workflow on the time-skipping server with real
 * activities on a real MongoDB-compatible server, and its Temporal Schedule on the dev server
 * (the server the worker talks to), created once however often workers start.
 */
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { after, before, describe, test } from 'node:test';
import { createRetentionActivities } from '../../src/activities/retention.js';
import { chatLineFor } from '../../src/chat-line/index.js';
import { DAY_MS } from '../../src/domain/erasure.js';
import { waitFor } from '../../src/lib/wait.js';
import { startTemporalDevServer } from '../../src/stack/servers.js';
import { collections, type Collections } from '../../src/stores/collections.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { ensureRetentionSchedule, RETENTION_SCHEDULE_ID } from '../../src/temporal/retention-schedule.js';
import { RETENTION_WORKFLOW_ID, type retentionWorkflow } from '../../src/workflows/retention.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { countRecords, seedChat } from '../helpers/seed-records.js';
import { bundle, createTimeSkippingEnv, testDataConverter } from '../helpers/temporal.js';
import { recordHistory, workflowsPath } from '../helpers/workflow-harness.js';

describe('retention', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let c: Collections;
  let workflowBundle: WorkflowBundle;
  before(async () => {
    [mongo, workflowBundle] = await Promise.all([startTestMongo(), bundle(workflowsPath)]);
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    c = collections(mongo.db);
  });
  after(async () => {
    await mongo?.close();
  });

  describe('the workflow (time-skipping server)', () => {
    let env: TestWorkflowEnvironment;
    before(async () => {
      env = await createTimeSkippingEnv({ dataConverter: testDataConverter });
    });
    after(async () => {
      await env?.teardown();
    });

    test('deletes finished messages past the period with all their records, and emptied chats, in batches across runs', async () => {
      const now = Date.now();
      const old = await seedChat(c, {
        pageId: 'p',
        clientId: 'old',
        receivedAt: new Date(now - 40 * DAY_MS),
        messages: 3,
        tag: 'o',
      });
      const busy = await seedChat(c, {
        pageId: 'p',
        clientId: 'busy',
        receivedAt: new Date(now - 40 * DAY_MS),
        messages: 1,
        finished: false,
        tag: 'u',
      });
      const abandoned = await seedChat(c, {
        pageId: 'p',
        clientId: 'abandoned',
        receivedAt: new Date(now - 200 * DAY_MS),
        messages: 1,
        finished: false,
        tag: 'd',
      });
      const recent = await seedChat(c, {
        pageId: 'p',
        clientId: 'recent',
        receivedAt: new Date(now - DAY_MS),
        messages: 2,
        tag: 'r',
      });
      const busyBefore = await countRecords(c, busy.chatId, busy.messageIds);
      const recentBefore = await countRecords(c, recent.chatId, recent.messageIds);

      // A worker runs once (runUntil): each run of the job gets its own.
      const retentionWorker = () =>
        Worker.create({
          connection: env.nativeConnection,
          taskQueue: 'retention-test',
          workflowBundle,
          activities: createRetentionActivities({ stores, line: chatLineFor(stores, env.client) }),
          dataConverter: testDataConverter,
        });
      const worker = await retentionWorker();
      const result = await worker.runUntil(
        env.client.workflow.execute<typeof retentionWorkflow>('retentionWorkflow', {
          workflowId: `retention-${now}`,
          taskQueue: 'retention-test',
          // Two messages (or chats) a batch, two batches a run: the job needs several runs.
          args: [{ retentionDays: 30, batchSize: 2, batchesPerRun: 2 }],
        }),
      );

      await recordHistory('retention', env.client.workflow.getHandle(`retention-${now}`));

      for (const gone of [old, abandoned]) {
        const {
          chat_lines: places,
          chat_line_ends: ends,
          ...left
        } = await countRecords(c, gone.chatId, gone.messageIds);
        assert.ok(
          Object.values(left).every((count) => count === 0),
          `${gone.chatId}: ${JSON.stringify(left)}`,
        );
        // The chat's line was cut after retention's own place: its places go a day later (a claim
        // that read no floor a moment before may still be walking past them).
        const floor = await stores.lines.floor(gone.chatId);
        assert.ok(
          floor > 0 && (places ?? 0) > 0 && (ends ?? 0) > 0,
          `${gone.chatId}: floor ${floor}, ${places} places`,
        );
        assert.equal(await stores.lines.end(gone.chatId, floor), 'finished');
      }

      // Still being delivered: kept with its chat until it ends. Within the period: untouched.
      assert.deepEqual(await countRecords(c, busy.chatId, busy.messageIds), busyBefore);
      assert.deepEqual(await countRecords(c, recent.chatId, recent.messageIds), recentBefore);
      assert.equal(result.counts.messages, 4);
      assert.equal(result.counts.chats, 2);
      assert.equal(result.counts.delivery_attempts, 4);
      assert.ok(result.runs >= 3, `continued as new: ${result.runs} runs`);
      assert.ok(Math.abs(Date.parse(result.cutoff) - (now - 30 * DAY_MS)) < 60 * 60_000, result.cutoff);
      // A day later (the floors backdated), the next run deletes the places up to each floor.
      await c.lineFloors.updateMany({}, { $set: { at: new Date(now - 2 * DAY_MS) } });
      const nextDay = await retentionWorker();
      const pruning = await nextDay.runUntil(
        env.client.workflow.execute<typeof retentionWorkflow>('retentionWorkflow', {
          workflowId: `retention-${now}-next-day`,
          taskQueue: 'retention-test',
          args: [{ retentionDays: 30, batchSize: 2, batchesPerRun: 2 }],
        }),
      );
      for (const gone of [old, abandoned]) {
        const left = await countRecords(c, gone.chatId, gone.messageIds);
        assert.ok(
          Object.values(left).every((count) => count === 0),
          `${gone.chatId}: ${JSON.stringify(left)}`,
        );
        // Its next message starts after the floor, and goes at once.
        const line = chatLineFor(stores, env.client);
        const next = await line.claim(gone.chatId, { messageId: 'msg_back', workflowId: `wf-back-${gone.chatId}` });
        assert.equal(next, (await stores.lines.floor(gone.chatId)) + 1);
        assert.deepEqual(await line.turn(gone.chatId, next, `wf-back-${gone.chatId}`), { granted: true });
      }
      assert.ok((pruning.counts.chat_lines ?? 0) >= 6, JSON.stringify(pruning.counts));
    });

    test('with RETENTION_DAYS 0 it deletes nothing', async () => {
      const kept = await seedChat(c, {
        pageId: 'p0',
        clientId: 'z',
        receivedAt: new Date(Date.now() - 400 * DAY_MS),
        messages: 1,
        tag: 'z',
      });
      const before = await countRecords(c, kept.chatId, kept.messageIds);
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: 'retention-test-0',
        workflowBundle,
        activities: createRetentionActivities({ stores, line: chatLineFor(stores, env.client) }),
        dataConverter: testDataConverter,
      });
      const result = await worker.runUntil(
        env.client.workflow.execute<typeof retentionWorkflow>('retentionWorkflow', {
          workflowId: `retention-off-${Date.now()}`,
          taskQueue: 'retention-test-0',
          args: [{ retentionDays: 0 }],
        }),
      );
      assert.deepEqual(result.counts, {});
      assert.deepEqual(await countRecords(c, kept.chatId, kept.messageIds), before);
    });
  });

  describe('the schedule (dev server)', () => {
    let server: Awaited<ReturnType<typeof startTemporalDevServer>>;
    let connection: Connection;
    let client: Client;
    before(async () => {
      server = await startTemporalDevServer();
      connection = await Connection.connect({ address: server.address });
      client = new Client({ connection, dataConverter: testDataConverter });
    });
    after(async () => {
      await connection?.close();
      await server?.stop();
    });

    const schedules = async (): Promise<string[]> => {
      const ids: string[] = [];
      for await (const schedule of client.schedule.list()) ids.push(schedule.scheduleId);
      return ids;
    };

    test('workers starting again and again leave one schedule, following RETENTION_DAYS, removed at 0', async () => {
      const options = { taskQueue: 'retention-schedule-test', retentionDays: 30 };
      assert.equal(await ensureRetentionSchedule(client, options), 'created');
      assert.equal(await ensureRetentionSchedule(client, options), 'updated');
      assert.equal(await ensureRetentionSchedule(client, { ...options, retentionDays: 7 }), 'updated');
      // The list is read from visibility, which may lag a write a little.
      await waitFor(async () => (await schedules()).join() === RETENTION_SCHEDULE_ID, { what: 'one schedule listed' });
      const description = await client.schedule.getHandle(RETENTION_SCHEDULE_ID).describe();
      assert.equal(description.action.type, 'startWorkflow');
      if (description.action.type === 'startWorkflow') {
        assert.equal(description.action.workflowType, 'retentionWorkflow');
        assert.deepEqual(description.action.args, [{ retentionDays: 7 }]);
        assert.equal(description.action.workflowId, RETENTION_WORKFLOW_ID);
      }
      assert.deepEqual(
        description.spec.calendars?.map((calendar) => [calendar.hour, calendar.minute]),
        [[[{ start: 3, end: 3, step: 1 }], [{ start: 17, end: 17, step: 1 }]]],
      );

      // Triggered now, it starts the job on the task queue, which a worker runs to the end.
      const native = await NativeConnection.connect({ address: server.address });
      try {
        const worker = await Worker.create({
          connection: native,
          taskQueue: options.taskQueue,
          workflowBundle,
          activities: createRetentionActivities({ stores, line: chatLineFor(stores, client) }),
          dataConverter: testDataConverter,
        });
        await worker.runUntil(async () => {
          await client.schedule.getHandle(RETENTION_SCHEDULE_ID).trigger();
          const started = await waitFor(
            async () =>
              (await client.schedule.getHandle(RETENTION_SCHEDULE_ID).describe()).info.recentActions[0]?.action.workflow
                .workflowId,
            { what: 'the triggered job to start' },
          );
          const result = await client.workflow.getHandle<typeof retentionWorkflow>(started).result();
          assert.ok(Date.parse(result.cutoff) < Date.now() - 6 * DAY_MS);
        });
      } finally {
        await native.close();
      }

      assert.equal(await ensureRetentionSchedule(client, { ...options, retentionDays: 0 }), 'deleted');
      assert.equal(await ensureRetentionSchedule(client, { ...options, retentionDays: 0 }), 'absent');
      await waitFor(async () => (await schedules()).length === 0, { what: 'no schedule listed' });
    });
  });
});
