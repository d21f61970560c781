import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { SecretUnreadableError, type SecretsCipher } from './secrets-cipher.js';

/**
 * Deliveries look an account's secrets up at most this long after a rotation (docs/architecture.md
 * "Signatures").
 */
export const DEFAULT_SECRET_CACHE_MS = 30_000;
/** How long a rotated-out secret keeps verifying, unless the rotation says otherwise. */
export const DEFAULT_OVERLAP_MS = 24 * 60 * 60_000;
/** The longest overlap a rotation may ask for. */
export const MAX_OVERLAP_MS = 30 * 24 * 60 * 60_000;
/** Rotations that lose a race to another one at the same version try again this many times. */
const MAX_ROTATION_TRIES = 5;
/**
 * Rotations an account may make in an hour (a window on the server's clock). Each one is a row
 * kept for good: unbounded, an admin could grow the table without limit.
 */
export const MAX_ROTATIONS_PER_HOUR = 10;
/** Versions an account's lookup reads: the one in force and the one before (the overlap). */
const VERSIONS_READ = 2;

/** Refused: the account rotated its secret MAX_ROTATIONS_PER_HOUR times in the last hour. */
export class RotationLimitError extends Error {
  override readonly name = 'RotationLimitError';
  constructor() {
    super(`at most ${MAX_ROTATIONS_PER_HOUR} signing secret rotations an hour; try again later`);
  }
}
/** `nbwhsec_` and 32 random bytes (base64url): the key is the whole string, as UTF-8. */
const SECRET_PREFIX = 'nbwhsec_';
const SECRET_BYTES = 32;

/** A new signing secret (256 random bits). */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

interface Version {
  version: number;
  secretId: string;
  sealed: string;
  previousValidUntilMs: number | null;
}

/** An account's secrets as they stand: the one in force and, during an overlap, the one before. */
export interface AccountSecrets {
  current: { version: number; secretId: string; secret: string };
  previous: { secret: string; validUntil: Date } | undefined;
}

/**
 * Each account's webhook signing secrets in `billing.webhook_secrets`, encrypted at rest.
 *
 * There is no compare-and-set in ClickHouse, so a secret is created by inserting a row for the
 * next version and reading back which row of that version came first (the server's insert time,
 * then the id): every process, whenever it reads, picks that same winner, and a writer that lost
 * uses the winner too. A rotation that loses to a concurrent one rotates again on top of it.
 */
export class WebhookSecretStore {
  readonly #clickhouse: ClickHouseClient;
  readonly #cipher: SecretsCipher;
  readonly #now: () => Date;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { secrets: string[]; untilMs: number }>();

  constructor(
    clickhouse: ClickHouseClient,
    cipher: SecretsCipher,
    options: { now?: () => Date; cacheMs?: number } = {},
  ) {
    this.#clickhouse = clickhouse;
    this.#cipher = cipher;
    this.#now = options.now ?? (() => new Date());
    this.#cacheMs = options.cacheMs ?? DEFAULT_SECRET_CACHE_MS;
  }

  /** The account's secrets now, or undefined when it has none. */
  async read(accountId: string): Promise<AccountSecrets | undefined> {
    const versions = await this.#winners(accountId);
    const [current, before] = versions;
    if (current === undefined) return undefined;
    const nowMs = this.#now().getTime();
    const overlaps =
      before !== undefined &&
      current.previousValidUntilMs !== null &&
      nowMs < current.previousValidUntilMs &&
      before.version === current.version - 1;
    const previous = overlaps
      ? this.#openPrevious(accountId, before, new Date(current.previousValidUntilMs!))
      : undefined;
    return {
      current: {
        version: current.version,
        secretId: current.secretId,
        secret: this.#open(accountId, current),
      },
      previous,
    };
  }

