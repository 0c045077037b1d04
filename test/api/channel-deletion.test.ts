import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createChannelDeletion, type ChannelDeletion } from '../../src/api/channel-deletion.js';
import { createChatErasure } from '../../src/api/chat-erasure.js';
import type { HistoryErasure } from '../../src/temporal/history-erasure.js';
import { holdingChatTurn } from '../../src/chat-line/hold.js';
import { chatListResponseSchema, testMessageResponseSchema } from '../../src/api/contracts/dashboard.js';
import { waitFor } from '../../src/lib/wait.js';
import { collections, type Collections } from '../../src/stores/collections.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startHarnessAdminApp, type HarnessAdminApp } from '../helpers/harness-admin-app.js';
import { quietLogger, startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/**
 * Issue 24 item 1: a chat belongs to its channel. A channel deleted, and a new one made on the same
 * page id for another agent: the new one's model sees none of the old chats' history, its chat list
 * is empty, its chats are not paused; and what the deleted channel had is gone. The real admin,
 * dashboard and chat control routers on a listening server, over the time-skipping Temporal server
 * and a real worker (a chat's erasure holds its turn in the chat's line).
 */
describe('deleting a channel: its chats go with it, and a page id used again starts afresh', () => {
  let h: WorkflowHarness;
  let c: Collections;
  let app: HarnessAdminApp;
  let call: HarnessAdminApp['call'];
  let testMessage: HarnessAdminApp['testMessage'];
  let deletion: ChannelDeletion;

  /** The workflow ids each erasure handed to Temporal's deletion (recorded: the harness runs no deleting worker). */
  const historiesErased: string[] = [];
  const histories: HistoryErasure = {
    erase: (workflowIds) => {
      historiesErased.push(...workflowIds);
      return Promise.resolve();
    },
    stillRunning: () => Promise.resolve([]),
  };

  /** Sweeps once, when asked; marks a deletion swept at once (no other API process here to accept a late message). */
  const channelDeletion = () =>
    createChannelDeletion({
      stores: h.stores,
      chatErasure: createChatErasure({ stores: h.stores, line: h.line, histories, waitMs: 5_000 }),
      logger: quietLogger,
      retryDelaysMs: [],
      settleMs: 0,
    });

  before(async () => {
    h = await startWorkflowHarness();
    c = collections(h.mongo.db);
    deletion = channelDeletion();
    app = await startHarnessAdminApp(h, { channelDeletion: deletion });
    ({ call, testMessage } = app);
  });
  after(async () => {
    await deletion?.stop();
    await app?.close();
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  /**
   * Holds the chat `chatId` (as a message still being answered would) until released: its hold
   * takes place `place` of the chat's line.
   */
  async function holdChat(chatId: string, place: number) {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holding = holdingChatTurn(h.line, chatId, { kind: 'erasure', waitMs: 5_000, holdMs: 60_000 }, async () => {
      await gate;
      return { value: undefined };
    });
    await waitFor(async () => (await h.stores.lines.lastTaken(chatId)) === place, {
      what: 'the hold claimed its place',
    });
    return { release, holding };
  }

  /** Every document left of the chat `chatId` and its messages `messageIds`, by collection. */
  async function leftOf(chatId: string, messageIds: string[], channelId: string) {
    const byMessage = { message_id: { $in: messageIds } };
    const counts = {
      chats: await c.chats.countDocuments({ _id: chatId }),
      messages: await c.messages.countDocuments({ $or: [{ chat_id: chatId }, { channel_id: channelId }] }),
      chat_lines: await c.lines.countDocuments({ chat_id: chatId }),
      chat_line_ends: await c.lineEnds.countDocuments({ chat_id: chatId }),
      message_replies: await c.replies.countDocuments({ _id: { $in: messageIds } }),
      delivery_attempts: await c.attempts.countDocuments(byMessage),
      message_outcomes: await c.outcomes.countDocuments(byMessage),
    };
    return Object.fromEntries(Object.entries(counts).filter(([, count]) => count > 0));
  }

  test("a new channel on a deleted channel's page id has none of its chats, history or pauses; the old ones are deleted", async () => {
    const pageId = `reused-page-${Math.random().toString(36).slice(2, 8)}`;
    const old = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { page_id: pageId },
      agent: { system_prompt: 'You are the old shop.' },
    });
    const first = await testMessage(old.channel.id, 'alice', 'My card number is 4111 1111');
    assert.equal(first.outcome?.status, 'delivered');
    const second = await testMessage(old.channel.id, 'alice', 'Did you get it?');
    assert.equal(second.outcome?.status, 'delivered');
    // The old channel's model saw the first message in the second's prompt: that is the history.
    assert.match(JSON.stringify(h.fake.requestsTo('chat').at(-1)?.json), /4111 1111/);
    const paused = await call('POST', `/v1/channels/${old.channel.id}/chats/${first.chatId}/pause`);
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal((await h.stores.chats.get(first.chatId))?.handoff?.by, 'admin');
    const oldDocs = await c.messages.find({ channel_id: old.channel.id }).toArray();
    const oldMessages = oldDocs.map((doc) => doc._id);
    assert.equal(oldMessages.length, 2);
    assert.notDeepEqual(await leftOf(first.chatId, oldMessages, old.channel.id), {});

    assert.equal((await call('DELETE', `/v1/channels/${old.channel.id}`)).status, 204);
    const fresh = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { page_id: pageId },
      agent: { system_prompt: 'You are the new shop.' },
    });
    assert.notEqual(fresh.agent.id, old.agent.id);

    const listed = chatListResponseSchema.parse((await call('GET', `/v1/channels/${fresh.channel.id}/chats`)).body);
    assert.deepEqual(listed.data, [], 'the new channel lists none of the old chats');
    assert.equal((await call('GET', `/v1/channels/${fresh.channel.id}/chats/${first.chatId}`)).status, 404);
    assert.equal((await call('POST', `/v1/channels/${fresh.channel.id}/chats/${first.chatId}/resume`)).status, 404);

    h.fake.reset();
    const again = await testMessage(fresh.channel.id, 'alice', 'Hello, new shop');
    assert.notEqual(again.chatId, first.chatId);
    assert.equal(again.outcome?.status, 'delivered', 'the new channel is not held by the old handoff pause');
    const prompt = JSON.stringify(h.fake.requestsTo('chat').at(-1)?.json);
    assert.match(prompt, /You are the new shop\./);
    assert.match(prompt, /Hello, new shop/);
    assert.doesNotMatch(prompt, /4111 1111|Did you get it/, "the new channel's model sees none of the old history");
    const mine = chatListResponseSchema.parse((await call('GET', `/v1/channels/${fresh.channel.id}/chats`)).body);
    assert.deepEqual(
      mine.data.map((chat) => chat.id),
      [again.chatId],
    );

    // The deleted channel's chat, its line, messages and every record of them are swept away.
    await waitFor(async () => Object.keys(await leftOf(first.chatId, oldMessages, old.channel.id)).length === 0, {
      timeoutMs: 20_000,
      what: 'the deleted channel swept',
    }).catch(async (error: unknown) => {
      throw new Error(
        `${String(error)}; left: ${JSON.stringify(await leftOf(first.chatId, oldMessages, old.channel.id))}`,
      );
    });
    await waitFor(async () => (await h.stores.erasure.channelDeletion(old.channel.id))?.swept_at !== undefined, {
      what: 'the deletion marked swept',
    });
    // Their workflows in Temporal were handed to the deletion with them.
    for (const doc of oldDocs) assert.ok(historiesErased.includes(doc.workflow_id), doc.workflow_id);
    // The new channel's chat is untouched.
    assert.equal((await h.stores.chats.get(again.chatId))?.recent?.length, 2);
  });

  test('a chat whose message is being answered at the DELETE is swept once it has ended, and nothing is written back', async () => {
    const busy = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    h.fake.delayNext('chat', 1_500);
    const sent = await call('POST', `/v1/channels/${busy.channel.id}/test-message`, {
      client_id: 'carl',
      text: 'Answer me slowly',
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const accepted = testMessageResponseSchema.parse(sent.body);
    await h.fake.waitForRequests(1, 'chat');
    // The model is still answering: the chat's window and the reply are written after the DELETE.
    assert.equal((await call('DELETE', `/v1/channels/${busy.channel.id}`)).status, 204);
    await h.env.client.workflow.getHandle(accepted.workflow_id).result();
    await waitFor(async () => (await h.stores.erasure.channelDeletion(busy.channel.id))?.swept_at !== undefined, {
      what: 'the deletion swept',
    });
    assert.deepEqual(await leftOf(accepted.chat_id, [accepted.message_id], busy.channel.id), {});
  });

  test('a chat whose turn does not come within the wait is left for a later sweep; the others are swept at once', async () => {
    const owner = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const held = await testMessage(owner.channel.id, 'held-user', 'One');
    const other = await testMessage(owner.channel.id, 'free-user', 'Two');
    assert.equal((await testMessage(owner.channel.id, 'held-user', 'Three')).outcome?.status, 'delivered');
    const { release, holding } = await holdChat(held.chatId, 3);
    assert.equal(await h.stores.channels.delete(owner.channel.id), true);
    const sweeper = createChannelDeletion({
      stores: h.stores,
      chatErasure: createChatErasure({ stores: h.stores, line: h.line, histories, waitMs: 200 }),
      logger: quietLogger,
      batchSize: 1,
      settleMs: 0,
    });
    try {
      const first = await sweeper.sweep(owner.channel.id);
      assert.equal(first.busyChats, 1);
      // The free chat is gone (its messages counted by chat: the held chat's still carry the channel id).
      assert.deepEqual(await leftOf(other.chatId, [other.messageId], 'chn_of_no_one'), {});
      assert.equal((await h.stores.chats.get(held.chatId))?.client_id, 'held-user');
      assert.equal((await h.stores.erasure.channelDeletion(owner.channel.id))?.swept_at, undefined);
      release();
      assert.equal((await holding).held, true);
      const second = await sweeper.sweep(owner.channel.id);
      assert.equal(second.busyChats, 0);
      assert.deepEqual(await leftOf(held.chatId, [held.messageId], owner.channel.id), {});
      assert.notEqual((await h.stores.erasure.channelDeletion(owner.channel.id))?.swept_at, undefined);
    } finally {
      release();
      await sweeper.stop();
    }
  });

  test('a sweep goes on at its last retry delay until a chat held for long is free, without a restart', async () => {
    const owner = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const held = await testMessage(owner.channel.id, 'long-held-user', 'Hello');
    const { release, holding } = await holdChat(held.chatId, 2);
    assert.equal(await h.stores.channels.delete(owner.channel.id), true);
    const chatErasure = createChatErasure({ stores: h.stores, line: h.line, histories, waitMs: 100 });
    let triesOfHeldChat = 0;
    const sweeper = createChannelDeletion({
      stores: h.stores,
      chatErasure: {
        eraseChat: (chatId, options) => {
          if (chatId === held.chatId) triesOfHeldChat += 1;
          return chatErasure.eraseChat(chatId, options);
        },
      },
      logger: quietLogger,
      retryDelaysMs: [20, 20],
      settleMs: 0,
    });
    try {
      sweeper.start(owner.channel.id);
      // The first sweep and both retries found the chat busy; the sweep keeps trying.
      await waitFor(() => Promise.resolve(triesOfHeldChat >= 4), { what: 'sweeps past the last retry delay' });
      assert.equal((await h.stores.erasure.channelDeletion(owner.channel.id))?.swept_at, undefined);
      release();
      assert.equal((await holding).held, true);
      await waitFor(async () => (await h.stores.erasure.channelDeletion(owner.channel.id))?.swept_at !== undefined, {
        what: 'the deletion swept once the chat was free',
      });
      assert.deepEqual(await leftOf(held.chatId, [held.messageId], owner.channel.id), {});
    } finally {
      release();
      await sweeper.stop();
    }
  });

  test('a sweep stopped before it was done (the process died) is taken up by the next start', async () => {
    const gone = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const sent = await testMessage(gone.channel.id, 'bob', 'Remember me');
    assert.equal(sent.outcome?.status, 'delivered');
    // Deleted as the DELETE does, but its process died before sweeping: only the mark is left.
    assert.equal(await h.stores.channels.delete(gone.channel.id), true);
    assert.equal((await h.stores.erasure.channelDeletion(gone.channel.id))?.swept_at, undefined);
    assert.equal((await h.stores.chats.get(sent.chatId))?.channel_id, gone.channel.id);

    const next = channelDeletion();
    try {
      assert.ok((await next.resumePending()) >= 1);
      await waitFor(async () => (await h.stores.erasure.channelDeletion(gone.channel.id))?.swept_at !== undefined, {
        what: 'the resumed sweep done',
      });
      assert.deepEqual(await leftOf(sent.chatId, [sent.messageId], gone.channel.id), {});
    } finally {
      await next.stop();
    }
  });
});
