import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, type Registry } from '@nanobill/observability';
import type { UsageSeriesOptions } from '@nanobill/usage';
import type { Principal } from './tokens.js';

/**
 * Usage answers kept at most: the dashboard's four views × four dimensions is 16 answers per
 * org admin's session, so this holds the graphs of about 250 orgs being looked at.
 */
export const USAGE_CACHE_MAX_ENTRIES = 4_000;
/**
 * Bytes of answers kept at most (their JSON, what is sent): a daily or 24-hour graph is a few
 * KiB to a few hundred KiB; this bounds the cache's memory whatever the graphs' sizes.
 */
export const USAGE_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/**
 * An answer larger than this is sent but not kept (a 30-day graph by hour of a large org is
 * megabytes): one such answer must not push out hundreds of small ones.
 */
export const USAGE_CACHE_MAX_ENTRY_BYTES = 2 * 1024 * 1024;

export interface UsageCacheLimits {
  /** 0: no cache (every answer computed; ETags still sent). */
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_USAGE_CACHE_LIMITS: UsageCacheLimits = {
  maxEntries: USAGE_CACHE_MAX_ENTRIES,
  maxBytes: USAGE_CACHE_MAX_BYTES,
};

/** An answer as sent: its JSON and its strong ETag (a digest of those very bytes). */
export interface UsageAnswer {
  body: string;
  etag: string;
}

interface Entry extends UsageAnswer {
  /** The account's usage version read before the answer was computed. */
  version: string;
}

/** hit: kept and current; miss: not kept; stale: kept for an older version; shared: computed once for concurrent requests. */
export type UsageCacheOutcome = 'hit' | 'miss' | 'stale' | 'shared';

/**
 * The cache key of a usage answer: who asks (the token's kind and org: the authorization scope,
 * so no answer computed for one scope is ever found for another) and the query as validated
 * (instants as milliseconds, so every spelling of one instant in the query string is one key).
 * JSON of an array: no value can forge a separator.
 */
export function usageAnswerKey(principal: Principal, query: UsageSeriesOptions): string {
  return JSON.stringify([
    principal.kind,
    principal.kind === 'org' ? principal.org : null,
    query.account,
    query.from.getTime(),
    query.to.getTime(),
    query.granularity,
    query.groupBy,
  ]);
}

/** A strong ETag of `body`: equal ETags, equal bytes. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

/**
 * Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 §13.1.2: a W/ prefix
 * is ignored; `*` matches any current answer).
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

/**
 * Usage answers by key, each valid while its account's usage version (`usageVersion`) is the one
 * it was computed under: the caller reads the version first and the answer after, so a kept
 * answer holds at least what its version counts, and equals a fresh one until the version
 * changes. Bounded in entries and bytes (least recently used out first); concurrent requests for
 * one key and version share one computation.
 */
export class UsageAnswerCache {
  readonly #entries: LRUCache<string, Entry> | undefined;
  readonly #computing = new Map<string, { version: string; answer: Promise<UsageAnswer> }>();
  readonly #outcomes: Counter<'outcome'>;

  constructor(limits: UsageCacheLimits = DEFAULT_USAGE_CACHE_LIMITS, registry?: Registry) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`usage cache ${name} must be an integer ≥ 0`);
      }
    }
    this.#entries =
      limits.maxEntries === 0 || limits.maxBytes === 0
        ? undefined
        : new LRUCache<string, Entry>({
            max: limits.maxEntries,
            maxSize: limits.maxBytes,
            maxEntrySize: Math.min(USAGE_CACHE_MAX_ENTRY_BYTES, limits.maxBytes),
            sizeCalculation: (entry, key) => entrySize(key, entry),
          });
    const registers = registry === undefined ? [] : [registry];
    this.#outcomes = new Counter({
      name: 'nanobill_usage_answers_total',
      help: 'Usage answers by cache outcome: hit (kept, current version), miss (not kept), stale (kept for an older version: computed again), shared (computed once for concurrent requests)',
      labelNames: ['outcome'] as const,
      registers,
    });
    const entries = this.#entries;
    readingGauge(
      'nanobill_usage_cache_entries',
      `Usage answers kept (cap ${limits.maxEntries})`,
      registers,
      () => entries?.size ?? 0,
    );
    readingGauge(
      'nanobill_usage_cache_bytes',
      `Bytes of usage answers kept (cap ${limits.maxBytes})`,
      registers,
      () => entries?.calculatedSize ?? 0,
    );
  }

  /** False when the limits turned it off: callers need not read versions then. */
  get enabled(): boolean {
    return this.#entries !== undefined;
  }

  /** Answers kept and their bytes, for tests and the bench. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.#entries?.size ?? 0, bytes: this.#entries?.calculatedSize ?? 0 };
  }

  /**
   * The answer for `key` at `version`: the kept one when it was computed under this version,
   * else `compute()`'s JSON (kept unless too large). `version` must have been read before
   * `compute` reads anything.
   */
  async answer(
    key: string,
    version: string,
    compute: () => Promise<string>,
  ): Promise<{ answer: UsageAnswer; outcome: UsageCacheOutcome }> {
    const kept = this.#entries?.get(key);
    if (kept !== undefined && kept.version === version) return this.#count(kept, 'hit');
    const computing = this.#computing.get(key);
    if (computing !== undefined && computing.version === version) {
      return this.#count(await computing.answer, 'shared');
    }
    const answer = compute().then((body) => ({ body, etag: etagOf(body) }));
    this.#computing.set(key, { version, answer });
    try {
      const computed = await answer;
      // A version never goes back: an answer of an older version than the kept one is not kept.
      const current = this.#entries?.get(key);
      if (current === undefined || newer(version, current.version)) {
        this.#entries?.set(key, { ...computed, version });
      }
      return this.#count(computed, kept === undefined ? 'miss' : 'stale');
    } finally {
      if (this.#computing.get(key)?.answer === answer) this.#computing.delete(key);
    }
  }

  #count(answer: UsageAnswer, outcome: UsageCacheOutcome) {
    this.#outcomes.inc({ outcome });
    return { answer: { body: answer.body, etag: answer.etag }, outcome };
  }
}

/** A gauge that reads its value when scraped (sizes of in-memory structures). */
export function readingGauge(
  name: string,
  help: string,
  registers: Registry[],
  read: () => number,
) {
  return new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** Versions are decimal counts that only grow (billing.usage_versions). */
function newer(a: string, b: string): boolean {
  return BigInt(a) > BigInt(b);
}

function entrySize(key: string, entry: Entry): number {
  return Buffer.byteLength(entry.body) + key.length + entry.etag.length + entry.version.length;
}
