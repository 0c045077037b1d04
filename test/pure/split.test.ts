import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitMessage } from '../../src/domain/reply-parts.js';

/** Where each part sits in the input, and the gaps dropped between them. */
interface Placement {
  offsets: number[];
  gaps: string[];
}

/**
 * Checks the join invariant and returns where the parts sit:
 * input.trim() === parts[0] + gap[0] + parts[1] + ... + parts[n-1], every gap whitespace-only,
 * every part non-empty, verbatim and without surrounding whitespace.
 */
function place(input: string, parts: string[]): Placement {
  const offsets: number[] = [];
  const gaps: string[] = [];
  const trimmed = input.trim();
  const base = input.length - input.trimStart().length;
  let at = 0;
  parts.forEach((part, index) => {
    assert.ok(part.length > 0, `part ${index} is empty`);
    assert.equal(part, part.trim(), `part ${index} has surrounding whitespace`);
    if (index > 0) {
      const gap = /^\s*/.exec(trimmed.slice(at))?.[0] ?? '';
      gaps.push(gap);
      at += gap.length;
    }
    assert.equal(trimmed.slice(at, at + part.length), part, `part ${index} is not the input at offset ${base + at}`);
    offsets.push(base + at);
    at += part.length;
  });
  assert.equal(at, trimmed.length, 'parts stop before the end of the input');
  return { offsets, gaps };
}

function withinLimit(part: string, maxLength: number): boolean {
  // The one documented exception: a surrogate pair cannot be halved to fit a limit of 1.
  return part.length <= maxLength || (maxLength === 1 && [...part].length === 1);
}

function nonWhitespace(text: string): string {
  return text.replace(/\s+/g, '');
}

// ---- generators -------------------------------------------------------------------------------

const word = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z]{1,10}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{11,40}$/) },
  { weight: 1, arbitrary: fc.constantFrom('😀', '👍🏽', 'a😀b', '𝕏𝕐𝕑', 'é', 'naïve') },
);
const sentenceWord = fc.tuple(word, fc.constantFrom('.', '!', '?', '…', '."', '?)')).map(([w, end]) => w + end);
const url = fc
  .tuple(
    fc.constantFrom('http://', 'https://', 'HTTPS://'),
    fc.stringMatching(/^[a-z]{1,12}\.[a-z]{2,3}$/),
    fc.array(fc.stringMatching(/^[a-zA-Z0-9._~%-]{1,10}$/), { maxLength: 4 }),
    fc.option(fc.stringMatching(/^[a-z]{1,5}=[a-z0-9]{1,8}$/), { nil: undefined }),
  )
  .map(([scheme, host, path, query]) => `${scheme}${host}/${path.join('/')}${query === undefined ? '' : `?${query}`}`);
const markdownLink = fc
  .tuple(fc.boolean(), fc.array(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 4 }), url)
  .map(([image, label, target]) => `${image ? '!' : ''}[${label.join(' ')}](${target})`);
const separator = fc.constantFrom(' ', ' ', ' ', '  ', '\n', '\n\n', ' \n \n ', '\t', '\r\n\r\n', '');

const plainToken = fc.oneof(
  { weight: 5, arbitrary: word },
  { weight: 2, arbitrary: sentenceWord },
  { weight: 2, arbitrary: url },
);
const anyToken = fc.oneof({ weight: 6, arbitrary: plainToken }, { weight: 2, arbitrary: markdownLink });

const textOf = (token: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.constantFrom('', ' ', '\n\n '), fc.array(fc.tuple(token, separator), { maxLength: 40 }))
    .map(([lead, pieces]) => lead + pieces.map(([t, s]) => t + s).join(''));

/** Texts without markdown links: every whitespace run there is a legal cut. */
const plainText = textOf(plainToken);
const anyText = textOf(anyToken);
const limit = fc.integer({ min: 1, max: 80 });

// ---- properties -------------------------------------------------------------------------------

