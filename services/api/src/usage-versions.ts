import { Counter, type Registry } from '@nanobill/observability';
import { readingGauge } from './usage-cache.js';

/**
 * A usage version read this long ago is still trusted without asking ClickHouse: what a kept
 * answer may lag the ledger by at most (issue 15: a new ledger row is in the graph within 5 s;
 * the rest is the answer's own time).
 */
export const USAGE_VERSION_MAX_AGE_MS = 2_000;
/** Followed versions are all read again this often (one query), so asking rarely waits for one. */
export const USAGE_VERSION_REFRESH_MS = 1_000;
/** An org nobody asked about for this long is no longer followed. */
export const USAGE_VERSION_FOLLOW_MS = 10 * 60_000;
/** Orgs followed at most (the one least recently asked about is dropped first). */
export const USAGE_VERSION_MAX_ORGS = 10_000;

interface Known {
  version: string;
  /** When the read that returned it began: the version is at least that recent. */
  readAt: number;
  askedAt: number;
}

export interface UsageVersionsOptions {
  /** The versions of these orgs ('0' for an org without usage). */
  read(orgs: readonly string[]): Promise<Map<string, string>>;
  /** Milliseconds (tests inject a clock). */
  now?: () => number;
  maxAgeMs?: number;
  maxOrgs?: number;
  /** Where its metrics are registered (reads by cause, orgs followed); none by default. */
  registry?: Registry;
}

/**
 * The usage versions of the orgs being looked at, as the usage cache checks its answers against:
 * a version is taken from memory while it is at most `USAGE_VERSION_MAX_AGE_MS` old, and read
 * from ClickHouse otherwise (concurrent requests for one org share the read). `refresh()` (every
 * `USAGE_VERSION_REFRESH_MS` from `start()`) reads every followed org's in one query, so that the
 * requests of a warm dashboard make no query at all. Versions only grow: an older read never
 * replaces a newer one.
 */
export class UsageVersions {
  readonly #known = new Map<string, Known>();
  readonly #reading = new Map<string, Promise<string>>();
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  readonly #maxOrgs: number;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  readonly #reads: Counter<'cause'>;

  constructor(private readonly options: UsageVersionsOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#maxAgeMs = options.maxAgeMs ?? USAGE_VERSION_MAX_AGE_MS;
    this.#maxOrgs = options.maxOrgs ?? USAGE_VERSION_MAX_ORGS;
    const registers = options.registry === undefined ? [] : [options.registry];
    this.#reads = new Counter({
      name: 'nanobill_usage_version_reads_total',
      help: 'Reads of usage versions from ClickHouse: request (a request found none at most USAGE_VERSION_MAX_AGE_MS old and waited for it), refresh (all followed orgs at once)',
      labelNames: ['cause'] as const,
      registers,
    });
    const known = this.#known;
    readingGauge(
      'nanobill_usage_versions_followed',
      `Orgs whose usage version is followed (cap ${this.#maxOrgs})`,
      registers,
      () => known.size,
    );
  }

  /** The org's version, at most `maxAgeMs` old. */
  async get(org: string): Promise<string> {
    const now = this.#now();
    const known = this.#known.get(org);
    if (known !== undefined) {
      known.askedAt = now;
      // Most recently asked last: the first in the map is the one to drop.
      this.#known.delete(org);
      this.#known.set(org, known);
      if (now - known.readAt <= this.#maxAgeMs) return known.version;
    }
    let reading = this.#reading.get(org);
    if (reading === undefined) {
      this.#reads.inc({ cause: 'request' });
      reading = this.#read([org]).then((versions) => versions.get(org) ?? '0');
      this.#reading.set(org, reading);
      void reading.finally(() => this.#reading.delete(org)).catch(() => undefined);
    }
    return reading;
  }

  /** Reads every followed org's version again (one query); drops orgs not asked about lately. */
  async refresh(): Promise<void> {
    const now = this.#now();
    for (const [org, known] of this.#known) {
      if (now - known.askedAt > USAGE_VERSION_FOLLOW_MS) this.#known.delete(org);
    }
    if (this.#known.size === 0) return;
    this.#reads.inc({ cause: 'refresh' });
    await this.#read([...this.#known.keys()]);
  }

  /** Calls `refresh()` every `everyMs`; a failed refresh is reported, versions then age out. */
  start(everyMs = USAGE_VERSION_REFRESH_MS, onError: (error: unknown) => void = () => undefined) {
    this.#timer ??= setInterval(() => {
      // One at a time: a slow refresh is not joined by the next.
      this.#refreshing ??= this.refresh()
        .catch(onError)
        .finally(() => (this.#refreshing = undefined));
    }, everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
  }

  /** Orgs followed now (for tests). */
  get followed(): number {
    return this.#known.size;
  }

  /** Reads `orgs`' versions and remembers them; returns each org's newest known version. */
  async #read(orgs: readonly string[]): Promise<Map<string, string>> {
    const readAt = this.#now();
    const versions = await this.options.read(orgs);
    const newest = new Map<string, string>();
    for (const [org, version] of versions) {
      const known = this.#known.get(org);
      if (known === undefined) {
        this.#known.set(org, { version, readAt, askedAt: readAt });
        const oldest = this.#known.keys().next().value;
        if (this.#known.size > this.#maxOrgs && oldest !== undefined) this.#known.delete(oldest);
      } else if (BigInt(version) >= BigInt(known.version)) {
        known.version = version;
        known.readAt = Math.max(known.readAt, readAt);
      }
      newest.set(org, known === undefined ? version : known.version);
    }
    return newest;
  }
}
