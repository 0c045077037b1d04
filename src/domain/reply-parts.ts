import { extractMedia } from './media.js';

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

/**
 * Splits a long reply into parts that fit a chat platform's message-length limit.
 *
 * Pure (no I/O, no clock, no randomness), like all of src/domain: the same reply always splits into
 * the same parts, so a retried activity stores the parts an earlier attempt would have. Activities
 * use it, through buildReplyParts above; no workflow does.
 *
 * How a part ends. Each part is the longest stretch from the current position, up to
 * `maxLength` UTF-16 code units, that ends at the best kind of boundary found within that limit:
 *
 *   1. a paragraph break (a whitespace run holding two or more line breaks, i.e. a blank line);
 *   2. a line break;
 *   3. a sentence end (whitespace after `.`, `!`, `?` or `…`, optionally followed by closing
 *      quotes or brackets);
 *   4. any whitespace between words;
 *   5. a forced cut inside a word, only when the text from the part start to the next usable
 *      whitespace is longer than the limit. A forced cut never splits a surrogate pair.
 *
 * Only the last boundary of the best kind is used, so each part is packed as full as that kind of
 * boundary allows ("greedy"), and a higher kind is preferred even when it leaves the part shorter:
 * a short first paragraph becomes its own part rather than being glued to half of the next one.
 *
 * Units never cut while they fit in one part: URLs (`http://` or `https://` up to the next
 * whitespace) and markdown links/images whose destination is such a URL (`[label](url)`,
 * `![alt](url)`), so that a later media-extraction step still sees them whole. A unit longer than
 * the limit is cut like a long word. A forced cut that would land inside a fitting unit is moved
 * back to the unit's start, so the unit opens the next part.
 *
 * Join invariant (what "the parts give back the content" means): every part is a verbatim,
 * non-empty substring of the input with no leading or trailing whitespace, and
 *
 *     input.trim() === parts[0] + gap[0] + parts[1] + gap[1] + ... + parts[n - 1]
 *
 * where every gap consists only of whitespace. A gap is the whitespace run dropped at a cut; it is
 * empty exactly at forced cuts (inside an over-long word or URL). Nothing else is dropped, added,
 * reordered or rewritten.
 *
 * Length: every part has at most `maxLength` code units, with one unavoidable exception: when
 * `maxLength` is 1, a character outside the BMP (a surrogate pair, e.g. most emoji) is a part of
 * length 2, because cutting it in half would produce invalid text.
 *
 * @throws RangeError when `maxLength` is not an integer of at least 1.
 */
export function splitMessage(text: string, maxLength: number): string[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`maxLength must be an integer of at least 1, got ${String(maxLength)}`);
  }
  const end = trimmedEnd(text);
  let start = skipWhitespace(text, 0);
  const parts: string[] = [];
  if (start >= end) return parts;

  const units = unbreakableUnits(text, maxLength);
  const boundaries = findBoundaries(text, maskInsides(text.length, units));
  let next = 0; // first boundary not yet behind us; both only move forward, so the scan is linear

  while (start < end) {
    if (end - start <= maxLength) {
      parts.push(text.slice(start, end));
      break;
    }
    while (next < boundaries.length && (boundaries[next]?.partEnd ?? 0) < start) next += 1;
    const cut = bestCut(boundaries, next, start, maxLength) ?? forcedCut(text, start, maxLength, units);
    parts.push(text.slice(start, cut.partEnd));
    start = cut.nextStart;
  }
  return parts;
}

interface Cut {
  /** Exclusive end of the part being emitted. */
  partEnd: number;
  /** Where the next part starts (after the dropped whitespace, if any). */
  nextStart: number;
}

interface Span {
  start: number;
  end: number;
}

// Boundary kinds, higher is preferred.
const WORD = 0;
const SENTENCE = 1;
const LINE = 2;
const PARAGRAPH = 3;

interface Boundary extends Cut {
  kind: number;
}

/** Every whitespace run between words that may serve as a cut, in order. */
function findBoundaries(text: string, insideUnit: Uint8Array): Boundary[] {
  const boundaries: Boundary[] = [];
  for (const match of text.matchAll(/\s+/g)) {
    const runStart = match.index;
    const runEnd = runStart + match[0].length;
    // Leading and trailing whitespace are trimmed, not cut at; unit insides are off limits.
    if (runStart === 0 || runEnd === text.length || insideUnit[runStart] === 1) continue;
    boundaries.push({ partEnd: runStart, nextStart: runEnd, kind: boundaryKind(text, runStart, match[0]) });
  }
  return boundaries;
}

/** The last boundary of the best kind that keeps the part starting at `start` within the limit. */
function bestCut(boundaries: Boundary[], from: number, start: number, maxLength: number): Cut | undefined {
  const best: (Cut | undefined)[] = [undefined, undefined, undefined, undefined];
  for (let i = from; i < boundaries.length; i += 1) {
    const boundary = boundaries[i];
    if (boundary === undefined || boundary.partEnd - start > maxLength) break;
    // A boundary at `start` itself would give an empty part (only possible after a forced cut).
    if (boundary.partEnd > start) best[boundary.kind] = boundary;
  }
  return best[PARAGRAPH] ?? best[LINE] ?? best[SENTENCE] ?? best[WORD];
}

