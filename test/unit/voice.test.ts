import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentDefaults } from '../../src/domain/models.js';
import { applyVoicePrefix } from '../../src/domain/voice.js';

describe('applyVoicePrefix', () => {
  test('the default prefix marks the transcript as a voice message', () => {
    assert.equal(agentDefaults.voice_prefix, '[Voice message] ');
    assert.equal(
      applyVoicePrefix('what is the weather', undefined, agentDefaults.voice_prefix),
      '[Voice message] what is the weather',
    );
  });

  test('typed text follows the transcript as its own paragraph', () => {
    assert.equal(
      applyVoicePrefix('what is the weather tomorrow', 'in Lisbon please', agentDefaults.voice_prefix),
      '[Voice message] what is the weather tomorrow\n\nin Lisbon please',
    );
  });

  test('transcript and typed text are trimmed; the prefix is used verbatim', () => {
    assert.equal(applyVoicePrefix('  hello  \n', '  and hi \n', '>> '), '>> hello\n\nand hi');
    assert.equal(applyVoicePrefix('hello', undefined, '(voice)'), '(voice)hello');
  });

  test('blank typed text counts as no text', () => {
    assert.equal(applyVoicePrefix('hello', '', agentDefaults.voice_prefix), '[Voice message] hello');
    assert.equal(applyVoicePrefix('hello', ' \n ', agentDefaults.voice_prefix), '[Voice message] hello');
  });

  test('an empty transcript still says a voice message arrived, without a trailing space', () => {
    assert.equal(applyVoicePrefix('   ', undefined, agentDefaults.voice_prefix), '[Voice message]');
    assert.equal(applyVoicePrefix('', 'see attached', agentDefaults.voice_prefix), '[Voice message]\n\nsee attached');
  });

  test('an empty prefix gives the bare transcript', () => {
    assert.equal(applyVoicePrefix('hello', undefined, ''), 'hello');
    assert.equal(applyVoicePrefix('hello', 'there', ''), 'hello\n\nthere');
    assert.equal(applyVoicePrefix('', 'only typed', ''), 'only typed');
    assert.equal(applyVoicePrefix('', undefined, ''), '');
  });
});
