import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HistoryEntry } from '../../src/domain/history.js';
import {
  buildPrompt,
  DEFAULT_PROMPT_MAX_CHARS,
  MIN_CURRENT_MESSAGE_CHARS,
  promptChars,
  REFUSED_IMAGE_NOTE,
} from '../../src/domain/prompt.js';

const agent = { system_prompt: 'You are terse.', max_history_messages: 1_000, vision: true };

const entry = (n: number, role: 'user' | 'assistant', content: string, attachments: string[] = []): HistoryEntry => ({
  id: `m${n}:${role}`,
  role,
  content,
  attachments,
});

/** A chat of `turns` user/assistant pairs, each message `size` characters long and numbered. */
function longChat(turns: number, size: number): HistoryEntry[] {
  const history: HistoryEntry[] = [];
  for (let n = 0; n < turns; n++) {
    history.push(entry(n, 'user', `question ${n} `.padEnd(size, 'q')));
    history.push(entry(n, 'assistant', `answer ${n} `.padEnd(size, 'a')));
  }
  return history;
}

const current = (content: string, attachments: string[] = []): HistoryEntry =>
  entry(9_999, 'user', content, attachments);

const textOf = (message: { content?: unknown } | undefined): string => {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((part: { type: string; text?: string }) => (part.type === 'text' ? part.text : '')).join('');
  return '';
};

describe('buildPrompt: budget', () => {
  test('a short chat is sent whole: system prompt, every history entry, the current message', () => {
    const history = longChat(3, 50);
    const prompt = buildPrompt(agent, history, current('and now?'));
    assert.equal(prompt.length, 1 + 6 + 1);
    assert.deepEqual(prompt[0], { role: 'system', content: 'You are terse.' });
    assert.deepEqual(prompt.at(-1), { role: 'user', content: 'and now?' });
  });

  test('a long chat keeps within the budget by leaving out the oldest history, never the newest', () => {
    const history = longChat(500, 1_000); // 1 000 000 characters of history
    const maxChars = 20_000;
    const prompt = buildPrompt(agent, history, current('latest question'), { maxChars });
    assert.ok(promptChars(prompt) <= maxChars, `${promptChars(prompt)} > ${maxChars}`);
    assert.deepEqual(prompt[0], { role: 'system', content: 'You are terse.' });
    assert.deepEqual(prompt.at(-1), { role: 'user', content: 'latest question' });
    const kept = prompt.slice(1, -1).map(textOf);
    // The newest entries, in order, without a gap: the last 19 whole entries fit, not a 20th.
    assert.equal(kept.length, 19);
    assert.match(kept.at(-1) ?? '', /^answer 499 /);
    assert.match(kept.at(-2) ?? '', /^question 499 /);
    assert.match(kept[0] ?? '', /^answer 490 /);
  });

  test('the default budget holds a very long transcript of history too', () => {
    const prompt = buildPrompt(agent, longChat(200, 2_000), current('hi'));
    assert.ok(promptChars(prompt) <= DEFAULT_PROMPT_MAX_CHARS);
    assert.ok(prompt.length > 2, 'some history is kept');
  });

  test('the agent’s history limit still applies within the budget', () => {
    const prompt = buildPrompt({ ...agent, max_history_messages: 2 }, longChat(10, 10), current('x'));
    assert.equal(prompt.length, 4);
  });

  test('a current message longer than the budget is cut, with a note; the system prompt is kept whole', () => {
    const system = 'S'.repeat(3_000);
    const long = `start ${'w'.repeat(50_000)} end`;
    const maxChars = 10_000;
    const prompt = buildPrompt({ ...agent, system_prompt: system }, longChat(5, 100), current(long), { maxChars });
    assert.equal(prompt.length, 2, 'no room is left for history');
    assert.equal(prompt[0]?.content, system);
    const text = textOf(prompt[1]);
    assert.ok(promptChars(prompt) <= maxChars, `${promptChars(prompt)} > ${maxChars}`);
    assert.ok(text.startsWith('start www'), 'the beginning is kept');
    const omitted = Number(/\[message shortened to fit the prompt: (\d+) characters left out\]$/.exec(text)?.[1]);
    assert.equal(text.indexOf('\n\n[message shortened'), long.length - omitted, 'the note counts what was cut');
    assert.equal(
      long.slice(0, long.length - omitted),
      text.slice(0, long.length - omitted),
      'what is kept is the head',
    );
  });

  test('a system prompt bigger than the budget still leaves the current message its minimum', () => {
    const prompt = buildPrompt(
      { ...agent, system_prompt: 'S'.repeat(20_000) },
      longChat(3, 10),
      current('q'.repeat(5_000)),
      {
        maxChars: 10_000,
      },
    );
    assert.equal(prompt.length, 2);
    assert.equal(prompt[0]?.content, 'S'.repeat(20_000), 'never cut');
    assert.ok(textOf(prompt[1]).length <= MIN_CURRENT_MESSAGE_CHARS);
    assert.match(textOf(prompt[1]), /^q+\n\n\[message shortened to fit the prompt: \d+ characters left out\]$/);
  });
});

describe('buildPrompt: image attachments', () => {
  const images = ['https://cdn.example/a.png', 'http://169.254.169.254/latest/x.jpg'];

  test('refused images are not image inputs; the model is told one was sent', () => {
    const prompt = buildPrompt(agent, [], current('look', images), { refusedImages: new Set([images[1] ?? '']) });
    const content = prompt.at(-1)?.content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
    assert.deepEqual(
      content.filter((part) => part.type === 'image_url').map((part) => part.image_url?.url),
      ['https://cdn.example/a.png'],
    );
    assert.equal(content[0]?.text, `look\n\nAttachments:\n- ${images[1]} ${REFUSED_IMAGE_NOTE}`);
  });

  test('without vision every attachment is a plain link and nothing is marked', () => {
    const prompt = buildPrompt({ ...agent, vision: false }, [], current('look', images), {
      refusedImages: new Set(images),
    });
    assert.equal(prompt.at(-1)?.content, `look\n\nAttachments:\n- ${images[0]}\n- ${images[1]}`);
  });
});
