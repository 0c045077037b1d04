import { isImageUrl } from '../domain/media.js';
import { passOnProblem, type AddressPolicy } from '../lib/address-policy.js';
import type { Logger } from '../lib/logger.js';

/**
 * The image attachments of a message that the model server must not be asked to fetch: an image input
 * is a URL the model server loads on our behalf, so a URL pointing inward (loopback, private networks,
 * cloud metadata) would make it a scanner of our network. Judged by the same address policy as voice
 * notes (FETCH_ALLOW_PRIVATE, FETCH_ALLOW_HOSTS). A refused image stays in the message and its history
 * (nothing accepted is lost); the model gets it as a link with a note instead (src/domain/prompt.ts).
 */
export async function refusedImageAttachments(
  attachments: readonly string[],
  policy: AddressPolicy,
  logger: Logger,
): Promise<Set<string>> {
  const refused = new Set<string>();
  await Promise.all(
    attachments.filter(isImageUrl).map(async (url) => {
      const problem = await passOnProblem(url, policy);
      if (problem === undefined) return;
      refused.add(url);
      // The host only: attachment URLs are often pre-signed, and their query is a credential.
      logger.warn({ host: new URL(url).host, problem }, 'image attachment not shown to the model');
    }),
  );
  return refused;
}
