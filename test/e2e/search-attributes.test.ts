import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { createLogger } from '../../src/lib/logger.js';
import { waitFor } from '../../src/lib/wait.js';
import { startTemporalDevServer } from '../../src/stack/servers.js';
import { tool } from '../../src/stack/tools.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createPayloadCodec, temporalDataConverter } from '../../src/temporal/data-converter.js';
import { requireSearchAttributes, searchAttributeCreateCommand } from '../../src/temporal/search-attribute-registry.js';
import { createMessageStarter } from '../../src/api/message-starter.js';
import { chatLineFor } from '../../src/chat-line/index.js';
import { createStores } from '../../src/stores/index.js';
import { loadTemporalProfile } from '../../src/temporal/connection.js';
import { connectWithRetry } from '../../src/worker/worker.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);

describe('search attributes on the Temporal dev server', () => {
  let s: Stack;
  let client: Client;
  before(async () => {
    s = await startStack();
    client = new Client({
      connection: await Connection.connect({ address: s.temporal.address }),
      dataConverter: temporalDataConverter(createPayloadCodec(s.config)),
    });
  });
  after(async () => {
    await client?.connection.close();
    await s?.close();
  });

  /** Workflow ids a visibility query finds, once it finds `expected` many (visibility lags the history). */
  async function listed(query: string, expected: number): Promise<string[]> {
    return waitFor(
      async () => {
        const ids: string[] = [];
        for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
        return ids.length >= expected ? ids.sort() : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `${expected} executions for ${query}` },
    );
  }

  async function settled(messageId: string, status: string): Promise<void> {
    await waitFor(async () => (await s.stores.messages.outcome(messageId))?.status === status, {
      what: `message ${messageId} ${status}`,
    });
  }

  test("a chat's messages are found by ChatRelayChatId, the failed one by ChatRelayStatus", async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const post = async (clientId: string, text: string): Promise<string> => {
      const response = await postMessage(s.baseUrl, token, {
        client_id: clientId,
        page_id: channel.page_id,
        platform: 'CustomApp',
        text,
      });
      assert.equal(response.status, 200);
      return String(response.body.message_id);
    };
    const first = await post('alice', 'Hello');
    const second = await post('alice', 'Anyone there?');
    const other = await post('bob', 'Hi');
    for (const id of [first, second, other]) await settled(id, 'delivered');
    s.receiver.answerAlways({ status: 400 });
    const rejected = await post('carol', 'This reply is refused');
    await settled(rejected, 'failed');
    s.receiver.answerAlways(undefined);

    const alice = chatIdFor(channel.id, 'alice');
    assert.deepEqual(await listed(`ChatRelayChatId="${alice}"`, 2), [first, second].map(messageWorkflowId).sort());
    assert.deepEqual(
      await listed(`ChatRelayChatId="${alice}" AND ChatRelayStatus="delivered"`, 2),
      [first, second].map(messageWorkflowId).sort(),
    );
    assert.deepEqual(await listed(`ChatRelayChannelId="${channel.id}" AND ChatRelayStatus="failed"`, 1), [
      messageWorkflowId(rejected),
    ]);
    assert.equal((await listed(`ChatRelayChannelId="${channel.id}"`, 4)).length, 4);
  });
});

describe('a namespace without the search attributes', () => {
  const logger = createLogger({ level: 'silent', name: 'test' });

  test('the API answers 503 and logs the attribute; the worker check names each; the documented command creates them', async () => {
    const temporal = await startTemporalDevServer({ searchAttributes: false });
    let mongo: TestMongo | undefined;
    let connection: NativeConnection | undefined;
    try {
      mongo = await startTestMongo();
      // The worker's own way in: it waits while the server's frontend is not healthy yet.
      connection = await connectWithRetry(loadTemporalProfile({ TEMPORAL_ADDRESS: temporal.address }), logger, 60_000);
      const stores = createStores(mongo.db);
      await stores.ensureIndexes();
      const client = new Client({ connection });
      const lines: string[] = [];
      const apiLogger = createLogger({
        level: 'warn',
        name: 'api',
        destination: { write: (line) => lines.push(line) },
      });
      const starter = createMessageStarter(client, 'bare', chatLineFor(stores, client), { logger: apiLogger });
      const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/never' });
      const envelope = envelopeFor(channel);
      await assert.rejects(starter.start(envelope), (error: Error) => /Temporal is unavailable/.test(error.message));
      const logged = lines.find((line) => line.includes('workflow start failed'));
      assert.match(logged ?? lines.join('\n'), /search attribute ChatRelay(ChannelId|ChatId|Status)/);

      await assert.rejects(
        requireSearchAttributes(connection.operatorService, 'default', logger),
        (error: Error) =>
          ['ChatRelayChannelId', 'ChatRelayChatId', 'ChatRelayStatus'].every((name) =>
            error.message.includes(`${name} is not registered`),
          ) && error.message.includes(searchAttributeCreateCommand('default', 'ChatRelayStatus')),
      );
      for (const name of ['ChatRelayChannelId', 'ChatRelayChatId', 'ChatRelayStatus']) {
        const [, ...args] = searchAttributeCreateCommand('default', name).split(' ');
        await run(tool('temporal'), [...args, '--address', temporal.address]);
      }
      await requireSearchAttributes(connection.operatorService, 'default', logger);
    } finally {
      await connection?.close();
      await mongo?.close();
      await temporal.stop();
    }
  });
});
