import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import OpenAI, { toFile } from 'openai';
import type { ChatCompletionFunctionTool, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { ErrorType } from '../domain/errors.js';

export interface CompletionRequest {
  model: string;
  temperature: number;
  messages: ChatCompletionMessageParam[];
}

/** What the model answered when it was offered tools: text, or a call of one of them (by name). */
export type ToolCompletion = { kind: 'text'; text: string } | { kind: 'tool'; name: string };

/** What the activities need from an OpenAI-compatible API, and nothing more. */
export interface ModelClient {
  complete(request: CompletionRequest): Promise<string>;
  /** A completion that offers the model function tools (the handoff); `complete` stays the request without any. */
  completeWithTools(request: CompletionRequest & { tools: ChatCompletionFunctionTool[] }): Promise<ToolCompletion>;
  transcribe(request: { model: string; audio: Buffer; filename: string; contentType: string }): Promise<string>;
  speak(request: { model: string; voice: string; input: string }): Promise<{ data: Buffer; contentType: string }>;
}

/** The running step's cancellation, so that a step past its timeout stops its call; none outside a step. */
function stepSignal(): { signal?: AbortSignal } {
  try {
    return { signal: Context.current().cancellationSignal };
  } catch {
    return {};
  }
}

/**
 * The official SDK pointed at any OpenAI-compatible base URL. The SDK's own retries are off:
 * Temporal retries the activity instead, durably and visibly. `maxTokens` (OPENAI_MAX_TOKENS)
 * bounds every reply, and with it how many parts a reply has and how long delivering it takes.
 * Every call stops when its step is cancelled.
 */
export function createOpenAIModelClient(options: {
  apiKey: string;
  baseURL: string;
  timeoutMs: number;
  maxTokens?: number;
}): ModelClient {
  const openai = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    timeout: options.timeoutMs,
    maxRetries: 0,
  });
  const emptyReply = () =>
    ApplicationFailure.create({ type: ErrorType.ModelUnavailable, message: 'the model returned an empty reply' });
  const bound = options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {};
  const hasText = (content: string | null | undefined): content is string =>
    typeof content === 'string' && content.trim().length > 0;
  return {
    async complete(request) {
      try {
        const completion = await openai.chat.completions.create({ ...request, ...bound, stream: false }, stepSignal());
        const content = completion.choices[0]?.message.content;
        if (!hasText(content)) throw emptyReply();
        return content;
      } catch (error) {
        throw toModelFailure(error, 'chat completion');
      }
    },
    async completeWithTools(request) {
      try {
        const completion = await openai.chat.completions.create({ ...request, ...bound, stream: false }, stepSignal());
        const message = completion.choices[0]?.message;
        // A call of a function tool wins over any text sent with it: the call is what the model decided.
        const call = message?.tool_calls?.find((tool) => tool.type === 'function');
        if (call?.type === 'function') {
          const name = call.function.name;
          if (request.tools.some((tool) => tool.function.name === name)) return { kind: 'tool', name };
          throw ApplicationFailure.create({
            type: ErrorType.ModelUnavailable,
            message: `the model called a tool it was not offered: ${name.slice(0, 100)}`,
          });
        }
        if (!hasText(message?.content)) throw emptyReply();
        return { kind: 'text', text: message.content };
      } catch (error) {
        throw toModelFailure(error, 'chat completion');
      }
    },
    async transcribe(request) {
      try {
        const file = await toFile(request.audio, request.filename, { type: request.contentType });
        const result = await openai.audio.transcriptions.create({ file, model: request.model }, stepSignal());
        return result.text;
      } catch (error) {
        throw toModelFailure(error, 'transcription');
      }
    },
    async speak(request) {
      try {
        const response = await openai.audio.speech.create({ ...request, response_format: 'mp3' }, stepSignal());
        return { data: Buffer.from(await response.arrayBuffer()), contentType: 'audio/mpeg' };
      } catch (error) {
        throw toModelFailure(error, 'speech');
      }
    },
  };
}

/** Sorts model API errors into the ones a retry may fix and the ones it cannot. */
export function toModelFailure(error: unknown, what: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    const status = error.status;
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    return ApplicationFailure.create({
      type: retryable ? ErrorType.ModelUnavailable : ErrorType.ModelRejected,
      message: `${what} failed with HTTP ${status}: ${error.message}`.slice(0, 500),
      nonRetryable: !retryable,
      details: [{ status }],
    });
  }
  // Connection errors, timeouts and anything unexpected: worth another try.
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({
    type: ErrorType.ModelUnavailable,
    message: `${what} failed: ${message}`.slice(0, 500),
  });
}
