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

// `(url)` or `(<url> "title")` after a markdown label; group 1 is the URL. The URL may hold one
// level of balanced parentheses, as Wikipedia-style URLs do. split.ts keeps the same shape whole.
const DESTINATION = String.raw`\(\s*<?(https?:\/\/[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)`;

// One pass, left to right, so URLs are recorded in the order they appear. Markdown forms come first
// in the alternation, so the URL inside one is never also picked up as a bare URL. Labels exclude
// brackets, which makes a linked image `[![alt](thumb)](target)` its own form rather than a link
// whose label runs into the image.
//   1, 2: linked image thumb and target   3: "!" or ""   4: label   5: destination   6: bare URL
const MEDIA_PATTERN = new RegExp(
  String.raw`\[!\[[^[\]\n]*\]${DESTINATION}\]${DESTINATION}|(!?)\[([^[\]\n]*)\]${DESTINATION}|(https?:\/\/[^\s<>]+)`,
  'gi',
);

/**
 * Splits a reply into text and media:
 * - `![alt](url)` is removed from the text; its URL is an image (or a file when the URL has a file
 *   extension, since a PDF cannot be shown as a picture).
 * - `[label](url)` to an image or a file is replaced by its label (dropped when the label is just
 *   the URL again); the URL goes to `images` or `files`.
 * - `[![alt](thumb)](target)`, a linked image: the thumb is an image; a media target is extracted
 *   too, while a page target is left as its plain URL, since the clickable image is gone.
 * - A bare http(s) URL to an image or a file is removed from the text. Trailing sentence
 *   punctuation and unbalanced closing brackets are not part of the URL and stay in the text.
 * - Any other link, markdown or bare, stays in the text unchanged.
 *
 * The text is then tidied where media were removed: no double spaces or space before punctuation at
 * a removal, a line that held only media goes, and so do empty `()` / `[]` / `<>` wrappers of a
 * removed URL; and everywhere: no trailing spaces at line ends, at most one blank line in a row,
 * trimmed. Spacing elsewhere (indentation, aligned columns) is preserved.
 */
export function extractMedia(text: string): ExtractedMedia {
  const images = new Set<string>();
  const files = new Set<string>();
  const hole = sentinelFor(text);
  /** Records a media URL and returns true, or returns false for a page. */
  const collect = (url: string): boolean => {
    const kind = isImageUrl(url) ? images : isFileUrl(url) ? files : undefined;
    kind?.add(url);
    return kind !== undefined;
  };
  const collectPicture = (url: string): void => {
    (isFileUrl(url) ? files : images).add(url);
  };

  let out = '';
  let copied = 0;
  for (const match of text.matchAll(MEDIA_PATTERN)) {
    const [whole, thumb, linkedTarget, bang, label, target, bare] = match;
    let replacement = whole;
    if (thumb !== undefined && linkedTarget !== undefined) {
      collectPicture(thumb);
      replacement = collect(linkedTarget) ? hole : linkedTarget;
    } else if (target !== undefined) {
      if (bang === '!') {
        collectPicture(target);
        replacement = hole;
      } else if (collect(target)) {
        const shown = (label ?? '').trim();
        replacement = shown === '' || shown === target ? hole : shown;
      }
    } else if (bare !== undefined) {
      const { url, trailing } = splitTrailingPunctuation(bare);
      if (collect(url)) replacement = hole + trailing;
    }
    out += text.slice(copied, match.index) + replacement;
    copied = match.index + whole.length;
  }
  out += text.slice(copied);

  return { text: tidy(out, hole), images: [...images], files: [...files] };
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
