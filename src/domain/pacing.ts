import type { ChannelSnapshot } from './models.js';

/**
 * Paced parts: a pause before each part of a reply after the first, as long as typing it would
 * take (its length times the channel's milliseconds per character), never longer than the cap.
 * Pure: the workflow computes the pauses from the parts' lengths and waits them on durable timers.
 */
export function typingPausesMs(typing: ChannelSnapshot['typing'], partLengths: readonly number[]): number[] {
  if (typing === undefined) return [];
  return partLengths.map((length, index) =>
    index === 0 ? 0 : Math.min(length * typing.msPerChar, typing.maxSeconds * 1000),
  );
}

/** Whether a reply of `partCount` parts is paced: only the parts after the first wait. */
export const pacesParts = (snapshot: Pick<ChannelSnapshot, 'typing'>, partCount: number): boolean =>
  snapshot.typing !== undefined && partCount > 1;
