import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { CachedLookup } from './token-cache.js';

export const TOKEN_KINDS = ['org', 'finance', 'router'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Who a valid token speaks for. */
export type Principal =
  { kind: 'org'; org: string; tokenId: string } | { kind: 'finance' | 'router'; tokenId: string };

const TOKEN = /^nbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** `nbk_` + 12 + `_` + 43: anything longer is refused before any parsing. */
export const TOKEN_LENGTH = 60;
const TOKEN_ID = /^[0-9a-f]{12}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Lifetime of a token created without an explicit one (`null` asks for none). */
export const DEFAULT_TOKEN_TTL_MS = 90 * DAY_MS;
/** How long a verified token is trusted without asking ClickHouse again (the revocation delay). */
export const DEFAULT_TOKEN_CACHE_TTL_MS = 10_000;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A revocation or lookup named a token id that was never created. */
export class UnknownTokenId extends Error {
  constructor(readonly tokenId: string) {
    super(`no token with id ${tokenId}`);
  }
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
 * finance tokens the SQL endpoint; router tokens every account's status. `ttlMs` undefined: the
 * default lifetime (90 days); `null`: no expiry, only when asked for.
 */
export async function createToken(
  clickhouse: ClickHouseClient,
  options: {
    kind: TokenKind;
    org?: string;
    ttlMs?: number | null;
    label?: string;
    now?: Date;
  },
): Promise<CreatedToken> {
  if (options.kind === 'org' && !options.org) throw new RangeError('an org token needs --org');
  if (options.kind !== 'org' && options.org) throw new RangeError('only org tokens name an org');
  const now = options.now ?? new Date();
  const tokenId = await unusedTokenId(clickhouse);
  const secret = randomBytes(32).toString('base64url');
  const ttlMs = options.ttlMs === undefined ? DEFAULT_TOKEN_TTL_MS : options.ttlMs;
  const expiresAt = ttlMs === null ? null : new Date(now.getTime() + ttlMs).toISOString();
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

/**
 * 48 random bits, checked against the table: a new row with an existing id would become that
 * token's newest version and replace it.
 */
async function unusedTokenId(clickhouse: ClickHouseClient): Promise<string> {
  for (;;) {
    const tokenId = randomBytes(6).toString('hex');
    if ((await tokenRow(clickhouse, tokenId)) === undefined) return tokenId;
  }
}

/** A token's row as verification needs it: the newest version, revoked if any version is. */
interface TokenRow {
  kind: string;
  org: string | null;
  secretHash: Buffer;
  expiresMs: number | null;
  revoked: boolean;
}

/**
 * Revocation is monotonic: a token is revoked when any version of its row says so, whatever
 * the versions' times (so a revoking host's clock cannot hide a revocation), and the revoking
 * version is also made the newest, so background merges keep it.
 */
async function tokenRow(
  clickhouse: ClickHouseClient,
  tokenId: string,
): Promise<TokenRow | undefined> {
  const result = await clickhouse.query({
    query: `SELECT argMax(tuple(kind, org, secret_hash, toUnixTimestamp64Milli(expires_at)), updated_at),
                   max(revoked_at IS NOT NULL)
            FROM billing.api_tokens WHERE token_id = {id:String} GROUP BY token_id`,
    query_params: { id: tokenId },
    format: 'JSONCompactEachRow',
  });
  type Row = [[string, string | null, string, string | number | null], number];
  const [row] = await result.json<Row>();
  if (row === undefined) return undefined;
  const [[kind, org, secretHash, expiresMs], revoked] = row;
  return {
    kind,
    org,
    secretHash: Buffer.from(secretHash, 'hex'),
    expiresMs: expiresMs === null ? null : Number(expiresMs),
    revoked: Number(revoked) === 1,
  };
}

export interface TokenStoreOptions {
  /** The verifying host's clock, for expiry. */
  now?: () => Date;
  /** How long a token's row is trusted without asking ClickHouse (default 10 s); 0: never. */
  cacheTtlMs?: number;
  /** The cache's clock in milliseconds (tests inject one; default `performance.now`). */
  cacheClock?: () => number;
}

/**
 * Checks bearer tokens against billing.api_tokens: by id (cached briefly, see `CachedLookup`),
 * then the secret's hash in constant time, then revocation and expiry.
 */
export class TokenStore {
  private readonly now: () => Date;
  private readonly rows: CachedLookup<TokenRow>;

  constructor(
    private readonly clickhouse: ClickHouseClient,
    options: TokenStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.rows = new CachedLookup((id) => tokenRow(clickhouse, id), {
      ttlMs: options.cacheTtlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS,
      now: options.cacheClock,
    });
  }

  /** The token's principal, or undefined; throws `TokenLookupsBusy` when lookups pile up. */
  async verify(token: string): Promise<Principal | undefined> {
    const match = token.length === TOKEN_LENGTH ? TOKEN.exec(token) : null;
    if (!match) return undefined;
    const [, tokenId, secret] = match as unknown as [string, string, string];
    const row = await this.rows.get(tokenId);
    if (row === undefined) return undefined;
    const given = createHash('sha256').update(secret).digest();
    if (given.length !== row.secretHash.length || !timingSafeEqual(given, row.secretHash)) {
      return undefined;
    }
    if (row.revoked || (row.expiresMs !== null && row.expiresMs <= this.now().getTime())) {
      return undefined;
    }
    if (row.kind === 'org')
      return row.org === null ? undefined : { kind: 'org', org: row.org, tokenId };
    if (row.kind === 'finance' || row.kind === 'router') return { kind: row.kind, tokenId };
    return undefined;
  }

  /**
   * Revokes a token by id: a newer version of its row, newer than every stored version whatever
   * this host's clock says (`revoked_at` records this host's time). Throws `UnknownTokenId` for
   * an id that was never created; revoking twice changes nothing.
   */
  async revoke(tokenId: string, at = this.now()): Promise<{ alreadyRevoked: boolean }> {
    if (!TOKEN_ID.test(tokenId)) throw new UnknownTokenId(tokenId);
    const row = await tokenRow(this.clickhouse, tokenId);
    if (row === undefined) throw new UnknownTokenId(tokenId);
    this.rows.forget(tokenId);
    if (row.revoked) return { alreadyRevoked: true };
    await this.clickhouse.command({
      query: `INSERT INTO billing.api_tokens
              SELECT token_id, v.1, v.2, v.3, v.4, v.5, v.6, at,
                     greatest(at, newest + toIntervalMillisecond(1))
              FROM (SELECT token_id,
                           argMax(tuple(kind, org, secret_hash, label, created_at, expires_at),
                                  updated_at) AS v,
                           max(updated_at) AS newest,
                           fromUnixTimestamp64Milli({at:Int64}, 'UTC') AS at
                    FROM billing.api_tokens WHERE token_id = {id:String} GROUP BY token_id)`,
      query_params: { id: tokenId, at: at.getTime() },
    });
    return { alreadyRevoked: false };
  }
}
