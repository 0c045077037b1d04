/**
 * Issue 23, item 9, on the real stack (API, worker, Temporal dev server, FerretDB, fake model,
 * receiver): an end user's erasure takes a place in the chat's line like a message. The API
 * process that took the user's earlier messages remembers the chat's last place, so the next
 * message claims the place after it; it must go at once, its prompt holding nothing erased. A
 * message in flight when the erasure is asked is waited for and erased with the rest, never written
 * back; one held longer than the erasure's wait makes it answer 409 and erase nothing. Retention of
 * a quiet chat cuts its line under the same API process, whose next message must go at once too.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { chatHistoryResponseSchema } from '../../src/api/contracts/dashboard.js';
import { erasureResponseSchema } from '../../src/api/contracts/erasure.js';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { waitFor } from '../../src/lib/wait.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createPayloadCodec, temporalDataConverter } from '../../src/temporal/data-converter.js';
import { temporalHistoryErasure } from '../../src/temporal/history-erasure.js';
import { RETENTION_SCHEDULE_ID } from '../../src/temporal/retention-schedule.js';
import type { retentionWorkflow } from '../../src/workflows/retention.js';
import { channelReplyingTo } from '../helpers/fixtures.js';
import { postText, startStack, type Stack } from '../helpers/stack.js';

/** The erasure's wait on this stack: short, so a model held longer makes it give up within the test. */
const ERASURE_WAIT_MS = 8_000;
/** "Promptly": well under the 35 s a waiting message takes to look at the line by itself. */
const PROMPT_MS = 10_000;
const DAY_MS = 86_400_000;

