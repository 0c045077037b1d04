/**
 * Pulls image and file URLs out of a model reply so they can be delivered as attachments, leaving
 * readable text behind.
 *
 * Pure: no I/O and no Node built-ins (the URL global is fine), because Temporal workflow code
 * imports it.
 */

export interface ExtractedMedia {
  /** The reply with media removed and the whitespace left behind tidied. */
  text: string;
  /** Image URLs, deduplicated, in first-seen order. */
  images: string[];
  /** File URLs (documents, archives, audio, video), deduplicated, in first-seen order. */
  files: string[];
}

const IMAGE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp', 'svg']);
// Plain .txt is deliberately absent: links to text files are usually meant to be read as pages.
const FILE_EXTENSIONS = new Set([
  'pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt', 'ods', 'csv',
  'zip', 'rar', '7z', 'tar', 'gz',
  'mp3', 'wav', 'ogg', 'm4a',
  'mp4', 'mov', 'webm', 'avi',
]);

/** True for an absolute http(s) URL whose path (query and fragment ignored) ends in an image extension. */
export function isImageUrl(url: string): boolean {
  return hasExtension(url, IMAGE_EXTENSIONS);
}

/** True for an absolute http(s) URL whose path (query and fragment ignored) ends in a file extension. */
export function isFileUrl(url: string): boolean {
  return hasExtension(url, FILE_EXTENSIONS);
}

function hasExtension(url: string, extensions: Set<string>): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  const lastSegment = parsed.pathname.slice(parsed.pathname.lastIndexOf('/') + 1);
  const dot = lastSegment.lastIndexOf('.');
  // A dot at index 0 is a hidden-file name like `/.png`, not an extension.
  return dot > 0 && extensions.has(lastSegment.slice(dot + 1).toLowerCase());
}

// One pass over the text with the markdown forms first in the alternation, so that the URL inside
// a markdown link is never also picked up as a bare URL.
//   1: "!" for an image   2: label / alt   3: markdown destination   4: bare URL
// Labels exclude brackets so that `[![alt](img)](page)` matches the inner image; destinations may
// hold one level of balanced parentheses (Wikipedia-style URLs) and an optional "title".
const MEDIA_PATTERN =
  /(!?)\[([^[\]\n]*)\]\(\s*<?(https?:\/\/[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)|(https?:\/\/[^\s<>]+)/gi;

/**
 * Splits a reply into text and media:
 * - `![alt](url)` is removed from the text; its URL is an image (or a file when the URL has a file
 *   extension, since a PDF cannot be shown as a picture).
 * - `[label](url)` to an image or a file is replaced by its label (dropped when the label is just
 *   the URL again); the URL goes to `images` or `files`.
 * - A bare http(s) URL to an image or a file is removed from the text. Trailing sentence
 *   punctuation and unbalanced closing brackets are not part of the URL and stay in the text.
 * - Any other link, markdown or bare, stays in the text unchanged.
 *
 * The text is then tidied where media were removed: no double spaces or space before punctuation at
 * a removal, empty `()` / `[]` / `<>` wrappers of a removed URL go too; and everywhere: no trailing
 * spaces at line ends, at most one blank line in a row, trimmed. Spacing elsewhere (indentation,
 * aligned columns) is preserved.
 */
export function extractMedia(text: string): ExtractedMedia {
  const images = new Set<string>();
  const files = new Set<string>();
  const hole = sentinelFor(text);

  const replaced = text.replace(
    MEDIA_PATTERN,
    (match: string, bang: string | undefined, label: string | undefined, target: string | undefined, bare: string | undefined) => {
      if (target !== undefined) {
        if (bang === '!') {
          (isFileUrl(target) ? files : images).add(target);
          return hole;
        }
        const kind = isImageUrl(target) ? images : isFileUrl(target) ? files : undefined;
        if (kind === undefined) return match;
        kind.add(target);
        const shown = (label ?? '').trim();
        return shown === '' || shown === target ? hole : shown;
      }
      if (bare === undefined) return match;
      const { url, trailing } = splitTrailingPunctuation(bare);
      const kind = isImageUrl(url) ? images : isFileUrl(url) ? files : undefined;
      if (kind === undefined) return match;
      kind.add(url);
      return hole + trailing;
    },
  );

  return { text: tidy(replaced, hole), images: [...images], files: [...files] };
}

/**
 * `https://x.test/a.png).` written in prose: the `).` belongs to the sentence, not the URL. A closing
 * bracket is kept in the URL when it balances an opening one inside it, as in Wikipedia links.
 */
function splitTrailingPunctuation(candidate: string): { url: string; trailing: string } {
  let url = candidate;
  for (;;) {
    const last = url.charAt(url.length - 1);
    if ('.,;:!?\'"*_~'.includes(last)) {
      url = url.slice(0, -1);
    } else if (last === ')' && count(url, '(') < count(url, ')')) {
      url = url.slice(0, -1);
    } else if (last === ']' && count(url, '[') < count(url, ']')) {
      url = url.slice(0, -1);
    } else {
      break;
    }
  }
  return { url, trailing: candidate.slice(url.length) };
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

/**
 * A character absent from the text marks where media were removed, so the tidy-up can tell the
 * whitespace a removal left behind from whitespace the author wrote. Deterministic: the first free
 * private-use code point.
 */
function sentinelFor(text: string): string {
  let code = 0xe000;
  while (text.includes(String.fromCharCode(code))) code += 1;
  return String.fromCharCode(code);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function tidy(text: string, hole: string): string {
  const h = escapeRegExp(hole);
  const result = text
    // "(url)" or "<url>" around a removed URL would be left as empty brackets.
    .replace(new RegExp(`[(\\[<][ \\t]*${h}[ \\t]*[)\\]>]`, 'g'), hole)
    // A line that held nothing but media goes entirely, rather than leaving a stray blank line.
    .replace(new RegExp(`(?:^|\\r?\\n)[ \\t]*${h}(?:[ \\t]*${h})*[ \\t]*(?=\\r?\\n|$)`, 'g'), '')
    .replace(new RegExp(`([ \\t]*)${h}(?:[ \\t]*${h})*([ \\t]*)`, 'g'), (match: string, before: string, _after: string, offset: number, whole: string) => {
      const previous = offset === 0 ? '\n' : whole.charAt(offset - 1);
      const next = offset + match.length >= whole.length ? '\n' : whole.charAt(offset + match.length);
      // Nothing after the removal on this line: drop the whitespace that led up to it.
      if (next === '\n' || next === '\r') return '';
      // Removal opened the line: keep the author's indentation, drop the gap after the removal.
      if (previous === '\n') return before;
      // "see the chart <removed>." reads as "see the chart."
      if (/[.,;:!?)\]]/.test(next)) return '';
      return ' ';
    })
    .replace(/[ \t]+(?=\r?\n|$)/g, '')
    .replace(/(?:\r?\n){3,}/g, (breaks: string) => (breaks.startsWith('\r') ? '\r\n\r\n' : '\n\n'));
  return result.trim();
}
