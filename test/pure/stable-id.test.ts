import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { messageIdFor } from '../../src/api/routes/webhook.js';
import { stableId } from '../../src/lib/secrets.js';
import { chatIdFor } from '../../src/stores/chats.js';

/** How ids were made before the encoding became unambiguous: parts joined with NUL. */
const joinedId = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\u0000'), 'utf8').digest('base64url').slice(0, 27);

describe('stableId', () => {
  test('parts that hold NUL no longer collide with parts split elsewhere', () => {
    assert.equal(joinedId('chn_1', 'a\u0000b', 'c'), joinedId('chn_1', 'a', 'b\u0000c'), 'the old encoding collided');
    assert.notEqual(stableId('chn_1', 'a\u0000b', 'c'), stableId('chn_1', 'a', 'b\u0000c'));
    assert.notEqual(messageIdFor('chn_1', 'a\u0000b', 'c'), messageIdFor('chn_1', 'a', 'b\u0000c'));
    assert.notEqual(chatIdFor('chn\u0000x', 'user'), chatIdFor('chn', 'x\u0000user'));
    // Nor with a list of another length that joins to the same text.
    assert.notEqual(stableId('a\u0000b', 'c'), stableId('a', 'b', 'c'));
  });

  test('ids of parts without NUL are the ones recorded before (chats and message ids keep working)', () => {
    assert.equal(stableId('chn_1', 'client', 'm-1'), joinedId('chn_1', 'client', 'm-1'));
    // The chat ids 1.0.0 stored: its chats keep them.
    assert.equal(chatIdFor('chn_1', 'user'), `cht_${joinedId('channel-chat', 'chn_1', 'user')}`);
  });

  test("a channel's chats are its own: a later channel on the same page id has other chat ids (issue 24)", () => {
    // Only the channel's id and the client id count: the page id is not part of it, so moving keeps them.
    assert.notEqual(chatIdFor('chn_first', 'user'), chatIdFor('chn_later', 'user'));
    assert.notEqual(chatIdFor('chn_first', 'user'), chatIdFor('chn_first', 'other-user'));
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
