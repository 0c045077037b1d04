import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildReplyParts } from '../../src/domain/reply-parts.js';

describe('buildReplyParts', () => {
  test('an empty or whitespace-only reply gives no parts', () => {
    assert.deepEqual(buildReplyParts('', 100), []);
    assert.deepEqual(buildReplyParts('  \n\n ', 100), []);
  });

  test('a short reply without media is one text part with no images and no file', () => {
    const parts = buildReplyParts('  Hello there!  ', 100);
    assert.deepEqual(parts, [{ text: 'Hello there!', images: [] }]);
    assert.equal('file' in (parts[0] ?? {}), false, 'no file key when there is no file');
  });

  test('a long reply is split into parts within the limit', () => {
    const reply = 'First paragraph here.\n\nSecond paragraph is here.';
    // Limit 47: each paragraph is its own part (the last one is exactly 47 long).
    assert.deepEqual(buildReplyParts(reply, 47), [
      { text: 'First paragraph here.', images: [] },
      { text: 'Second paragraph is here.', images: [] },
    ]);
  });

  test('media travel with the part that mentioned them', () => {
    const reply = 'Chart one: ![a](https://x.test/a.png)\n\nChart two: ![b](https://x.test/b.png)';
    assert.deepEqual(buildReplyParts(reply, 40), [
      { text: 'Chart one:', images: ['https://x.test/a.png'] },
      { text: 'Chart two:', images: ['https://x.test/b.png'] },
    ]);
  });

  test('splitting happens before extraction, so a URL that fits is never cut in half', () => {
    // The second line fits the limit only because its URL will be removed, but the raw text is
    // split first, so the line break before the URL is where the cut goes.
    const url = 'https://cdn.x.test/images/2024/very-long-name.png';
    const parts = buildReplyParts(`See this:\n${url} nice`, url.length + 5);
    assert.deepEqual(parts, [
      { text: 'See this:', images: [] },
      { text: 'nice', images: [url] },
    ]);
  });

  test('a markdown image with spaces in its alt text is not torn apart by the split', () => {
    const image = '![a very nice chart of sales](https://x.test/sales.png)';
    const parts = buildReplyParts(`Look at this ${image} ok`, image.length + 3);
    assert.deepEqual(parts, [
      { text: 'Look at this', images: [] },
      { text: 'ok', images: ['https://x.test/sales.png'] },
    ]);
  });

  test('a part keeps many images but only one file; extra files follow as file-only parts', () => {
    const reply =
      'Files https://x.test/1.pdf https://x.test/2.zip https://x.test/3.mp4 and pics https://x.test/a.png https://x.test/b.gif';
    assert.deepEqual(buildReplyParts(reply, 2000), [
      {
        text: 'Files and pics',
        images: ['https://x.test/a.png', 'https://x.test/b.gif'],
        file: 'https://x.test/1.pdf',
      },
      { text: '', images: [], file: 'https://x.test/2.zip' },
      { text: '', images: [], file: 'https://x.test/3.mp4' },
    ]);
  });

  test('extra files stay right after their own part, before the next part', () => {
    const first = 'A [one](https://x.test/1.pdf) [two](https://x.test/2.pdf)';
    assert.deepEqual(buildReplyParts(`${first}\n\nB next`, first.length), [
      { text: 'A one two', images: [], file: 'https://x.test/1.pdf' },
      { text: '', images: [], file: 'https://x.test/2.pdf' },
      { text: 'B next', images: [] },
    ]);
  });

  test('a part that was only media keeps its media with empty text', () => {
    assert.deepEqual(buildReplyParts('![x](https://x.test/x.png)', 100), [
      { text: '', images: ['https://x.test/x.png'] },
    ]);
    assert.deepEqual(buildReplyParts('https://x.test/doc.pdf', 100), [
      { text: '', images: [], file: 'https://x.test/doc.pdf' },
    ]);
  });

  test('a URL already delivered by an earlier part is not sent again, and a part left empty is dropped', () => {
    const reply =
      'Here: https://x.test/a.png\n\nhttps://x.test/a.png\n\nAgain https://x.test/a.png https://x.test/f.pdf';
    // Limit 47: each paragraph is its own part (the last one is exactly 47 long).
    assert.deepEqual(buildReplyParts(reply, 47), [
      { text: 'Here:', images: ['https://x.test/a.png'] },
      { text: 'Again', images: [], file: 'https://x.test/f.pdf' },
    ]);
  });

  test('other links stay in the text', () => {
    assert.deepEqual(buildReplyParts('Read https://example.com/docs now', 100), [
      { text: 'Read https://example.com/docs now', images: [] },
    ]);
  });

  test('a limit below 1 is a RangeError', () => {
    assert.throws(() => buildReplyParts('hello', 0), RangeError);
  });

  test('properties: text within the limit, no empty parts, every media URL delivered exactly once', () => {
    const word = fc.stringMatching(/^[a-z]{1,8}[.,!?]?$/);
    const media = fc.oneof(
      fc.stringMatching(/^[a-z]{1,6}$/).map((n) => `https://x.test/${n}.png`),
      fc.stringMatching(/^[a-z]{1,6}$/).map((n) => `![pic ${n}](https://x.test/${n}.jpg)`),
      fc.stringMatching(/^[a-z]{1,6}$/).map((n) => `[file ${n}](https://x.test/${n}.pdf)`),
      fc.stringMatching(/^[a-z]{1,6}$/).map((n) => `https://x.test/${n}.zip`),
    );
    const reply = fc
      .array(
        fc.tuple(
          fc.oneof({ weight: 4, arbitrary: word }, { weight: 1, arbitrary: media }),
          fc.constantFrom(' ', '\n', '\n\n'),
        ),
      )
      .map((pieces) => pieces.map(([t, s]) => t + s).join(''));
    fc.assert(
      fc.property(reply, fc.integer({ min: 45, max: 300 }), (text, max) => {
        const parts = buildReplyParts(text, max);
        const sent: string[] = [];
        for (const part of parts) {
          assert.ok(part.text.length <= max);
          assert.ok(part.text !== '' || part.images.length > 0 || part.file !== undefined, 'empty part');
          sent.push(...part.images, ...(part.file === undefined ? [] : [part.file]));
        }
        const mentioned = [...text.matchAll(/https:\/\/x\.test\/[a-z]+\.(?:png|jpg|pdf|zip)/g)].map((m) => m[0]);
        // Within a part images and the file are separate fields, so compare as sets, plus no repeats.
        assert.equal(new Set(sent).size, sent.length, 'a URL was sent twice');
        assert.deepEqual([...sent].sort(), [...new Set(mentioned)].sort());
      }),
      { numRuns: 300 },
    );
  });
});
