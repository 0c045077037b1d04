import type { ChannelSnapshot } from '../../domain/models.js';
import { composeFallbackReply } from '../activity-proxies.js';
import type { MessageRun } from './run.js';
import { replyInputFor } from './write.js';

/** The agent's fallback reply, stored in place of the reply that could not be written (`failure` says why); its part count. */
export async function writeFallback(run: MessageRun, settings: ChannelSnapshot, failure: string): Promise<number> {
  run.progress.reason = failure;
  const { partCount } = await composeFallbackReply({ ...replyInputFor(run, settings), reason: failure });
  return partCount;
}
