import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { extractMedia, isFileUrl, isImageUrl } from '../../src/domain/media.js';

describe('isImageUrl', () => {
  test('accepts every image extension, in any case, with a query string or fragment', () => {
    for (const ext of ['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp', 'svg', 'PNG', 'JpEg']) {
      assert.equal(isImageUrl(`https://x.test/a/pic.${ext}`), true, ext);
    }
    assert.equal(isImageUrl('http://x.test/pic.png?w=200&h=100'), true);
    assert.equal(isImageUrl('https://x.test/pic.webp#top'), true);
  });

  test('rejects pages, files, look-alikes and non-http URLs', () => {
    assert.equal(isImageUrl('https://x.test/page'), false);
    assert.equal(isImageUrl('https://x.test/report.pdf'), false);
    assert.equal(isImageUrl('https://x.test/page?img=a.png'), false, 'extension only in the query');
    assert.equal(isImageUrl('https://x.test/a.png/view'), false, 'extension not at the end of the path');
    assert.equal(isImageUrl('https://x.test/apng'), false);
    assert.equal(isImageUrl('https://x.test/.png'), false, 'hidden file name, not an extension');
    assert.equal(isImageUrl('ftp://x.test/a.png'), false);
    assert.equal(isImageUrl('data:image/png;base64,AAAA'), false);
    assert.equal(isImageUrl('not a url.png'), false);
  });
});

describe('isFileUrl', () => {
  test('accepts every file extension, in any case, with a query string', () => {
    const extensions = [
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
      'PDF',
      'Mp4',
    ];
    for (const ext of extensions) assert.equal(isFileUrl(`https://x.test/f/thing.${ext}`), true, ext);
    assert.equal(isFileUrl('https://x.test/backup.tar.gz?sig=abc'), true);
  });

  test('rejects .txt, images, pages and non-http URLs', () => {
    assert.equal(isFileUrl('https://x.test/notes.txt'), false);
    assert.equal(isFileUrl('https://x.test/a.png'), false);
    assert.equal(isFileUrl('https://x.test/docs'), false);
    assert.equal(isFileUrl('https://x.test/download?file=a.pdf'), false);
    assert.equal(isFileUrl('file:///tmp/a.pdf'), false);
  });
});

