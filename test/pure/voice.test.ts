import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentDefaults } from '../../src/domain/models.js';
import { applyVoicePrefix, boundTranscript, sniffAudioFormat } from '../../src/domain/voice.js';

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

describe('sniffAudioFormat', () => {
  const bytes = (...parts: Array<string | number[]>): Buffer =>
    Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

  test('knows the voice-note formats by their first bytes', () => {
    const cases: Array<[Buffer, string]> = [
      [bytes('OggS', [0, 2]), 'ogg'],
      [bytes('ID3', [4, 0, 0]), 'mp3'],
      [bytes([0xff, 0xfb, 0x90, 0x64]), 'mpeg'],
      [bytes([0xff, 0xf1, 0x50, 0x80]), 'mpeg'], // ADTS aac
      [bytes('RIFF', [0x24, 0, 0, 0], 'WAVEfmt '), 'wav'],
      [bytes([0, 0, 0, 0x20], 'ftypM4A '), 'mp4'],
      [bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]), 'webm'],
      [bytes('fLaC', [0]), 'flac'],
      [bytes('#!AMR\n'), 'amr'],
      [bytes('#!AMR-WB\n'), 'amr'],
      [bytes('FORM', [0, 0, 0, 0], 'AIFF'), 'aiff'],
      [bytes('caff', [0, 1]), 'caf'],
    ];
    for (const [data, format] of cases) assert.equal(sniffAudioFormat(data), format, data.toString('hex'));
  });

  test('refuses what is not audio, whatever it was sent as', () => {
    for (const data of [
      bytes('<!DOCTYPE html><html>'),
      bytes('%PDF-1.7'),
      bytes([0x89], 'PNG\r\n'),
      bytes('MZ', [0x90, 0]),
      bytes('RIFF', [0, 0, 0, 0], 'AVI '),
      bytes('{"a":1}'),
      bytes(''),
      bytes([0xff]),
      bytes('Ogg'),
    ])
      assert.equal(sniffAudioFormat(data), undefined, data.toString('hex'));
  });
});

describe('boundTranscript', () => {
  test('keeps a transcript within the limit and cuts a longer one to it', () => {
    assert.equal(boundTranscript('hello', 5), 'hello');
    assert.equal(boundTranscript('hello world', 5), 'hello');
    assert.equal(boundTranscript('x'.repeat(100_000), 16_000).length, 16_000);
  });

  test('never leaves half of a surrogate pair', () => {
    assert.equal(boundTranscript('ab😀c', 3), 'ab');
    assert.equal(boundTranscript('ab😀c', 4), 'ab😀');
  });
});