function boundaryKind(text: string, runStart: number, run: string): number {
  const lineBreaks = run.split('\n').length - 1;
  if (lineBreaks >= 2) return PARAGRAPH;
  if (lineBreaks === 1) return LINE;
  return endsSentence(text, runStart) ? SENTENCE : WORD;
}

const SENTENCE_END = new Set(['.', '!', '?', '…']);
const CLOSERS = new Set([')', ']', '}', '"', "'", '”', '’', '»']);

/** True when the text just before `index` ends a sentence, e.g. `done.` or `(really?)`. */
function endsSentence(text: string, index: number): boolean {
  let i = index - 1;
  while (i >= 0 && CLOSERS.has(text.charAt(i))) i -= 1;
  return i >= 0 && SENTENCE_END.has(text.charAt(i));
}

/**
 * A cut inside the over-long word at `start`: as much as fits, but never between the halves of a
 * surrogate pair and never inside a URL or markdown link that would fit in a part of its own.
 */
function forcedCut(text: string, start: number, maxLength: number, units: Units): Cut {
  let at = start + maxLength;
  if (isHighSurrogate(text.charCodeAt(at - 1)) && isLowSurrogate(text.charCodeAt(at))) at -= 1;
  // maxLength 1 and an astral character: the pair cannot be halved, so it exceeds the limit.
  if (at === start) at = start + 2;
  // Back off to the start of the fitting unit the cut falls in; URLs first, as they win overlaps.
  for (;;) {
    const unit = enclosing(units.urls, at, start) ?? enclosing(units.links, at, start);
    if (unit === undefined) break;
    at = unit.start;
  }
  // Only the surrogate exception should land the cut next to whitespace; drop it like any other gap.
  return { partEnd: text.slice(start, at).trimEnd().length + start, nextStart: skipWhitespace(text, at) };
}

/**
 * The unit strictly containing `at` that starts after `start`, if any. Spans are sorted and do not
 * overlap, so only the last one starting before `at` can contain it: a binary search, not a scan,
 * keeping a reply with thousands of URLs and over-long words linear.
 */
function enclosing(spans: Span[], at: number, start: number): Span | undefined {
  let low = 0;
  let high = spans.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((spans[middle]?.start ?? at) < at) low = middle + 1;
    else high = middle;
  }
  const span = spans[low - 1];
  return span !== undefined && span.start > start && at < span.end ? span : undefined;
}

const URL_RUN = /https?:\/\/\S+/gi;
// `[label](url)`, `![alt](url "title")` or a linked image `[![alt](thumb)](url)`: the same shapes
// media.ts extracts. Labels exclude brackets so that `[a [b](c)` is not read as one link; the URL
// may hold one level of balanced parentheses, as Wikipedia-style links do.
const DESTINATION = String.raw`\(\s*<?https?:\/\/[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)`;
const MARKDOWN_LINK = new RegExp(String.raw`!?\[(?:[^[\]\n]*|!\[[^[\]\n]*\]${DESTINATION})\]${DESTINATION}`, 'gi');

interface Units {
  urls: Span[];
  links: Span[];
}

/** URLs and markdown links short enough to keep whole. */
function unbreakableUnits(text: string, maxLength: number): Units {
  const fitting = (pattern: RegExp): Span[] =>
    [...text.matchAll(pattern)]
      .map((match) => ({ start: match.index, end: match.index + match[0].length }))
      .filter((span) => span.end - span.start <= maxLength);
  const urls = fitting(URL_RUN);
  // A link glued to text before it can overlap a URL run (`https://a.test/x[label](https://b.test)`
  // is one URL run up to the whitespace). Both cannot stay whole, and the URL wins: keeping URLs
  // whole is the contract, keeping markdown links whole only a courtesy to media extraction.
  return { urls, links: withoutCrossingUrls(fitting(MARKDOWN_LINK), urls) };
}

/**
 * The links that no URL crosses (a URL inside a link is fine). Both lists are sorted and free of
 * overlaps within themselves, so one sweep does it: each link looks only at the URLs that overlap
 * it, and a URL overlaps few links, so the work is linear in the two lists, not their product.
 */
function withoutCrossingUrls(links: Span[], urls: Span[]): Span[] {
  const kept: Span[] = [];
  let first = 0;
  for (const link of links) {
    while ((urls[first]?.end ?? Infinity) <= link.start) first += 1;
    let crossed = false;
    for (let i = first; !crossed && i < urls.length; i += 1) {
      const url = urls[i];
      if (url === undefined || url.start >= link.end) break;
      crossed = url.start < link.start || url.end > link.end;
    }
    if (!crossed) kept.push(link);
  }
  return kept;
}

/** Marks the positions strictly inside a unit, where a whitespace run must not be used as a cut. */
function maskInsides(length: number, units: Units): Uint8Array {
  const mask = new Uint8Array(length);
  // URLs hold no whitespace, so only markdown links (labels, titles) have insides worth masking.
  for (const unit of units.links) mask.fill(1, unit.start + 1, unit.end);
  return mask;
}

function skipWhitespace(text: string, from: number): number {
  const match = /\S/g;
  match.lastIndex = from;
  return match.exec(text)?.index ?? text.length;
}

function trimmedEnd(text: string): number {
  // Same whitespace definition as String.prototype.trim and \s, so the join invariant holds.
  return text.trimEnd().length;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
