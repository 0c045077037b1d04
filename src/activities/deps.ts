import { Context } from '@temporalio/activity';
import type { ChatLine } from '../chat-line/line.js';
import type { FinalStatus } from '../domain/models.js';
import type { Logger } from '../lib/logger.js';
import type { AddressPolicy } from '../lib/address-policy.js';
import type { SafeFetchPolicy } from '../lib/safe-fetch.js';
import type { Stores } from '../stores/index.js';
import type { OperationalEventStarter } from './events.js';
import type { ModelClient } from './model.js';
import type { DeliveryPolicy, PostOutcome } from './reply-post.js';

export interface ActivitySettings {
  publicBaseUrl: string;
  retryScheduleSeconds: number[];
  deliveryTimeoutMs: number;
  /**
   * Which reply and events URLs may be POSTed to: the address guard (private addresses refused
   * unless allowed). Required: a worker built without it would POST anywhere its channels say.
   */
  deliveryPolicy: DeliveryPolicy;
  /** How long channels, agents and signing secrets read from MongoDB may be reused (CHANNEL_CACHE_TTL_MS). */
  channelCacheTtlMs: number;
  audioFetch: Omit<SafeFetchPolicy, 'allowedContentTypes'>;
  /** Which image attachments the model may be asked to fetch (default: audioFetch's addresses, FETCH_ALLOW_*). */
  attachmentPolicy?: AddressPolicy;
  /** Voice notes downloaded and transcribed at once by this worker process (VOICE_MAX_CONCURRENT_DOWNLOADS; default 4). */
  voiceDownloads?: number;
  /** The longest transcript kept (MAX_TEXT_LENGTH, as a typed text; default 16 000). */
  maxTextLength?: number;
  /** The prompt's budget in characters (PROMPT_MAX_CHARS; src/domain/prompt.ts has the default). */
  promptMaxChars?: number;
  /**
   * How long after its start the answer step may still start a reply part's POST
   * (ANSWER_STEP_BUDGET_MS; src/domain/reply-plan.ts has the default).
   */
  answerStepBudgetMs?: number;
}

/** What activities report as it happens, for metrics; explicit, so moving a step never silences a count. */
export interface ActivityReporter {
  /** `error`: the attempt failed on our side (MongoDB, say) and is retried. */
  deliveryAttempt(result: PostOutcome['result'] | 'paused' | 'error'): void;
  messageFinished(status: FinalStatus): void;
}

export interface ActivityDeps {
  stores: Pick<Stores, 'agents' | 'channels' | 'chats' | 'messages' | 'lines' | 'blobs' | 'signingSecrets' | 'erasure'>;
  model: ModelClient;
  /** The chats' lines (src/chat-line/line.ts), with its Temporal side. */
  line: ChatLine;
  settings: ActivitySettings;
  logger: Logger;
  report?: ActivityReporter;
  /** Starts operational event deliveries (src/activities/events.ts); without it no event is sent. */
  events?: OperationalEventStarter;
}

/** The logger for the running activity, with its workflow and type (log lines also get the message's ids from the log context). */
export function activityLogger(logger: Logger): Logger {
  try {
    const info = Context.current().info;
    return logger.child({ workflowId: info.workflowExecution?.workflowId, activity: info.activityType });
  } catch {
    return logger;
  }
}
