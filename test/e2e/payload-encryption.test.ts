/**
 * Encrypted payloads on the real stack: the API and the worker wired as their entry points wire
 * them, on a Temporal dev server. A history read without the keys holds none of a message's
 * private content; the codec endpoint (real HTTP) and the real `temporal` CLI through it read it
 * all again; a payload written under an old key is read by a worker after the key was rotated.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type DataConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { waitFor } from '../../src/lib/wait.js';
import { tool } from '../../src/stack/tools.js';
import { temporalDataConverter } from '../../src/temporal/data-converter.js';
import { createEncryptionCodec, PayloadKeyError } from '../../src/temporal/payload-codec.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { bundle } from '../helpers/temporal.js';
import type { CodecProbeActivities } from '../fixtures/workflows/codec-workflows.js';

const run = promisify(execFile);
const CODEC_TOKEN = 'codec-token-for-the-encryption-test';
const keyOld = { id: 'k2024', key: randomBytes(32) };
const keyNew = { id: 'k2025', key: randomBytes(32) };
const keysEnv = `${keyNew.id}:${keyNew.key.toString('base64')},${keyOld.id}:${keyOld.key.toString('base64')}`;

type Json = Record<string, unknown>;
interface WirePayload {
  metadata: Record<string, string>;
  data?: string;
}
interface FoundPayload {
  path: string;
  payload: WirePayload;
}

const fromB64 = (value: string | undefined): string => Buffer.from(value ?? '', 'base64').toString('utf8');

/**
 * Every payload of a history in its JSON form, with where it is. Left out, as the SDK never runs
 * codecs on them and they carry only ids and types: headers, search attributes, and the SDK's own
 * marker bookkeeping (a local activity's seq, type and times; a patch id). A local activity's
 * `result` in its marker is the application's data and is included.
 */
function payloadsOf(value: unknown, path = ''): FoundPayload[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => payloadsOf(item, `${path}[${index}]`));
  if (value === null || typeof value !== 'object') return [];
  const object = value as Json;
  const metadata = object.metadata as Record<string, string> | undefined;
  if (metadata && typeof metadata === 'object' && typeof metadata.encoding === 'string') {
    return [{ path, payload: object as unknown as WirePayload }];
  }
  const sdkOwned = (key: string): boolean =>
    key === 'header' ||
    key === 'searchAttributes' ||
    (path.endsWith('.markerRecordedEventAttributes.details') && key !== 'result');
  return Object.entries(object).flatMap(([key, inner]) => (sdkOwned(key) ? [] : payloadsOf(inner, `${path}.${key}`)));
}

/** The probe workflow's activities: a result to encrypt, and a failure whose message holds a URL. */
const activities: CodecProbeActivities = {
  async shout(text) {
    return text.toUpperCase();
  },
  async refuse(url) {
    throw ApplicationFailure.nonRetryable(`could not fetch ${url}`, 'Refused');
  },
};

/** A worker of the probe workflow on `taskQueue`, with `dataConverter`. */
function probeWorker(
  connection: NativeConnection,
  taskQueue: string,
  workflowBundle: WorkflowBundle,
  dataConverter: DataConverter,
): Promise<Worker> {
  return Worker.create({ connection, taskQueue, workflowBundle, activities, dataConverter });
}

