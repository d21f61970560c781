import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClickHouseClient } from '@nanobill/clickhouse';

export const TOKEN_KINDS = ['org', 'finance', 'router'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Who a valid token speaks for. */
export type Principal =
  { kind: 'org'; org: string; tokenId: string } | { kind: 'finance' | 'router'; tokenId: string };

const TOKEN = /^nbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The public id of a well-formed token (for rate limits and logs), without checking it. */
export function tokenIdOf(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

export interface CreatedToken {
  /** Shown once: only its hash is stored. */
  token: string;
  tokenId: string;
  kind: TokenKind;
  org: string | null;
  expiresAt: string | null;
}

/**
 * Creates a token: `nbk_<12 hex id>_<32 random bytes, base64url>`. Org tokens see one org;
 * finance tokens the SQL endpoint; router tokens every account's status.
 */
export async function createToken(
  clickhouse: ClickHouseClient,
  options: { kind: TokenKind; org?: string; ttlMs?: number; label?: string; now?: Date },
): Promise<CreatedToken> {
  if (options.kind === 'org' && !options.org) throw new RangeError('an org token needs --org');
  if (options.kind !== 'org' && options.org) throw new RangeError('only org tokens name an org');
  const now = options.now ?? new Date();
  const tokenId = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const expiresAt =
    options.ttlMs === undefined ? null : new Date(now.getTime() + options.ttlMs).toISOString();
  await clickhouse.insert({
    table: 'billing.api_tokens',
    format: 'JSONEachRow',
    values: [
      {
        token_id: tokenId,
        kind: options.kind,
        org: options.org ?? null,
        secret_hash: sha256(secret),
        label: options.label ?? '',
        created_at: now.toISOString(),
        expires_at: expiresAt,
        revoked_at: null,
        updated_at: now.toISOString(),
      },
    ],
  });
  return {
    token: `nbk_${tokenId}_${secret}`,
    tokenId,
    kind: options.kind,
    org: options.org ?? null,
    expiresAt,
  };
}

/** Checks bearer tokens against billing.api_tokens (by id, then the secret's hash in constant time). */
export class TokenStore {
  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async verify(token: string): Promise<Principal | undefined> {
    const match = TOKEN.exec(token);
    if (!match) return undefined;
    const [, tokenId, secret] = match as unknown as [string, string, string];
    const result = await this.clickhouse.query({
      query: `SELECT kind, org, secret_hash, toUnixTimestamp64Milli(expires_at),
                     revoked_at IS NOT NULL
              FROM billing.api_tokens FINAL WHERE token_id = {id:String}`,
      query_params: { id: tokenId },
      format: 'JSONCompactEachRow',
    });
    const [row] = await result.json<[TokenKind, string | null, string, string | null, number]>();
    if (row === undefined) return undefined;
    const [kind, org, storedHash, expiresMs, revoked] = row;
    const given = Buffer.from(sha256(secret), 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    if (given.length !== stored.length || !timingSafeEqual(given, stored)) return undefined;
    if (revoked || (expiresMs !== null && Number(expiresMs) <= this.now().getTime())) {
      return undefined;
    }
    if (kind === 'org') return org === null ? undefined : { kind, org, tokenId };
    return { kind, tokenId };
  }

  /** Revokes a token by id (a newer version of its row). */
  async revoke(tokenId: string, at = this.now()): Promise<void> {
    await this.clickhouse.command({
      query: `INSERT INTO billing.api_tokens
              SELECT token_id, kind, org, secret_hash, label, created_at, expires_at,
                     {at:DateTime64(3)}, {at:DateTime64(3)}
              FROM billing.api_tokens FINAL WHERE token_id = {id:String}`,
      query_params: { id: tokenId, at: at.toISOString().replace('T', ' ').replace('Z', '') },
    });
  }
}
