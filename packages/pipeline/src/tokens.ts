import { z } from 'zod';
import { TOKEN_KINDS, TokenStore, createToken, type CreatedToken } from '@nanobill/api';
import type { ClickHouseClient } from '@nanobill/clickhouse';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What `nanobill tokens` asks, directly or through the running process's socket. A new token
 * names its lifetime (`expiresInDays`, the CLI fills in the configured default) or asks for none
 * (`noExpiry`): never both, never neither.
 */
export const TokensRequest = z.discriminatedUnion('action', [
  z
    .object({
      action: z.literal('create'),
      kind: z.enum(TOKEN_KINDS),
      org: z.string().min(1).max(256).optional(),
      expiresInDays: z.number().positive().max(3650).optional(),
      noExpiry: z.literal(true).optional(),
      label: z.string().max(200).optional(),
    })
    .refine((r) => (r.expiresInDays === undefined) !== (r.noExpiry === undefined), {
      message: 'either expiresInDays or noExpiry',
    }),
  z.object({ action: z.literal('revoke'), tokenId: z.string().regex(/^[0-9a-f]{12}$/) }),
]);
export type TokensRequest = z.infer<typeof TokensRequest>;

/** Creates or revokes; revoking an id that was never created throws `UnknownTokenId`. */
export async function runTokens(
  client: ClickHouseClient,
  request: TokensRequest,
): Promise<CreatedToken | { revoked: string; alreadyRevoked: boolean }> {
  if (request.action === 'revoke') {
    const { alreadyRevoked } = await new TokenStore(client).revoke(request.tokenId);
    return { revoked: request.tokenId, alreadyRevoked };
  }
  return createToken(client, {
    kind: request.kind,
    org: request.org,
    ttlMs: request.noExpiry ? null : request.expiresInDays! * DAY_MS,
    label: request.label,
  });
}
