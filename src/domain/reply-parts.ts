import { extractMedia } from './media.js';
import { splitMessage } from './split.js';

/** One outgoing webhook message. The receiving contract has room for a single `file` per message. */
export interface ReplyPart {
  text: string;
  images: string[];
  file?: string;
}

/**
 * Turns a model reply into the messages to post.
 *
 * The raw reply is split first, because splitting keeps URLs and markdown links whole; media are
 * then extracted from each part, so an image or file travels with the text that mentioned it.
 * Extraction only shortens text, so every part's text stays within `maxLength`.
 *
 * - A part may carry many images but at most one file; each further file of that part follows it as
 *   a part of its own with empty text and no images.
 * - A URL already delivered by an earlier part is not sent again: the user would see it twice.
 * - Parts left with no text and no media are dropped; an empty reply gives [].
 *
 * @throws RangeError when `maxLength` is not an integer of at least 1 (see splitMessage).
 */
export function buildReplyParts(reply: string, maxLength: number): ReplyPart[] {
  const parts: ReplyPart[] = [];
  const delivered = new Set<string>();
  const fresh = (url: string): boolean => {
    if (delivered.has(url)) return false;
    delivered.add(url);
    return true;
  };

  for (const chunk of splitMessage(reply, maxLength)) {
    const media = extractMedia(chunk);
    const images = media.images.filter(fresh);
    const [file, ...moreFiles] = media.files.filter(fresh);
    if (media.text !== '' || images.length > 0 || file !== undefined) {
      parts.push(file === undefined ? { text: media.text, images } : { text: media.text, images, file });
    }
    for (const extra of moreFiles) parts.push({ text: '', images: [], file: extra });
  }
  return parts;
}