  /**
   * What a delivery to the account is signed with: the secret in force, then the previous one
   * during an overlap. An account without a secret gets one (nobody has seen it: its admin
   * rotates to obtain one). Cached `cacheMs` per account.
   */
  async signingSecrets(accountId: string): Promise<string[]> {
    const nowMs = this.#now().getTime();
    const cached = this.#cache.get(accountId);
    if (cached !== undefined && cached.untilMs > nowMs) return cached.secrets;
    let secrets = await this.read(accountId);
    if (secrets === undefined) {
      await this.ensure(accountId);
      secrets = await this.read(accountId);
    }
    if (secrets === undefined) throw new Error('the signing secret vanished after it was created');
    const { current, previous } = secrets;
    const list = [current.secret, ...(previous ? [previous.secret] : [])];
    // Not cached past the overlap's end: the previous secret stops signing on time.
    const untilMs = Math.min(nowMs + this.#cacheMs, previous?.validUntil.getTime() ?? Infinity);
    this.#cache.set(accountId, { secrets: list, untilMs });
    return list;
  }

  /**
   * The account's secret, created when it has none. `created` is true only for the caller whose
   * insert won: that caller alone may show it (shown once).
   */
  async ensure(accountId: string): Promise<{ secret: string; created: boolean }> {
    const existing = await this.read(accountId);
    if (existing !== undefined) return { secret: existing.current.secret, created: false };
    const mine = await this.#insert(accountId, 1, null);
    const winner = (await this.read(accountId))?.current;
    if (winner === undefined) throw new Error('the new signing secret was not found after insert');
    return { secret: winner.secret, created: winner.secretId === mine.secretId };
  }

  /**
   * A new secret for the account, in force at once; the one it replaces keeps verifying for
   * `overlapMs` (0: not at all, e.g. after a leak). Returns the new secret (shown once) and until
   * when the previous one is valid (null without a previous one or without an overlap).
   * Concurrent rotations of one account each get a version of their own, one after the other:
   * the last one is in force, the one before it verifies during the overlap.
   */
  async rotate(
    accountId: string,
    overlapMs: number = DEFAULT_OVERLAP_MS,
  ): Promise<{ secret: string; previousValidUntil: Date | null }> {
    if (!Number.isSafeInteger(overlapMs) || overlapMs < 0 || overlapMs > MAX_OVERLAP_MS)
      throw new RangeError(`the overlap must be 0 to ${MAX_OVERLAP_MS} ms, got ${overlapMs}`);
    if ((await this.#rotationsInLastHour(accountId)) >= MAX_ROTATIONS_PER_HOUR) {
      throw new RotationLimitError();
    }
    for (let tries = 0; tries < MAX_ROTATION_TRIES; tries++) {
      const [current] = await this.#winners(accountId);
      const until =
        current === undefined || overlapMs === 0 ? null : this.#now().getTime() + overlapMs;
      const version = (current?.version ?? 0) + 1;
      const mine = await this.#insert(accountId, version, until);
      // Won if ours came first at its version, even if a later rotation already followed it
      // (ours is then the previous secret, valid for that rotation's overlap).
      const [winner] = await this.#winners(accountId, version);
      if (winner?.secretId === mine.secretId) {
        this.#cache.delete(accountId);
        return { secret: mine.secret, previousValidUntil: until === null ? null : new Date(until) };
      }
    }
    throw new Error('the rotation kept losing to concurrent rotations; try again');
  }

  /**
   * The first row of each version, newest version first: the newest VERSIONS_READ of them, or
   * exactly `version`'s when given. Bounded, whatever the account's history.
   */
  async #winners(accountId: string, version?: number): Promise<Version[]> {
    const result = await this.#clickhouse.query({
      query: `SELECT version, secret_id, sealed,
                     toUnixTimestamp64Milli(previous_valid_until) AS previous_valid_until
              FROM billing.webhook_secrets
              WHERE account_id = {account:String}
                AND ({version:Nullable(UInt32)} IS NULL OR version = {version:Nullable(UInt32)})
              ORDER BY version DESC, inserted_at ASC, secret_id ASC
              LIMIT 1 BY version
              LIMIT {versions:UInt32}`,
      query_params: { account: accountId, version: version ?? null, versions: VERSIONS_READ },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{
      version: number | string;
      secret_id: string;
      sealed: string;
      previous_valid_until: number | string | null;
    }>();
    return rows.map((row) => ({
      version: Number(row.version),
      secretId: row.secret_id,
      sealed: row.sealed,
      previousValidUntilMs:
        row.previous_valid_until === null ? null : Number(row.previous_valid_until),
    }));
  }

  async #rotationsInLastHour(accountId: string): Promise<number> {
    const result = await this.#clickhouse.query({
      query: `SELECT count() AS n FROM billing.webhook_secrets
              WHERE account_id = {account:String} AND inserted_at > now64(6) - INTERVAL 1 HOUR`,
      query_params: { account: accountId },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ n: number | string }>();
    return Number(row?.n ?? 0);
  }

  async #insert(
    accountId: string,
    version: number,
    previousValidUntilMs: number | null,
  ): Promise<{ secretId: string; secret: string }> {
    const secretId = randomBytes(8).toString('hex');
    const secret = generateSigningSecret();
    await this.#clickhouse.insert({
      table: 'billing.webhook_secrets',
      format: 'JSONEachRow',
      values: [
        {
          account_id: accountId,
          version,
          secret_id: secretId,
          sealed: this.#cipher.seal(secret, associatedData(accountId, secretId)),
          previous_valid_until:
            previousValidUntilMs === null ? null : new Date(previousValidUntilMs).toISOString(),
          created_at: this.#now().toISOString(),
        },
      ],
    });
    return { secretId, secret };
  }

  /**
   * The previous secret, unless it cannot be opened: sealed under a secrets key since replaced
   * (the way to replace a key is to rotate every account), it simply does not overlap.
   */
  #openPrevious(accountId: string, version: Version, validUntil: Date): AccountSecrets['previous'] {
    try {
      return { secret: this.#open(accountId, version), validUntil };
    } catch (error) {
      if (error instanceof SecretUnreadableError) return undefined;
      throw error;
    }
  }

  #open(accountId: string, version: Version): string {
    return this.#cipher.open(version.sealed, associatedData(accountId, version.secretId));
  }
}

/** Binds a sealed secret to its account and id. The NUL cannot occur in a secret id (hex). */
function associatedData(accountId: string, secretId: string): string {
  return `nanobill webhook secret\0${secretId}\0${accountId}`;
}
