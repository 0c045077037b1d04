import { z } from 'zod';

/** Limits the inbound schema enforces; configurable per deployment (see config.ts). */
export interface InboundLimits {
  maxTextLength: number;
  maxAttachments: number;
  maxUrlLength: number;
}

export const defaultInboundLimits: InboundLimits = { maxTextLength: 16_000, maxAttachments: 10, maxUrlLength: 2048 };

const nonBlank = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    // A pattern rather than a refinement, so that the OpenAPI document says it too.
    .regex(/\S/, 'must not be empty');

const ipv4 = '(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const domain = '(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const port = '(?::(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d\\d|6[0-4]\\d{3}|[1-5]\\d{4}|\\d{1,4}))?';
/** An absolute http(s) URL with a host name or IPv4 address, as a pattern the OpenAPI document can carry. */
const httpUrlPattern = new RegExp(
  `^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9._~!$&'()*+,;=:%-]+@)?(?:${domain}|${ipv4})${port}(?:[/?#]\\S*)?$`,
);

export const httpUrl = (maxLength: number) =>
  z
    .string()
    .max(maxLength, `must be at most ${maxLength} characters`)
    // The pattern documents the rule in the OpenAPI document; the refinement checks it fully.
    .regex(httpUrlPattern, 'must be an absolute http or https URL')
    .refine((value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
      } catch {
        return false;
      }
    }, 'must be an absolute http or https URL');

/** The body of `POST /webhook/mychatbot`, as the MyChatBot Webhooks API contract defines it. */
export function inboundMessageSchema(limits: InboundLimits = defaultInboundLimits) {
  // Unknown fields are ignored rather than rejected: platforms often send extra metadata.
  return (
    z
      .object({
        client_id: nonBlank(256).describe('Unique identifier of the end user on the client platform.'),
        page_id: nonBlank(256).describe('The Page ID configured for the channel.'),
        platform: nonBlank(64).describe('Name of the client platform, e.g. "CustomApp".'),
        text: nonBlank(limits.maxTextLength).optional().describe('The user message. Required unless `audio` is given.'),
        audio: httpUrl(limits.maxUrlLength).optional().describe('URL of a voice message to transcribe.'),
        client_name: z
          .string()
          .max(256, 'must be at most 256 characters')
          .optional()
          .describe('Display name of the user.'),
        client_avatar: httpUrl(limits.maxUrlLength).optional().describe('Avatar URL of the user.'),
        attachments: z
          .array(httpUrl(limits.maxUrlLength))
          .max(limits.maxAttachments, `must have at most ${limits.maxAttachments} items`)
          .optional()
          .describe('URLs of images or files sent with the message.'),
        message_id: nonBlank(256)
          .optional()
          .describe(
            "The client's own id for this message; posting the same id again is answered without a second reply.",
          ),
      })
      .superRefine((value, ctx) => {
        if (value.text === undefined && value.audio === undefined) {
          ctx.addIssue({ code: 'custom', path: ['text'], message: 'is required unless audio is given' });
        }
      })
      // The same rule for the OpenAPI document, which cannot see inside superRefine.
      .meta({ anyOf: [{ required: ['text'] }, { required: ['audio'] }] })
  );
}

export type InboundMessage = z.infer<ReturnType<typeof inboundMessageSchema>>;

export interface FieldError {
  path: string;
  message: string;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Turns zod issues into the stable `{ path, message }` list our 400 responses carry. */
export function fieldErrors(error: z.ZodError, input: unknown): FieldError[] {
  const all = error.issues.map((issue): FieldError => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
    if (issue.code === 'invalid_type') {
      const actual = valueAt(input, issue.path);
      if (actual === undefined) return { path, message: 'is required' };
      const kind = actual === null ? 'null' : Array.isArray(actual) ? 'an array' : `a ${typeof actual}`;
      return {
        path,
        message: `must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}, got ${kind}`,
      };
    }
    if (issue.code === 'unrecognized_keys') {
      return {
        path: issue.keys.map((key) => [...issue.path.map(String), key].join('.')).join(', '),
        message: 'is not a known field',
      };
    }
    return { path, message: issue.message };
  });
  // A rule checked twice (a pattern for the document, a refinement for the edge cases) is said once.
  return all.filter(
    (item, index) => all.findIndex((other) => other.path === item.path && other.message === item.message) === index,
  );
}
