import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { messageIdFor } from '../../src/api/routes/webhook.js';
import { stableId } from '../../src/lib/secrets.js';
import { chatIdFor, legacyChatIdFor } from '../../src/stores/chats.js';

/** How ids were made before the encoding became unambiguous: parts joined with NUL. */
const joinedId = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\u0000'), 'utf8').digest('base64url').slice(0, 27);

describe('stableId', () => {
  test('parts that hold NUL no longer collide with parts split elsewhere', () => {
    assert.equal(joinedId('chn_1', 'a\u0000b', 'c'), joinedId('chn_1', 'a', 'b\u0000c'), 'the old encoding collided');
    assert.notEqual(stableId('chn_1', 'a\u0000b', 'c'), stableId('chn_1', 'a', 'b\u0000c'));
    assert.notEqual(messageIdFor('chn_1', 'a\u0000b', 'c'), messageIdFor('chn_1', 'a', 'b\u0000c'));
    assert.notEqual(legacyChatIdFor('page\u0000x', 'user'), legacyChatIdFor('page', 'x\u0000user'));
    // Nor with a list of another length that joins to the same text.
    assert.notEqual(stableId('a\u0000b', 'c'), stableId('a', 'b', 'c'));
  });

  test('ids of parts without NUL are the ones recorded before (chats and message ids keep working)', () => {
    assert.equal(stableId('chn_1', 'client', 'm-1'), joinedId('chn_1', 'client', 'm-1'));
    assert.equal(legacyChatIdFor('page', 'user'), `cht_${joinedId('chat', 'page', 'user')}`);
    // A channel from before issue 24 keeps them: pinned to its page, or not pinned yet.
    const legacy = { id: 'chn_1', page_id: 'moved-on', chats_page_id: 'page' };
    assert.equal(chatIdFor(legacy, 'user'), `cht_${joinedId('chat', 'page', 'user')}`);
    assert.equal(chatIdFor({ id: 'chn_1', page_id: 'page' }, 'user'), `cht_${joinedId('chat', 'page', 'user')}`);
  });

  test("a channel's chats are its own: a later channel on the same page id has other chat ids (issue 24)", () => {
    const first = { id: 'chn_first', page_id: 'page', chats_page_id: null };
    const later = { id: 'chn_later', page_id: 'page', chats_page_id: null };
    assert.notEqual(chatIdFor(first, 'user'), chatIdFor(later, 'user'));
    assert.notEqual(chatIdFor(first, 'user'), legacyChatIdFor('page', 'user'));
    // Moving to another page keeps them.
    assert.equal(chatIdFor({ ...first, page_id: 'other' }, 'user'), chatIdFor(first, 'user'));
  });

  test('different lists of parts give different ids', () => {
    const part = fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '"', '[', ','), maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 4 }),
        fc.array(part, { minLength: 1, maxLength: 4 }),
        (a, b) => {
          fc.pre(JSON.stringify(a) !== JSON.stringify(b));
          return stableId(...a) !== stableId(...b);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
