import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks headers for one attempt: the id is stable across retries, the timestamp is
 * the attempt's own (receivers reject stale ones), and there is one `v1,` signature per active
 * secret, space-separated, so receivers verify with either secret during a rotation.
 */
export function signatureHeaders(secrets: string[], webhookId: string, at: Date, body: string): Record<string, string> {
  const headers: Record<string, string> = {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
  };
  // Never unsigned: the caller holds the part back when the channel has no secret.
  if (secrets.length === 0) throw new Error('no signing secret: a reply is never sent unsigned');
  headers['webhook-signature'] = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body)).join(' ');
  return headers;
}