describe('splitMessage properties', () => {
  test('every part is within the limit', () => {
    fc.assert(
      fc.property(anyText, limit, (text, max) => {
        for (const part of splitMessage(text, max))
          assert.ok(withinLimit(part, max), `${JSON.stringify(part)} > ${max}`);
      }),
      { numRuns: 500 },
    );
  });

  test('join invariant: the trimmed input is the parts joined by the whitespace dropped at each cut', () => {
    fc.assert(
      fc.property(anyText, limit, (text, max) => {
        place(text, splitMessage(text, max));
      }),
      { numRuns: 500 },
    );
  });

  test('order and content preserved: the non-whitespace characters come back in order', () => {
    fc.assert(
      fc.property(anyText, limit, (text, max) => {
        assert.equal(nonWhitespace(splitMessage(text, max).join('')), nonWhitespace(text));
      }),
      { numRuns: 500 },
    );
  });

  test('a URL that fits in a part is never cut', () => {
    fc.assert(
      fc.property(anyText, limit, (text, max) => {
        const parts = splitMessage(text, max);
        const { offsets } = place(text, parts);
        for (const match of text.matchAll(/https?:\/\/\S+/gi)) {
          if (match[0].length > max) continue;
          const start = match.index;
          const end = start + match[0].length;
          const holder = offsets.findIndex((offset, i) => offset <= start && end <= offset + (parts[i]?.length ?? 0));
          assert.notEqual(holder, -1, `URL ${match[0]} was cut (limit ${max}): ${JSON.stringify(parts)}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('a markdown link that fits in a part is never cut', () => {
    fc.assert(
      // Separated by whitespace: a link glued to a URL shares a URL run with it, and URLs win.
      fc.property(
        fc.array(
          fc.tuple(
            markdownLink,
            separator.filter((s) => s !== ''),
          ),
          { maxLength: 20 },
        ),
        limit,
        (pieces, max) => {
          const text = pieces.map(([t, s]) => t + s).join('');
          const parts = splitMessage(text, max);
          for (const [link] of pieces) {
            if (link.length > max) continue;
            const inInput = text.split(link).length - 1;
            const inParts = parts.reduce((sum, part) => sum + part.split(link).length - 1, 0);
            assert.equal(inParts, inInput, `${link} was cut (limit ${max}): ${JSON.stringify(parts)}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a cut falls inside a word only when the word alone is longer than the limit', () => {
    fc.assert(
      fc.property(plainText, limit, (text, max) => {
        const parts = splitMessage(text, max);
        const { offsets, gaps } = place(text, parts);
        gaps.forEach((gap, i) => {
          if (gap !== '') return;
          const cut = offsets[i + 1] ?? 0;
          const wordStart = text.slice(0, cut).search(/\S+$/);
          const wordEnd = cut + (/^\S+/.exec(text.slice(cut))?.[0].length ?? 0);
          assert.ok(wordEnd - wordStart > max, `cut inside ${text.slice(wordStart, wordEnd)} which fits ${max}`);
        });
      }),
      { numRuns: 500 },
    );
  });

  test('a surrogate pair is never split', () => {
    fc.assert(
      fc.property(anyText, limit, (text, max) => {
        for (const part of splitMessage(text, max)) {
          assert.doesNotMatch(part, /^[\uDC00-\uDFFF]/);
          assert.doesNotMatch(part, /[\uD800-\uDBFF]$/);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('packing is greedy: the next word would not have fitted in the part before it', () => {
    const words = fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(words, fc.integer({ min: 8, max: 60 }), (list, max) => {
        const parts = splitMessage(list.join(' '), max);
        for (let i = 0; i + 1 < parts.length; i += 1) {
          const nextWord = (parts[i + 1] ?? '').split(' ')[0] ?? '';
          assert.ok((parts[i] ?? '').length + 1 + nextWord.length > max, `${parts[i]} | ${nextWord} fits in ${max}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('paragraphs that fit are never broken, and as many as fit share a part', () => {
    const paragraph = fc
      .array(fc.stringMatching(/^[a-z]{1,6}[.!?]?$/), { minLength: 1, maxLength: 6 })
      .map((ws) => ws.join(' '));
    fc.assert(
      fc.property(
        fc.array(paragraph, { minLength: 1, maxLength: 15 }),
        fc.integer({ min: 45, max: 120 }),
        (paragraphs, max) => {
          const parts = splitMessage(paragraphs.join('\n\n'), max);
          assert.deepEqual(
            parts.flatMap((part) => part.split('\n\n')),
            paragraphs,
          );
          for (let i = 0; i + 1 < parts.length; i += 1) {
            const nextParagraph = (parts[i + 1] ?? '').split('\n\n')[0] ?? '';
            assert.ok((parts[i] ?? '').length + 2 + nextParagraph.length > max);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('parts are stable: splitting a part again gives just that part', () => {
    fc.assert(
      fc.property(anyText, limit, (text, max) => {
        for (const part of splitMessage(text, max)) assert.deepEqual(splitMessage(part, max), [part]);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- examples ---------------------------------------------------------------------------------

describe('splitMessage examples', () => {
  test('empty and whitespace-only input gives no parts', () => {
    assert.deepEqual(splitMessage('', 10), []);
    assert.deepEqual(splitMessage(' \n\t\r\n ', 10), []);
  });

  test('a limit below 1 or not an integer is a RangeError', () => {
    assert.throws(() => splitMessage('hi', 0), RangeError);
    assert.throws(() => splitMessage('hi', -5), RangeError);
    assert.throws(() => splitMessage('hi', 2.5), RangeError);
    assert.throws(() => splitMessage('hi', Number.NaN), RangeError);
    assert.throws(() => splitMessage('', 0), RangeError);
  });

  test('text that fits is one part, trimmed, with inner whitespace untouched', () => {
    assert.deepEqual(splitMessage('  a  b\n\n\nc  ', 100), ['a  b\n\n\nc']);
    assert.deepEqual(splitMessage('exactly10!', 10), ['exactly10!']);
  });

  test('paragraph breaks win over line breaks, sentence ends and spaces', () => {
    const text = 'One. Two.\nThree four.\n\nFive six seven.';
    // The line break after "Two." and the sentence ends are later or equal, but the blank line wins.
    assert.deepEqual(splitMessage(text, 30), ['One. Two.\nThree four.', 'Five six seven.']);
  });

  test('a blank line holding spaces or CRLFs is still a paragraph break', () => {
    assert.deepEqual(splitMessage('Alpha beta.\n   \nGamma delta epsilon', 25), ['Alpha beta.', 'Gamma delta epsilon']);
    assert.deepEqual(splitMessage('Alpha beta.\r\n\r\nGamma delta. Epsilon', 25), [
      'Alpha beta.',
      'Gamma delta. Epsilon',
    ]);
  });

  test('line breaks win over sentence ends and spaces', () => {
    assert.deepEqual(splitMessage('First line\nSecond. Third bit', 20), ['First line', 'Second. Third bit']);
  });

  test('sentence ends win over spaces, including after closing quotes and brackets', () => {
    assert.deepEqual(splitMessage('Go now. Then stop here', 16), ['Go now.', 'Then stop here']);
    assert.deepEqual(splitMessage('He said "Stop!" and left', 20), ['He said "Stop!"', 'and left']);
    assert.deepEqual(splitMessage('It works (really?) but why', 22), ['It works (really?)', 'but why']);
  });

  test('spaces between words are the last resort before cutting a word', () => {
    assert.deepEqual(splitMessage('alpha beta gamma delta', 12), ['alpha beta', 'gamma delta']);
  });

  test('packs greedily: as many words as fit', () => {
    assert.deepEqual(splitMessage('one two three four five', 9), ['one two', 'three', 'four five']);
  });

  test('the last boundary of the best kind is used, not the first', () => {
    assert.deepEqual(splitMessage('a\nb\nc\nd\neeeeeeeee', 7), ['a\nb\nc\nd', 'eeeeeee', 'ee']);
  });

  test('a word is cut only when it alone is longer than the limit, and then starts its own part', () => {
    assert.deepEqual(splitMessage('ab cdefghijk', 5), ['ab', 'cdefg', 'hijk']);
    assert.deepEqual(splitMessage('abcdefghij', 5), ['abcde', 'fghij']);
    assert.deepEqual(splitMessage('abcde fg', 5), ['abcde', 'fg']);
  });

  test('a URL that fits moves whole to the next part instead of being cut', () => {
    const link = 'https://example.com/a/b';
    assert.deepEqual(splitMessage(`see ${link} now`, 25), ['see', link, 'now']);
    assert.deepEqual(splitMessage(`see ${link} now`, 27), [`see ${link}`, 'now']);
  });

  test('a forced cut inside a long run backs off to the start of a URL that fits', () => {
    assert.deepEqual(splitMessage('xx:https://e.co/ab', 16), ['xx:', 'https://e.co/ab']);
  });

  test('a URL longer than the limit is cut like a long word', () => {
    const link = 'https://example.com/a-very-long-path';
    const parts = splitMessage(link, 10);
    assert.deepEqual(parts, ['https://ex', 'ample.com/', 'a-very-lon', 'g-path']);
    assert.equal(parts.join(''), link);
  });

  test('a markdown link or image whose label has spaces stays whole when it fits', () => {
    const image = '![a big chart](https://x.test/chart.png)';
    assert.deepEqual(splitMessage(`Here it is: ${image} done`, 45), ['Here it is:', `${image} done`]);
    const link = '[the full report](https://x.test/r.pdf "Report")';
    assert.deepEqual(splitMessage(`Read ${link}`, 50), ['Read', link]);
  });

  test('a markdown link longer than the limit may be cut at the spaces of its label', () => {
    // The 33-unit link cannot stay whole, so its label spaces are ordinary cuts; its URL still fits
    // and so is kept whole by backing the forced cut off to where the URL starts.
    assert.deepEqual(splitMessage('[one two three](https://x.test/p)', 20), [
      '[one two',
      'three](',
      'https://x.test/p)',
    ]);
  });

  test('never splits a surrogate pair', () => {
    assert.deepEqual(splitMessage('a😀b', 2), ['a', '😀', 'b']);
    assert.deepEqual(splitMessage('😀😀😀', 3), ['😀', '😀', '😀']);
    assert.deepEqual(splitMessage('😀😀😀', 4), ['😀😀', '😀']);
  });

  test('with a limit of 1 an astral character is the one part allowed 2 code units', () => {
    assert.deepEqual(splitMessage('a😀b', 1), ['a', '😀', 'b']);
  });

  test('the whitespace dropped at cuts is exactly what the join invariant puts back', () => {
    const text = 'First para.\n\nSecond  para,  with spaces.\nNext line';
    const parts = splitMessage(text, 30);
    assert.deepEqual(parts, ['First para.', 'Second  para,  with spaces.', 'Next line']);
    assert.deepEqual(place(text, parts).gaps, ['\n\n', '\n']);
  });
});

// Shapes that made parts of splitting scale with the product of two counts (links × URLs, forced
// cuts × URLs); each is checked for the contract, which the linear version keeps.
describe('splitMessage on 100 000-character adversarial replies', () => {
  const N = 100_000;
  const check = (text: string, maxLength: number): string[] => {
    const parts = splitMessage(text, maxLength);
    place(text, parts);
    for (const part of parts) assert.ok(withinLimit(part, maxLength), `a part of ${part.length} > ${maxLength}`);
    return parts;
  };

  test('thousands of markdown links next to URLs: every link stays whole', () => {
    const text = '[a](https://x.test/y) '.repeat(N / 22);
    for (const maxLength of [100, 2000]) {
      for (const part of check(text, maxLength))
        assert.deepEqual(new Set(part.split(' ')), new Set(['[a](https://x.test/y)']));
    }
  });

  test('thousands of URLs and a 50 000-character word: URLs whole, the word cut to the limit', () => {
    const urls = 'https://a.test '.repeat(N / 30);
    const parts = check(`${urls}${'x'.repeat(N / 2)}`, 100);
    const wordParts = parts.filter((part) => part.startsWith('x'));
    assert.equal(wordParts.length, N / 2 / 100);
    for (const part of parts.filter((part) => !part.startsWith('x')))
      assert.match(part, /^https:\/\/a\.test( https:\/\/a\.test)*$/);
  });

  test('a URL followed by 100 000 closing brackets is cut like a long word', () => {
    const text = `see https://x.test/a${')'.repeat(N)}`;
    const parts = check(text, 2000);
    assert.equal(parts[0], 'see');
    assert.equal(parts.length, 1 + Math.ceil((text.length - 4) / 2000));
  });

  test('100 000 spaces, line breaks, brackets or sentence ends between two words', () => {
    assert.deepEqual(check(`a${' '.repeat(N)}b`, 10), ['a', 'b']);
    assert.deepEqual(check(`a${'\n'.repeat(N)}b`, 10), ['a', 'b']);
    assert.equal(check(`a.${')'.repeat(N)} b`, 2000).length, Math.ceil((N + 2) / 2000));
    assert.equal(check('('.repeat(N), 2000).length, N / 2000);
    assert.equal(check(`[a](https://x${' '.repeat(N)}`, 2000).length, 1);
  });
});
