/**
 * Load shedding on the real stack: Temporal dev server, MongoDB-compatible server and the API,
 * with no worker at first, so that every accepted message stays in Temporal's task queue and the
 * backlog ages; then a worker is started and works it down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { messageIdFor } from '../../src/api/routes/webhook.js';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

const MAX_BACKLOG_MS = 1_500;
const RETRY_AFTER_SECONDS = 2;

describe('load shedding: the API refuses new messages while accepted work waits longer than OVERLOAD_MAX_BACKLOG_MS', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      env: {
        OVERLOAD_MAX_BACKLOG_MS: String(MAX_BACKLOG_MS),
        OVERLOAD_RETRY_AFTER_SECONDS: String(RETRY_AFTER_SECONDS),
      },
      worker: false,
    });
  });
  after(async () => {
    await s?.close();
  });

  /** Documents per collection: a message accepted claims its place in MongoDB by an insert. */
  const documentCounts = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (const { name } of await s.mongo.db.listCollections({}, { nameOnly: true }).toArray())
      counts[name] = await s.mongo.db.collection(name).countDocuments({});
    return counts;
  };
  const shedCount = async (): Promise<number> => (await s.api.metrics.messagesShed.get()).values[0]?.value ?? 0;

  test('accepted below the bound; 503 with Retry-After past it, nothing recorded or started; accepted again once a worker drains the backlog', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const message = (n: number) => ({
      client_id: `client-${n % 3}`,
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: `message ${n}`,
      message_id: `m-${n}`,
    });

    // 1. No backlog yet: accepted.
    const first = await postMessage(s.baseUrl, token, message(1));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const accepted = [String(first.body.message_id)];

    // 2. Nobody works the queue: its oldest task ages past the bound, and the gate closes. Until
    //    then every message is accepted (each is one more task waiting).
    let n = 1;
    let before: Record<string, number> = {};
    const refused = await waitFor(
      async () => {
        n += 1;
        before = await documentCounts();
        const response = await postMessage(s.baseUrl, token, message(n));
        if (response.status === 200) {
          accepted.push(String(response.body.message_id));
          return undefined;
        }
        return response;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the load gate to refuse a message' },
    );
    assert.ok(accepted.length >= 2, 'messages were accepted while the backlog was younger than the bound');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
    const error = refused.body.error as { code: string; message: string };
    assert.equal(error.code, 'overloaded');
    assert.match(error.message, /not accepted/);
    // Nothing recorded for the refused message: no place claimed in its chat, no workflow started.
    assert.deepEqual(await documentCounts(), before);
    const refusedId = messageWorkflowId(messageIdFor(channel.id, message(n).client_id, message(n).message_id));
    await assert.rejects(describeWorkflow(refusedId), WorkflowNotFoundError);
    assert.ok((await shedCount()) >= 1, 'chatrelay_messages_shed_total counts it');

    // 3. A worker works the backlog down: every accepted message answered, once.
    await s.startWorker();
    const delivered = await s.receiver.waitForDelivered(accepted.length, { path: reply.path, timeoutMs: 120_000 });
    assert.deepEqual(
      delivered.map((post) => String(post.headers['webhook-id'])).sort(),
      accepted.map((id) => `${id}.0`).sort(),
    );

    // 4. The backlog gone, the gate opens: the refused message, retried, is accepted as new, and answered once.
    const retried = await waitFor(
      async () => {
        const response = await postMessage(s.baseUrl, token, message(n));
        return response.status === 200 ? response : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the load gate to open again' },
    );
    assert.equal(retried.body.duplicate, false);
    const all = await s.receiver.waitForDelivered(accepted.length + 1, { path: reply.path, timeoutMs: 60_000 });
    const ids = all.map((post) => String(post.headers['webhook-id']));
    assert.equal(new Set(ids).size, ids.length, 'no reply delivered twice');
    assert.ok(ids.includes(`${String(retried.body.message_id)}.0`));
  });

  async function describeWorkflow(workflowId: string): Promise<unknown> {
    const connection = await Connection.connect({ address: s.config.TEMPORAL_ADDRESS });
    try {
      return await new Client({ connection, namespace: s.config.TEMPORAL_NAMESPACE }).workflow
        .getHandle(workflowId)
        .describe();
    } finally {
      await connection.close();
    }
  }
});
