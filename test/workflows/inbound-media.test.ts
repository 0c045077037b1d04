/**
 * What strangers' media URLs can make the relay do (issue 12, items 8 and 9), on the real stack of a
 * workflow test: image attachments the model server would fetch are judged by the address policy;
 * voice notes are sniffed, their transcripts bounded and their downloads limited per worker.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fakeVoiceNote } from '../helpers/fake-model.js';
import { REFUSED_IMAGE_NOTE } from '../../src/domain/prompt.js';
import { waitFor } from '../../src/lib/wait.js';
import { randomId } from '../../src/lib/secrets.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

const MAX_TEXT_LENGTH = 40;

/** A voice-note server that answers each GET after `delayMs` and counts how many it serves at once. */
async function startSlowVoiceServer(delayMs: number) {
  let inFlight = 0;
  let maxInFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const timer = setTimeout(() => {
      timers.delete(timer);
      inFlight -= 1;
      res.writeHead(200, { 'content-type': 'audio/ogg' });
      res.end(fakeVoiceNote(`note ${req.url?.slice(1) ?? ''}`));
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (name: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`,
    get maxInFlight() {
      return maxInFlight;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('inbound media: attachments and voice notes (time-skipping server)', () => {
  let h: WorkflowHarness;
  before(async () => {
    h = await startWorkflowHarness({
      settings: {
        // Strict for attachments except one named media host; voice notes from loopback stay allowed.
        attachmentPolicy: { allowPrivate: false, allowHosts: ['media.allowed.test'] },
        voiceDownloads: 1,
        maxTextLength: MAX_TEXT_LENGTH,
      },
    });
  });
  after(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  test('image attachments at inward addresses are never handed to the model to fetch; the message is still answered', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url, agent: { vision: true } });
    const refused = ['http://169.254.169.254/latest/meta-data/x.png', 'http://127.0.0.1:9/admin.jpg'];
    const allowed = 'http://media.allowed.test/pic.png';
    const input = envelopeFor(channel, { text: 'what is this?', attachments: [...refused, allowed] });
    const handle = await h.startMessage(input);
    assert.equal((await handle.result()).status, 'delivered');

    const messages = (h.fake.requestsTo('chat')[0]?.json as { messages: Array<{ content: unknown }> }).messages;
    const parts = messages.at(-1)?.content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
    assert.deepEqual(
      parts.filter((part) => part.type === 'image_url').map((part) => part.image_url?.url),
      [allowed],
    );
    assert.equal(
      parts[0]?.text,
      `what is this?\n\nAttachments:\n${refused.map((url) => `- ${url} ${REFUSED_IMAGE_NOTE}`).join('\n')}`,
    );
    // Nothing accepted is lost: the history keeps every attachment as sent.
    const history = (await h.stores.chats.get(input.chatId))?.recent ?? [];
    assert.deepEqual(history[0]?.attachments, [...refused, allowed]);
  });

  test('a voice note that is not audio never reaches the transcriber, and the message fails saying why', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const url = h.receiver.serve(`/note-${randomId(4)}.mp3`, 'audio/mpeg', Buffer.from('<html>not audio</html>'));
    const input = envelopeFor(channel, { audio: url });
    delete input.message.text;
    const handle = await h.startMessage(input);
    const result = await handle.result();
    assert.equal(h.fake.requestsTo('transcriptions').length, 0);
    assert.match(result.reason ?? '', /voice message is not audio/);
  });

  test('a transcript longer than MAX_TEXT_LENGTH is kept, and sent to the model, cut to it', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: { voice_prefix: '' },
    });
    const spoken = 'word '.repeat(50);
    const url = h.receiver.serve(`/long-${randomId(4)}.ogg`, 'audio/ogg', fakeVoiceNote(spoken));
    const input = envelopeFor(channel, { audio: url });
    delete input.message.text;
    const handle = await h.startMessage(input);
    assert.equal((await handle.result()).status, 'delivered');
    const message = await h.stores.messages.get(input.messageId);
    assert.equal(message && (await h.stores.messages.transcript(message)), spoken.slice(0, MAX_TEXT_LENGTH));
    const messages = (h.fake.requestsTo('chat')[0]?.json as { messages: Array<{ content: unknown }> }).messages;
    assert.equal(messages.at(-1)?.content, spoken.slice(0, MAX_TEXT_LENGTH).trim());
  });

  test('voice notes arriving together are downloaded one at a time (VOICE_MAX_CONCURRENT_DOWNLOADS=1), all transcribed', async () => {
    const server = await startSlowVoiceServer(300);
    try {
      const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
      const inputs = [1, 2, 3].map((n) => {
        const input = envelopeFor(channel, { audio: server.url(`v${n}-${randomId(4)}.ogg`) });
        delete input.message.text;
        return input;
      });
      const handles = await Promise.all(inputs.map((input) => h.startMessage(input)));
      // Polling MongoDB rather than awaiting results: awaiting lets the time-skipping server jump ahead
      // (past activity timeouts) while the activities wait their turn for a download in real time.
      await waitFor(
        async () => {
          const outcomes = await Promise.all(inputs.map(({ messageId }) => h.stores.messages.outcome(messageId)));
          return outcomes.every((outcome) => outcome !== null);
        },
        { what: 'three outcomes' },
      );
      // The outcome is written just before the workflow's last task completes: wait for that too
      // (describe, unlike result, lets no time skip while a task is still running).
      await waitFor(
        async () =>
          (await Promise.all(handles.map((handle) => handle.describe()))).every((d) => d.status.name !== 'RUNNING'),
        { what: 'three closed workflows' },
      );
      const results = await Promise.all(handles.map((handle) => handle.result()));
      assert.deepEqual(
        results.map((result) => result.status),
        ['delivered', 'delivered', 'delivered'],
      );
      assert.equal(h.fake.requestsTo('transcriptions').length, 3);
      assert.equal(server.maxInFlight, 1);
    } finally {
      await server.close();
    }
  });
});
