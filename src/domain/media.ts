/**
 * Pulls image and file URLs out of a model reply so they can be delivered as attachments, leaving
 * readable text behind.
 *
 * Pure (no I/O), like all of src/domain. Activities use it, through domain/reply-parts.ts and
 * domain/prompt.ts; no workflow does.
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
  'pdf',
  'doc',
  'docx',
  'xls',
  'xlsx',
  'ppt',
  'pptx',
  'odt',
  'ods',
  'csv',
  'zip',
  'rar',
  '7z',
  'tar',
  'gz',
  'mp3',
  'wav',
  'ogg',
  'm4a',
  'mp4',
  'mov',
  'webm',
  'avi',
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
// level of balanced parentheses, as Wikipedia-style URLs do. splitMessage (reply-parts.ts) keeps the same shape whole.
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
 * The bracket counts are taken once and updated as characters come off the end, so a URL followed
 * by thousands of `)` costs one pass, not one count per character.
 */
function splitTrailingPunctuation(candidate: string): { url: string; trailing: string } {
  const open = { ')': count(candidate, '('), ']': count(candidate, '[') };
  const close = { ')': count(candidate, ')'), ']': count(candidate, ']') };
  let end = candidate.length;
  for (; end > 0; end -= 1) {
    const last = candidate.charAt(end - 1);
    if (last === ')' || last === ']') {
      if (open[last] >= close[last]) break;
      close[last] -= 1;
    } else if (!'.,;:!?\'"*_~'.includes(last)) {
      break;
    }
  }
  return { url: candidate.slice(0, end), trailing: candidate.slice(end) };
}

function count(text: string, char: string): number {
  let found = 0;
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) found += 1;
  return found;
}

/**
 * A character absent from the text marks where media were removed, so the tidy-up can tell the
 * whitespace a removal left behind from whitespace the author wrote. Deterministic: the first free
 * private-use code point, found in one pass over the text (not one search per candidate).
 */
function sentinelFor(text: string): string {
  const used = new Set<number>();
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0xe000) used.add(code);
  }
  let code = 0xe000;
  while (used.has(code)) code += 1;
  return String.fromCharCode(code);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const isBlank = (char: string): boolean => char === ' ' || char === '\t';

/**
 * Tidies the text around removals (marked by `hole`) and everywhere else, in linear time: every
 * pattern that starts with a run of spaces or tabs is a loop here, not a regular expression,
 * because a regular expression retries such a run from each of its positions (100 000 spaces
 * before a letter: seconds).
 */
function tidy(text: string, hole: string): string {
  const h = escapeRegExp(hole);
  const result = closeRemovalGaps(
    text
      // "(url)" or "<url>" around a removed URL would be left as empty brackets.
      .replace(new RegExp(`[(\\[<][ \\t]*${h}[ \\t]*[)\\]>]`, 'g'), hole)
      // A line that held nothing but media goes entirely, rather than leaving a stray blank line.
      .replace(new RegExp(`(?:^|\\r?\\n)[ \\t]*${h}(?:[ \\t]*${h})*[ \\t]*(?=\\r?\\n|$)`, 'g'), ''),
    hole,
  );
  return withoutTrailingBlanks(result)
    .replace(/(?:\r?\n){3,}/g, (breaks: string) => (breaks.startsWith('\r') ? '\r\n\r\n' : '\n\n'))
    .trim();
}

/**
 * Replaces each run of removals (holes with only spaces and tabs between and around them) by what
 * reads well: nothing at a line end or before punctuation, the author's indentation at a line
 * start, one space between words.
 */
function closeRemovalGaps(text: string, hole: string): string {
  let out = '';
  let copied = 0;
  for (let at = text.indexOf(hole); at !== -1; at = text.indexOf(hole, copied)) {
    let start = at;
    while (start > copied && isBlank(text.charAt(start - 1))) start -= 1;
    let end = at + 1;
    for (;;) {
      let next = end;
      while (next < text.length && isBlank(text.charAt(next))) next += 1;
      end = next;
      if (text.charAt(next) !== hole) break;
      end = next + 1;
    }
    const previous = start === 0 ? '\n' : text.charAt(start - 1);
    const following = end >= text.length ? '\n' : text.charAt(end);
    let replacement: string;
    // Nothing after the removal on this line: drop the whitespace that led up to it.
    if (following === '\n' || following === '\r') replacement = '';
    // Removal opened the line: keep the author's indentation, drop the gap after the removal.
    else if (previous === '\n') replacement = text.slice(start, at);
    // "see the chart <removed>." reads as "see the chart."
    else if (/[.,;:!?)\]]/.test(following)) replacement = '';
    else replacement = ' ';
    out += text.slice(copied, start) + replacement;
    copied = end;
  }
  return out + text.slice(copied);
}

/** Drops spaces and tabs at the end of every line (before `\n` or `\r\n`) and of the text. */
function withoutTrailingBlanks(text: string): string {
  const lines = text.split('\n');
  return lines
    .map((line) => {
      const carriage = line.endsWith('\r') ? 1 : 0;
      let end = line.length - carriage;
      while (end > 0 && isBlank(line.charAt(end - 1))) end -= 1;
      return line.slice(0, end) + (carriage ? '\r' : '');
    })
    .join('\n');
}