describe('extractMedia', () => {
  test('text without media comes back unchanged', () => {
    const text = 'Hello! See https://example.com/docs and [the guide](https://example.com/guide).';
    assert.deepEqual(extractMedia(text), { text, images: [], files: [] });
  });

  test('a markdown image is removed and its URL is an image, whatever its extension', () => {
    assert.deepEqual(extractMedia('Here is the chart: ![sales chart](https://x.test/chart.png) as promised'), {
      text: 'Here is the chart: as promised',
      images: ['https://x.test/chart.png'],
      files: [],
    });
    assert.deepEqual(extractMedia('![](https://cdn.x.test/render?id=7)').images, ['https://cdn.x.test/render?id=7']);
  });

  test('a markdown image with a title or angle brackets is recognised', () => {
    assert.deepEqual(extractMedia('A ![c](<https://x.test/c.png> "Chart") B'), {
      text: 'A B',
      images: ['https://x.test/c.png'],
      files: [],
    });
  });

  test('a markdown image pointing at a file extension is a file, not a picture', () => {
    assert.deepEqual(extractMedia('![doc](https://x.test/doc.pdf)'), {
      text: '',
      images: [],
      files: ['https://x.test/doc.pdf'],
    });
  });

  test('a markdown link to an image keeps its label and the URL goes to images', () => {
    assert.deepEqual(extractMedia('See [this photo](https://x.test/p.JPG?w=1) of the cat.'), {
      text: 'See this photo of the cat.',
      images: ['https://x.test/p.JPG?w=1'],
      files: [],
    });
  });

  test('a markdown link to a file keeps its label as text and the URL goes to files', () => {
    assert.deepEqual(extractMedia('Download [the Q3 report](https://x.test/q3.pdf) today.'), {
      text: 'Download the Q3 report today.',
      images: [],
      files: ['https://x.test/q3.pdf'],
    });
  });

  test('a media link whose label is the URL itself leaves nothing behind', () => {
    assert.deepEqual(extractMedia('[https://x.test/a.zip](https://x.test/a.zip) attached'), {
      text: 'attached',
      images: [],
      files: ['https://x.test/a.zip'],
    });
  });

  test('bare image and file URLs are removed', () => {
    assert.deepEqual(extractMedia('Photo https://x.test/a.gif and song https://x.test/s.mp3 here'), {
      text: 'Photo and song here',
      images: ['https://x.test/a.gif'],
      files: ['https://x.test/s.mp3'],
    });
  });

  test('trailing punctuation after a bare URL stays in the text, not in the URL', () => {
    assert.deepEqual(extractMedia('Here it is https://x.test/a.png.'), {
      text: 'Here it is.',
      images: ['https://x.test/a.png'],
      files: [],
    });
    assert.deepEqual(extractMedia('One https://x.test/a.png, two https://x.test/b.pdf!').text, 'One, two!');
  });

  test('brackets around a bare URL go with it, balanced brackets inside a URL stay in it', () => {
    assert.deepEqual(extractMedia('The plan (https://x.test/plan.pdf) is ready').text, 'The plan is ready');
    assert.deepEqual(extractMedia('Logo <https://x.test/logo.svg>.').text, 'Logo.');
    assert.deepEqual(extractMedia('Pic https://en.wikipedia.test/wiki/Foo_(bar).png ok').images, [
      'https://en.wikipedia.test/wiki/Foo_(bar).png',
    ]);
  });

  test('links to normal web pages stay in the text unchanged, bare or markdown', () => {
    const text =
      'Read https://example.com/article?id=1 or [the docs](https://example.com/docs) or https://x.test/notes.txt';
    assert.deepEqual(extractMedia(text), { text, images: [], files: [] });
  });

  test('a URL inside a page link label is not extracted', () => {
    const text = '[see https://x.test/a.png](https://example.com/gallery)';
    assert.deepEqual(extractMedia(text), { text, images: [], files: [] });
  });

  test('a linked image: the thumb is an image, a page target stays as plain URL, a media target is extracted', () => {
    assert.deepEqual(extractMedia('[![build](https://ci.test/badge.svg)](https://ci.test/run/1) passing'), {
      text: 'https://ci.test/run/1 passing',
      images: ['https://ci.test/badge.svg'],
      files: [],
    });
    assert.deepEqual(extractMedia('[![thumb](https://x.test/t.png)](https://x.test/v.mp4 "Video") watch'), {
      text: 'watch',
      images: ['https://x.test/t.png'],
      files: ['https://x.test/v.mp4'],
    });
  });

  test('URLs are deduplicated keeping first-seen order across all forms', () => {
    const text = [
      'https://x.test/2.png first',
      '![a](https://x.test/1.png) and again ![b](https://x.test/2.png)',
      '[doc](https://x.test/b.pdf) https://x.test/a.pdf https://x.test/b.pdf',
    ].join('\n');
    const { images, files } = extractMedia(text);
    assert.deepEqual(images, ['https://x.test/2.png', 'https://x.test/1.png']);
    assert.deepEqual(files, ['https://x.test/b.pdf', 'https://x.test/a.pdf']);
  });

  test('whitespace left behind is tidied: no double spaces, no trailing spaces, one blank line at most, trimmed', () => {
    const text =
      '  Intro ![a](https://x.test/a.png)   text  \n\n![b](https://x.test/b.png)\n\n\n\nhttps://x.test/c.png\nEnd  https://x.test/d.pdf  ';
    const result = extractMedia(text);
    assert.equal(result.text, 'Intro text\n\nEnd');
    assert.doesNotMatch(result.text, / {2}/);
    assert.doesNotMatch(result.text, /[ \t]$/m);
    assert.doesNotMatch(result.text, /\n\s*\n\s*\n/);
    assert.equal(result.text, result.text.trim());
  });

  test('a line that held only media disappears without leaving a blank line', () => {
    assert.equal(extractMedia('Before\n![a](https://x.test/a.png)\nAfter').text, 'Before\nAfter');
    assert.equal(extractMedia('Before\n  https://x.test/a.png https://x.test/b.jpg  \nAfter').text, 'Before\nAfter');
  });

  test('a removal at the start of a line keeps the indentation the author wrote', () => {
    assert.equal(extractMedia('List:\n  - ![i](https://x.test/i.png) item').text, 'List:\n  - item');
    assert.equal(extractMedia('Code:\n    https://x.test/i.png  x  =  1').text, 'Code:\n    x  =  1');
  });

  test('spacing away from removals is preserved', () => {
    assert.equal(extractMedia('a  b\tc ![i](https://x.test/i.png)').text, 'a  b\tc');
  });

  test('a reply that is only media leaves empty text', () => {
    assert.deepEqual(extractMedia(' https://x.test/a.png \n ![b](https://x.test/b.png) '), {
      text: '',
      images: ['https://x.test/a.png', 'https://x.test/b.png'],
      files: [],
    });
  });

  test('empty input gives empty output', () => {
    assert.deepEqual(extractMedia(''), { text: '', images: [], files: [] });
  });

  test('private-use characters in the input survive (the removal marker never collides)', () => {
    assert.equal(extractMedia('\uE000 x https://x.test/a.png \uE001 y').text, '\uE000 x \uE001 y');
  });
});