describe('end to end: erasing an end user in the chat’s line (issue 23, item 9)', () => {
  let s: Stack;
  let connection: Connection;
  before(async () => {
    // Retention on (a day), so the worker keeps its schedule, which the last test triggers by hand.
    s = await startStack({ env: { ERASURE_WAIT_MS: String(ERASURE_WAIT_MS), RETENTION_DAYS: '1' } });
    connection = await Connection.connect({ address: s.config.TEMPORAL_ADDRESS });
  });
  after(async () => {
    await connection?.close();
    await s?.close();
  });
  beforeEach(() => {
    s.fake.reset();
  });

  const erase = async (pageId: string, clientId: string) => {
    const response = await fetch(`${s.baseUrl}/v1/erasures`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ page_id: pageId, client_id: clientId }),
    });
    return { status: response.status, body: await response.json() };
  };
  /** The chat's turns as the dashboard reads them; none once the chat is erased (404). */
  const history = async (channelId: string, chatId: string): Promise<Array<[string, string[]]>> => {
    const response = await fetch(`${s.baseUrl}/v1/channels/${channelId}/chats/${encodeURIComponent(chatId)}`, {
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}` },
    });
    if (response.status === 404) return [];
    assert.equal(response.status, 200);
    const body = chatHistoryResponseSchema.parse(await response.json());
    return body.turns.map((turn) => [turn.user.text ?? '', turn.assistant.map((part) => part.text)]);
  };
  /** What the model was shown of the conversation (the system prompt left out), per chat call from `from`. */
  const prompts = (from = 0) =>
    s.fake
      .requestsTo('chat')
      .slice(from)
      .map((request) =>
        (request.json as { messages: Array<{ role: string; content: string }> }).messages
          .filter((m) => m.role !== 'system')
          .map((m) => `${m.role}: ${m.content}`),
      );
  const replies = (path: string) => s.receiver.delivered(path).map((post) => post.fields.text);
  /** A new channel and one of its users, whose first message has been answered. */
  const userWithAnAnswer = async (clientId: string, firstText: string) => {
    const { channel, token, endpoint } = await channelReplyingTo(s.stores, s.receiver);
    const send = (text: string) => postText(s.baseUrl, { token, pageId: channel.page_id }, clientId, text);
    const first = await send(firstText);
    await s.receiver.waitForDelivered(1, { path: endpoint.path });
    return { channel, endpoint, send, first, chatId: chatIdFor(channel.id, clientId) };
  };
  const messagesOf = async (chatId: string) =>
    (await s.mongo.db.collection('messages').find({ chat_id: chatId }).toArray()).map((doc) => String(doc._id));

  test("after an erasure the user's next message, taken by the API process that remembers the chat's last place, is answered at once and its prompt holds nothing erased", async () => {
    const { channel, endpoint, send, chatId } = await userWithAnAnswer('erin', 'my card number is 4242');
    await send('and I live at 1 Main Street');
    await s.receiver.waitForDelivered(2, { path: endpoint.path });

    const erased = await erase(channel.page_id, 'erin');
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    const counts = erasureResponseSchema.parse(erased.body);
    assert.equal(counts.chat_id, chatId);
    assert.equal(counts.erased.messages, 2);
    assert.equal(counts.erased.chats, 1);
    assert.deepEqual(await history(channel.id, chatId), []);

    const sentAt = Date.now();
    const next = await send('hello again');
    const delivered = await s.receiver.waitForDelivered(3, { path: endpoint.path, timeoutMs: PROMPT_MS });
    assert.ok(Date.now() - sentAt < PROMPT_MS, `answered ${Date.now() - sentAt} ms after it was sent`);
    assert.equal(delivered[2]?.fields.text, 'Echo: hello again');
    assert.equal(delivered[2]?.headers['webhook-id'], `${next}.0`);
    assert.deepEqual(prompts().at(-1), ['user: hello again']);
    assert.deepEqual(await history(channel.id, chatId), [['hello again', ['Echo: hello again']]]);
    assert.deepEqual(await messagesOf(chatId), [next]);
  });

  test('a message in flight when the erasure is asked is waited for, then erased with the rest; nothing is written back, and the next message is answered', async () => {
    const { channel, endpoint, send, chatId, first } = await userWithAnAnswer('fay', 'first, answered');

    // The model takes a while with the second message: the erasure is asked while it is generated.
    s.fake.delayNext('chat', 1_000);
    const inFlight = await send('second, in flight');
    await s.fake.waitForRequests(2, 'chat');
    assert.equal(replies(endpoint.path).length, 1, 'the second reply has not gone out yet');
    // What the erasure asks Temporal before it deletes (a place ends a moment before its workflow
    // closes): the dev server's visibility lists the running message by the chat's id, not the
    // finished one.
    const histories = temporalHistoryErasure(
      new Client({
        connection,
        namespace: s.config.TEMPORAL_NAMESPACE,
        dataConverter: temporalDataConverter(createPayloadCodec(s.config)),
      }),
      s.config.TEMPORAL_TASK_QUEUE,
    );
    const ids = [messageWorkflowId(first), messageWorkflowId(inFlight)];
    assert.deepEqual(await histories.stillRunning(chatId, ids), [messageWorkflowId(inFlight)]);

    const erased = await erase(channel.page_id, 'fay');
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    // It answered only once the message accepted before it had its reply delivered and had ended.
    assert.deepEqual(replies(endpoint.path), ['Echo: first, answered', 'Echo: second, in flight']);
    assert.equal(erasureResponseSchema.parse(erased.body).erased.messages, 2);
    assert.equal(await s.stores.messages.get(inFlight), null);
    assert.equal(await s.stores.chats.get(chatId), null);
    assert.deepEqual(await messagesOf(chatId), []);

    const next = await send('third, after the erasure');
    await s.receiver.waitForDelivered(3, { path: endpoint.path, timeoutMs: PROMPT_MS });
    assert.equal(replies(endpoint.path)[2], 'Echo: third, after the erasure');
    // The message accepted before the erasure left nothing behind: the chat starts again from the next one.
    assert.deepEqual(prompts().at(-1), ['user: third, after the erasure']);
    assert.deepEqual(await history(channel.id, chatId), [
      ['third, after the erasure', ['Echo: third, after the erasure']],
    ]);
    assert.deepEqual(await messagesOf(chatId), [next]);
  });

  test('issue 24, item 7: after an erasure with a message in flight, no collection holds anything of the user, and Temporal has none of their workflows, not even by ChatRelayChatId', async () => {
    const client = new Client({
      connection,
      namespace: s.config.TEMPORAL_NAMESPACE,
      dataConverter: temporalDataConverter(createPayloadCodec(s.config)),
    });
    const clientId = 'hugo-24-7';
    const { channel, endpoint, send, chatId, first } = await userWithAnAnswer(clientId, 'my passport is X1234567');
    // Visibility knows the chat by its search attribute before the erasure (else "none after" proves nothing).
    await waitFor(
      async () => {
        for await (const run of client.workflow.list({ query: `ChatRelayChatId="${chatId}"` })) return run;
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the first message listed by ChatRelayChatId' },
    );
    s.fake.delayNext('chat', 1_000);
    const inFlight = await send('and my phone is 555-0199');
    await s.fake.waitForRequests(2, 'chat');
    const erased = await erase(channel.page_id, clientId);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.equal(erasureResponseSchema.parse(erased.body).erased.messages, 2);
    assert.deepEqual(replies(endpoint.path), ['Echo: my passport is X1234567', 'Echo: and my phone is 555-0199']);

    // Every collection, every document: nothing names the user or holds their words (the reply echoes them).
    const traces = [clientId, 'X1234567', '555-0199', first, inFlight];
    for (const { name } of await s.mongo.db.listCollections().toArray()) {
      for (const doc of await s.mongo.db.collection(name).find({}).toArray()) {
        const text = JSON.stringify(doc);
        for (const trace of traces) assert.ok(!text.includes(trace), `${name} holds ${trace}: ${text}`);
      }
    }

    // Temporal: the workflows' executions are deleted, their visibility records with them.
    const workflowIds = [first, inFlight].map((id) => `chatrelay-message-${id}`);
    await waitFor(
      async () => {
        // Anything still listed: look again.
        for await (const _listed of client.workflow.list({ query: `ChatRelayChatId="${chatId}"` })) return false;
        for (const workflowId of workflowIds) {
          try {
            await client.workflow.getHandle(workflowId).describe();
            return false;
          } catch (error) {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          }
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "the erased user's workflows deleted and unlisted" },
    );
  });

  test("a message held longer than the erasure's wait: 409, nothing erased, and the chat's messages are answered afterwards, in order", async () => {
    const { channel, endpoint, send, chatId, first } = await userWithAnAnswer('gus', 'one');

    s.fake.delayNext('chat', ERASURE_WAIT_MS + 4_000);
    const held = await send('two, held');
    await s.fake.waitForRequests(2, 'chat');

    const askedAt = Date.now();
    const refused = await erase(channel.page_id, 'gus');
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.ok(Date.now() - askedAt >= ERASURE_WAIT_MS - 100, 'it waited for the message before giving up');
    const error = (refused.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'conflict');
    assert.match(error.message, /still being answered.*nothing was erased/);
    assert.deepEqual(replies(endpoint.path), ['Echo: one'], 'the held reply had not gone out');

    // Nothing erased; a message sent after the refusal waits for the held one, then both are answered in order.
    const third = await send('three');
    await s.receiver.waitForDelivered(3, { path: endpoint.path, timeoutMs: 30_000 });
    assert.deepEqual(replies(endpoint.path), ['Echo: one', 'Echo: two, held', 'Echo: three']);
    assert.deepEqual(prompts().at(-1), [
      'user: one',
      'assistant: Echo: one',
      'user: two, held',
      'assistant: Echo: two, held',
      'user: three',
    ]);
    assert.deepEqual((await messagesOf(chatId)).sort(), [first, held, third].sort());
    assert.equal((await history(channel.id, chatId)).length, 3);
    for (const id of [first, held, third]) {
      const outcome = await waitFor(async () => (await s.stores.messages.outcome(id)) ?? undefined, {
        timeoutMs: 10_000,
      });
      assert.equal(outcome.status, 'delivered');
    }
  });
  test("retention of a quiet chat cuts its line under the API process that remembers it: the user's next message is answered at once, its prompt alone", async () => {
    const { endpoint, send, chatId, first } = await userWithAnAnswer('ivy', 'a message of two days ago');
    const second = await send('and its follow-up');
    await s.receiver.waitForDelivered(2, { path: endpoint.path });
    for (const id of [first, second])
      await waitFor(async () => (await s.stores.messages.outcome(id)) ?? undefined, { what: `${id} ended` });
    // Both messages have ended (nothing else writes them or the chat now): made two days old, as if
    // the chat had been quiet since, while this API process still remembers the chat's last place.
    const twoDaysAgo = new Date(Date.now() - 2 * DAY_MS);
    await s.mongo.db.collection('messages').updateMany({ chat_id: chatId }, { $set: { received_at: twoDaysAgo } });
    await s.mongo.db
      .collection<{ _id: string }>('chats')
      .updateOne({ _id: chatId }, { $set: { first_seen_at: twoDaysAgo, last_seen_at: twoDaysAgo } });

    const client = new Client({
      connection,
      namespace: s.config.TEMPORAL_NAMESPACE,
      dataConverter: temporalDataConverter(createPayloadCodec(s.config)),
    });
    const schedule = client.schedule.getHandle(RETENTION_SCHEDULE_ID);
    await schedule.trigger();
    const run = await waitFor(
      async () => (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId,
      {
        what: 'the retention job to start',
      },
    );
    await client.workflow.getHandle<typeof retentionWorkflow>(run).result();
    assert.equal(await s.stores.chats.get(chatId), null, 'retention deleted the quiet chat');
    assert.deepEqual(await messagesOf(chatId), []);

    const sentAt = Date.now();
    const next = await send('back after two days');
    const delivered = await s.receiver.waitForDelivered(3, { path: endpoint.path, timeoutMs: PROMPT_MS });
    assert.ok(Date.now() - sentAt < PROMPT_MS, `answered ${Date.now() - sentAt} ms after it was sent`);
    assert.equal(delivered[2]?.headers['webhook-id'], `${next}.0`);
    assert.deepEqual(prompts().at(-1), ['user: back after two days']);
    assert.deepEqual(await messagesOf(chatId), [next]);
  });
});
