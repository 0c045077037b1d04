/**
 * Earlier conversations, made directly in MongoDB before a measured phase (`npm run bench --
 * --preseed-chats N`): each one chat of its own with what one answered message leaves behind
 * (the chat with its window of recent history, its line's place and how it ended, the message, its reply,
 * its delivery attempts and its outcome), on the bench channel's page, received over the day
 * before. A deployment that has served N conversations holds at least this much.
 */
import { lineSlotId } from '../../src/domain/ids.js';
import { chatIdFor } from '../../src/stores/chats.js';
import type { ChatDoc, Collections, LineEndDoc } from '../../src/stores/collections.js';
import { messageRecords, recentWindow, recordWriter } from './preload.js';

export interface PreseedOptions {
  /** Conversations stored so far (numbering goes on from here). */
  from: number;
  to: number;
  channelId: string;
  pageId: string;
}

const BATCH = 1_000;
const DAY_MS = 86_400_000;

export async function preseedChats(c: Collections, options: PreseedOptions): Promise<void> {
  const writer = recordWriter(c);
  const chats: ChatDoc[] = [];
  const ends: LineEndDoc[] = [];
  const flush = async (): Promise<void> => {
    await Promise.all([
      writer.flush(),
      chats.length && c.chats.insertMany(chats.splice(0)),
      ends.length && c.lineEnds.insertMany(ends.splice(0)),
    ]);
  };
  const start = Date.now() - DAY_MS;
  const spacing = DAY_MS / Math.max(1, options.to);
  for (let n = options.from; n < options.to; n++) {
    const clientId = `earlier-${n}`;
    const chat = chatIdFor(options.channelId, clientId);
    const at = new Date(start + n * spacing);
    await writer.add(
      messageRecords(n, chat, 1, { idPrefix: 'msg_earlier', channelId: options.channelId, pageId: options.pageId }, at),
    );
    chats.push({
      _id: chat,
      channel_id: options.channelId,
      page_id: options.pageId,
      client_id: clientId,
      platform: 'x',
      first_seen_at: at,
      last_seen_at: at,
      history_seq: 2,
      recent: recentWindow('msg_earlier', n, 1),
    });
    ends.push({ _id: lineSlotId(chat, 1), chat_id: chat, seq: 1, kind: 'finished', at });
    if (chats.length >= BATCH) await flush();
  }
  await flush();
}
