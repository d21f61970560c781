import { LRUCache } from 'lru-cache';

/** Distinct token ids whose row is kept (each entry is a few hundred bytes). */
export const TOKEN_CACHE_MAX_IDS = 10_000;
/**
 * Distinct unknown ids remembered as unknown. A cache of its own: a flood of forged ids evicts
 * only other forged ids, never the rows of real tokens.
 */
export const UNKNOWN_ID_CACHE_MAX_IDS = 10_000;
/** How long an unknown id is remembered as unknown. */
export const UNKNOWN_ID_TTL_MS = 5_000;
/**
 * Different ids looked up in ClickHouse at once, across all clients. Past it, a request whose
 * token is not cached is answered 503 (retry shortly) instead of queueing more lookups: a flood
 * from many addresses costs ClickHouse at most this many queries at a time.
 */
export const MAX_TOKEN_LOOKUPS_IN_FLIGHT = 32;

/** Too many lookups in flight: the request is answered 503 with Retry-After. */
export class TokenLookupsBusy extends Error {
  constructor() {
    super(`more than ${MAX_TOKEN_LOOKUPS_IN_FLIGHT} token lookups in flight`);
  }
}

export interface CachedLookupOptions {
  /** How long a found value is trusted; 0: never cached. */
  ttlMs: number;
  /** The clock of the time-to-live, in milliseconds (tests inject one). */
  now?: () => number;
}

/**
 * Values by key, looked up once per time-to-live: found values and unknown keys are cached
 * apart (both bounded), concurrent lookups of one key share one query, and at most
 * `MAX_TOKEN_LOOKUPS_IN_FLIGHT` different keys are looked up at once.
 */
export class CachedLookup<V extends object> {
  private readonly found: LRUCache<string, V> | undefined;
  private readonly unknown: LRUCache<string, true>;
  private readonly inFlight = new Map<string, Promise<V | undefined>>();

  constructor(
    private readonly load: (key: string) => Promise<V | undefined>,
    options: CachedLookupOptions,
  ) {
    // ttlResolution 0: the (injected) clock is read at every check, never a cached reading.
    const perf = { now: options.now ?? (() => performance.now()) };
    this.found =
      options.ttlMs > 0
        ? new LRUCache({ max: TOKEN_CACHE_MAX_IDS, ttl: options.ttlMs, ttlResolution: 0, perf })
        : undefined;
    this.unknown = new LRUCache({
      max: UNKNOWN_ID_CACHE_MAX_IDS,
      ttl: Math.min(UNKNOWN_ID_TTL_MS, Math.max(options.ttlMs, 1)),
      ttlResolution: 0,
      perf,
    });
  }

  async get(key: string): Promise<V | undefined> {
    const cached = this.found?.get(key);
    if (cached !== undefined) return cached;
    if (this.unknown.has(key)) return undefined;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    if (this.inFlight.size >= MAX_TOKEN_LOOKUPS_IN_FLIGHT) throw new TokenLookupsBusy();
    const lookup = this.load(key)
      .then((value) => {
        if (value === undefined) this.unknown.set(key, true);
        else this.found?.set(key, value);
        return value;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, lookup);
    return lookup;
  }

  /** Drops what is known of a key (this process revoked it: no need to wait). */
  forget(key: string): void {
    this.found?.delete(key);
    this.unknown.delete(key);
  }
}
