/** Re-encrypting what is stored under an old secrets key (step 3 of a key change), mounted by admin.ts. */
import { reencryptSecretsResponseSchema } from '../contracts/admin.js';
import type { HandlersFor, RouteSpec } from '../route-spec.js';
import type { AdminDeps } from './admin-deps.js';

export const secretRoutes = [
  {
    method: 'post',
    path: '/v1/secrets/reencrypt',
    operationId: 'reencryptSecrets',
    tag: 'Secrets',
    summary: 'Re-encrypt every signing secret under the current key',
    description:
      'Step 3 of a key change (docs/operations.md, "Changing SECRETS_ENCRYPTION_KEY"): run on an API process whose SECRETS_ENCRYPTION_KEY is the new key and whose SECRETS_ENCRYPTION_OLD_KEYS lists the old one. Idempotent: run it again to finish an interrupted run. Also lists the channels whose API token hash still needs an old key.',
    success: {
      status: 200,
      description: 'What was re-encrypted, and what needs a token rotation.',
      schema: reencryptSecretsResponseSchema,
    },
    errors: [401],
  },
] as const satisfies readonly RouteSpec[];

export function secretHandlers(deps: AdminDeps): HandlersFor<typeof secretRoutes> {
  const { channels, signingSecrets, logger } = deps;
  return {
    async reencryptSecrets({ requestId }) {
      const signing = await signingSecrets.reencryptAll();
      const tokens = await channels.tokenHashesNotCurrent();
      logger.info(
        {
          requestId,
          ...signing,
          tokensUnderOldKey: tokens.old_key.length,
          tokensUnderUnknownKey: tokens.unknown_key.length,
          plainSha256Tokens: tokens.sha256.length,
        },
        'admin: secrets re-encrypted',
      );
      return {
        status: 200,
        body: {
          signing_secrets: signing,
          api_tokens: {
            under_old_key: tokens.old_key,
            under_unknown_key: tokens.unknown_key,
            plain_sha256: tokens.sha256,
          },
        },
      };
    },
  };
}