// Model output is not ours to trust: these shapes made extraction quadratic (this block took
// 338 s before media.ts was made linear, about 0.1 s since) while it runs inside an activity that
// must heartbeat. docs/reliability.md has the figures.
describe('extractMedia on 100 000-character adversarial replies', () => {
  const N = 100_000;

  test('a URL followed by 100 000 closing brackets keeps the brackets in the text', () => {
    assert.deepEqual(extractMedia(`see https://x.test/a.png${')'.repeat(N)}`), {
      text: `see${')'.repeat(N)}`,
      images: ['https://x.test/a.png'],
      files: [],
    });
    assert.deepEqual(extractMedia(`see https://x.test/a.png${']'.repeat(N)}`), {
      text: `see${']'.repeat(N)}`,
      images: ['https://x.test/a.png'],
      files: [],
    });
    // A bracket that balances one inside the URL still belongs to it.
    assert.deepEqual(extractMedia(`https://x.test/a_(b).pdf${')'.repeat(N)}`).files, ['https://x.test/a_(b).pdf']);
    // A page URL stays in the text, brackets and all.
    const page = `https://x.test/page${')'.repeat(N)}`;
    assert.deepEqual(extractMedia(page), { text: page, images: [], files: [] });
  });

  test('thousands of URLs each followed by brackets and punctuation', () => {
    const count = 4_000;
    const text = Array.from({ length: count }, (_, i) => `https://x.test/${i}.png)).!? `).join('');
    assert.ok(text.length >= N);
    const result = extractMedia(text);
    assert.equal(result.images.length, count);
    assert.equal(result.images[count - 1], `https://x.test/${count - 1}.png`);
    assert.equal(result.text, ')).!?'.repeat(count));
  });

  test('100 000 spaces or tabs between words are kept; at a line end or around a removal they go', () => {
    const spaces = ' '.repeat(N);
    assert.equal(extractMedia(`a${spaces}b`).text, `a${spaces}b`);
    assert.equal(extractMedia(`a${'\t'.repeat(N)}b`).text, `a${'\t'.repeat(N)}b`);
    assert.equal(extractMedia(`a${spaces}\nb${spaces}\r\nc`).text, 'a\nb\r\nc');
    assert.equal(extractMedia(`a${spaces}https://x.test/a.png${spaces}b`).text, 'a b');
    assert.equal(extractMedia(`a${spaces}https://x.test/a.png${spaces}.`).text, 'a.');
    assert.equal(extractMedia(`${spaces}https://x.test/a.png${spaces}`).text, '');
  });

  test('100 000 line breaks collapse to one blank line', () => {
    assert.equal(extractMedia(`a${'\n'.repeat(N)}b`).text, 'a\n\nb');
    assert.equal(extractMedia(`a${' \n'.repeat(N / 2)}b`).text, 'a\n\nb');
  });

  test('every private-use character in the text: the removal marker still never collides', () => {
    const privateUse = Array.from({ length: 0xf900 - 0xe000 }, (_, i) => String.fromCharCode(0xe000 + i)).join('');
    const text = privateUse.repeat(Math.ceil(N / privateUse.length));
    assert.deepEqual(extractMedia(`${text} https://x.test/a.png end`), {
      text: `${text} end`,
      images: ['https://x.test/a.png'],
      files: [],
    });
  });

  test('100 000 unclosed brackets, parentheses and link openings are left as they are', () => {
    for (const text of [
      '('.repeat(N),
      '['.repeat(N),
      '!['.repeat(N / 2),
      '[a]('.repeat(N / 4),
      `[a](https://x.test/page${' '.repeat(N)}`,
      `[a](https://x.test/page "${'t'.repeat(N)}`,
    ]) {
      const result = extractMedia(text);
      assert.deepEqual(result.images, [], text.slice(0, 30));
      assert.equal(result.text, text.trim());
    }
  });
});