describe('encrypted payloads on the real stack (API, worker, Temporal dev server)', () => {
  let s: Stack;
  let connection: Connection;
  /** A client WITHOUT the codec: what anyone with access to the cluster (or its database) sees. */
  let plainClient: Client;

  before(async () => {
    s = await startStack({ env: { CODEC_TOKEN, PAYLOAD_ENCRYPTION_KEYS: keysEnv } });
    connection = await Connection.connect({ address: s.temporal.address });
    plainClient = new Client({ connection, namespace: s.config.TEMPORAL_NAMESPACE });
  });
  after(async () => {
    await connection?.close();
    await s?.close();
  });

  /** The history as stored: its protobuf bytes, and its JSON form (payloads in base64). */
  async function rawHistory(workflowId: string): Promise<{ bytes: Buffer; json: Json }> {
    const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    return {
      bytes: Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish()),
      json: JSON.parse(historyToJSON(history)) as Json,
    };
  }

  async function decodeThroughEndpoint(payloads: WirePayload[]): Promise<WirePayload[]> {
    const response = await fetch(`${s.baseUrl}/codec/decode`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${CODEC_TOKEN}`,
        'x-namespace': s.config.TEMPORAL_NAMESPACE,
      },
      body: JSON.stringify({ payloads }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { payloads: WirePayload[] }).payloads;
  }

  test('a message: the raw histories hold none of its text, name or URLs; the codec endpoint and the CLI read them', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const secrets = {
      text: 'My locker code is tangerine-4471',
      name: 'Zelda Quartermain',
      avatar: 'https://avatars.chatrelay-test.invalid/zelda.png',
      attachment: 'https://files.chatrelay-test.invalid/passport-scan.pdf',
    };
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'encrypted-user',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: secrets.text,
      client_name: secrets.name,
      client_avatar: secrets.avatar,
      attachments: [secrets.attachment],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [delivered] = await s.receiver.waitForDelivered(1, { path: reply.path });
    assert.ok(delivered?.fields.text?.startsWith(`Echo: ${secrets.text}`), 'the worker read the encrypted envelope');

    // Every workflow the message touched, once finished, as the cluster stores them.
    const messageWorkflowId = String(response.body.workflow_id);
    // Read raw: a client without the codec cannot decode the workflow's (encrypted) memo.
    await waitFor(
      async () => {
        const described = await plainClient.workflowService.describeWorkflowExecution({
          namespace: plainClient.options.namespace,
          execution: { workflowId: messageWorkflowId },
        });
        return (
          described.workflowExecutionInfo?.status ===
          proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
        );
      },
      { what: 'the message workflow to finish' },
    );
    // The message's one workflow (its chat's order lives in MongoDB, not in a workflow of its own).
    const workflowIds = [messageWorkflowId];
    let encrypted = 0;
    const allPayloads: WirePayload[] = [];
    for (const workflowId of workflowIds) {
      const { bytes, json } = await rawHistory(workflowId);
      for (const [what, secret] of Object.entries(secrets)) {
        assert.ok(!bytes.includes(secret), `the ${what} is in the clear in the history of ${workflowId}`);
      }
      for (const { path, payload } of payloadsOf(json)) {
        assert.equal(
          fromB64(payload.metadata.encoding),
          'binary/encrypted',
          `${workflowId} ${path} is not encrypted: ${fromB64(payload.data)}`,
        );
        assert.equal(
          fromB64(payload.metadata['encryption-key-id']),
          keyNew.id,
          `${workflowId} ${path} is under the newest key`,
        );
        allPayloads.push(payload);
        encrypted += 1;
      }
    }
    assert.ok(
      encrypted >= 4,
      `expected the envelope, the step's input and result and the workflow's result; found ${encrypted} payloads`,
    );

    // The codec endpoint, over real HTTP, gives every one of them back.
    const decoded = (await decodeThroughEndpoint(allPayloads)).map((payload) => fromB64(payload.data)).join('\n');
    for (const [what, secret] of Object.entries(secrets))
      assert.ok(decoded.includes(secret), `the ${what} is readable through /codec/decode`);

    // The real Temporal CLI: without the codec it shows ciphertext; through the endpoint, the message.
    // (Its JSON output keeps payload data in base64, decoded or not.)
    const show = async (...extra: string[]): Promise<string> => {
      const { stdout } = await run(
        tool('temporal'),
        [
          'workflow',
          'show',
          '--workflow-id',
          messageWorkflowId,
          '--address',
          s.temporal.address,
          '--output',
          'json',
          ...extra,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
      return payloadsOf(JSON.parse(stdout))
        .map(({ payload }) => fromB64(payload.data))
        .join('\n');
    };
    const withoutCodec = await show();
    for (const secret of Object.values(secrets))
      assert.ok(!withoutCodec.includes(secret), `temporal workflow show without the codec shows ${secret}`);
    const withCodec = await show('--codec-endpoint', `${s.baseUrl}/codec`, '--codec-auth', `Bearer ${CODEC_TOKEN}`);
    for (const secret of Object.values(secrets))
      assert.ok(withCodec.includes(secret), `temporal workflow show --codec-endpoint shows ${secret}`);
  });

  test('rotation: a workflow whose input was written under the old key runs on a worker whose newest key is another', async () => {
    const taskQueue = 'codec-probe';
    const workflowBundle = await bundle(
      fileURLToPath(new URL('../fixtures/workflows/codec-workflows.ts', import.meta.url)),
    );
    const input = { text: 'Quartz whisper seven', url: 'https://private.chatrelay-test.invalid/plan.pdf' };
    const note = 'Signal from the operator';

    // Before the rotation: only the old key.
    const oldClient = new Client({
      connection,
      dataConverter: temporalDataConverter(createEncryptionCodec({ keys: [keyOld], encrypt: true })),
    });
    const handle = await oldClient.workflow.start('codecProbeWorkflow', {
      taskQueue,
      workflowId: `codec-probe-${randomBytes(4).toString('hex')}`,
      args: [input],
    });

    // After it: the new key first, the old one still readable, on the worker and the client.
    const rotated = temporalDataConverter(createEncryptionCodec({ keys: [keyNew, keyOld], encrypt: true }));
    const newClient = new Client({ connection, dataConverter: rotated });
    const workerConnection = await NativeConnection.connect({ address: s.temporal.address });
    try {
      const worker = await probeWorker(workerConnection, taskQueue, workflowBundle, rotated);
      const result = await worker.runUntil(async (): Promise<string> => {
        await newClient.workflow.getHandle(handle.workflowId).signal('note', note);
        return (await newClient.workflow.getHandle(handle.workflowId).result()) as string;
      });
      assert.equal(result, `QUARTZ WHISPER SEVEN | could not fetch ${input.url} | ${note}`);
    } finally {
      await workerConnection.close();
    }

    const { bytes, json } = await rawHistory(handle.workflowId);
    for (const secret of [input.text, 'QUARTZ WHISPER', 'private.chatrelay-test.invalid', note]) {
      assert.ok(!bytes.includes(secret), `"${secret}" is in the clear in the history`);
    }
    const found = payloadsOf(json);
    const keyIds = found.map(({ path, payload }): [string, string] => [
      path.replace(/^\.events\[\d+\]/, ''),
      fromB64(payload.metadata['encryption-key-id']),
    ]);
    const startInput = keyIds.filter(([path]) => path.startsWith('.workflowExecutionStartedEventAttributes.input'));
    assert.deepEqual(
      startInput.map(([, id]) => id),
      [keyOld.id],
      'the input was written under the old key',
    );
    const later = keyIds.filter(([path]) => !path.startsWith('.workflowExecutionStartedEventAttributes.input'));
    assert.ok(later.length >= 4, JSON.stringify(keyIds));
    assert.ok(
      later.every(([, id]) => id === keyNew.id),
      `everything after the rotation is under the new key: ${JSON.stringify(keyIds)}`,
    );
    // The activity's failure message went into an encrypted payload, not into the history's text.
    assert.ok(
      keyIds.some(([path]) => /activityTaskFailedEventAttributes\.failure.*encodedAttributes/.test(path)),
      JSON.stringify(keyIds),
    );

    // The old key is what made the input readable: without it, the codec names the key it lacks.
    const startPayload = found.find(({ path }) =>
      path.includes('workflowExecutionStartedEventAttributes.input'),
    )!.payload;
    const asWire = {
      metadata: Object.fromEntries(
        Object.entries(startPayload.metadata).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
      ),
      data: Buffer.from(startPayload.data ?? '', 'base64'),
    };
    await assert.rejects(
      createEncryptionCodec({ keys: [keyNew], encrypt: true }).decode([asWire]),
      (error: unknown) => error instanceof PayloadKeyError && error.message.includes(keyOld.id),
    );
    // The API, configured with both keys, decodes it through its endpoint.
    const [viaEndpoint] = await decodeThroughEndpoint([startPayload]);
    assert.deepEqual(
      defaultPayloadConverter.fromPayload({
        metadata: { encoding: Buffer.from(viaEndpoint!.metadata.encoding ?? '', 'base64') },
        data: Buffer.from(viaEndpoint!.data ?? '', 'base64'),
      }),
      input,
    );
  });

  test('unencrypted input is refused by a worker and read by one migrating; what the worker writes is bound to its workflow', async () => {
    const taskQueue = 'codec-plaintext';
    const workflowBundle = await bundle(
      fileURLToPath(new URL('../fixtures/workflows/codec-workflows.ts', import.meta.url)),
    );
    const input = { text: 'written in the clear', url: 'https://plain.chatrelay-test.invalid/x.pdf' };
    // Anyone who can reach the cluster without the keys: the input goes in unencrypted.
    const handle = await plainClient.workflow.start('codecProbeWorkflow', {
      taskQueue,
      workflowId: `codec-plain-${randomBytes(4).toString('hex')}`,
      args: [input],
    });
    const strictCodec = createEncryptionCodec({ keys: [keyNew], encrypt: true });
    const codecWith = (acceptPlaintext: boolean) =>
      temporalDataConverter(
        acceptPlaintext ? createEncryptionCodec({ keys: [keyNew], encrypt: true, acceptPlaintext }) : strictCodec,
      );
    const workerConnection = await NativeConnection.connect({ address: s.temporal.address });
    try {
      const strict = await probeWorker(workerConnection, taskQueue, workflowBundle, codecWith(false));
      const refusal = await strict.runUntil(() =>
        waitFor(
          async () => {
            const events = (await handle.fetchHistory()).events ?? [];
            const failed = events.find((event) => event.workflowTaskFailedEventAttributes);
            // The failure's message is in its encrypted attributes (the failure converter).
            const attributes = failed?.workflowTaskFailedEventAttributes?.failure?.encodedAttributes;
            if (!attributes) return undefined;
            const [decoded] = await strictCodec.decode([attributes]);
            return decoded ? defaultPayloadConverter.fromPayload<{ message: string }>(decoded).message : undefined;
          },
          { what: 'the strict worker to fail the workflow task' },
        ),
      );
      assert.match(refusal, /payload is not encrypted/);

      const migrating = await probeWorker(workerConnection, taskQueue, workflowBundle, codecWith(true));
      const client = new Client({ connection, dataConverter: codecWith(false) });
      const result = await migrating.runUntil(async (): Promise<string> => {
        await client.workflow.getHandle(handle.workflowId).signal('note', 'sealed note');
        return (await client.workflow.getHandle(handle.workflowId).result()) as string;
      });
      assert.equal(result, `WRITTEN IN THE CLEAR | could not fetch ${input.url} | sealed note`);
    } finally {
      await workerConnection.close();
    }

    const encrypted = payloadsOf((await rawHistory(handle.workflowId)).json).filter(
      ({ payload }) => fromB64(payload.metadata.encoding) === 'binary/encrypted',
    );
    assert.ok(encrypted.length >= 4, JSON.stringify(encrypted.map(({ path }) => path)));
    // Inputs, results and signals name their workflow; a failure's attributes are encoded with no context.
    const unbound = encrypted.filter(({ payload }) => payload.metadata['encryption-workflow-id'] === undefined);
    assert.ok(
      unbound.every(({ path }) => path.includes('failure.encodedAttributes')),
      `unbound: ${unbound.map(({ path }) => path).join(', ')}`,
    );
    const bound = encrypted.filter(({ payload }) => payload.metadata['encryption-workflow-id'] !== undefined);
    assert.ok(bound.length >= 4, `bound: ${bound.map(({ path }) => path).join(', ')}`);
    for (const { path, payload } of bound)
      assert.equal(
        fromB64(payload.metadata['encryption-workflow-id']),
        handle.workflowId,
        `${path} names its workflow`,
      );
  });
});
