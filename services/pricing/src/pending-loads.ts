import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, restartDelay } from '@nanobill/kafka';
import type { ComponentHealth, Logger } from '@nanobill/observability';
import type { PendingRef, PendingRequests } from './pending.js';

/** A failed load of assigned partitions' pending requests is tried again this long after… */
export const RELOAD_FIRST_DELAY_MS = 1_000;
/** …doubling after each failure up to this: a ClickHouse away for long is tried twice a minute. */
export const RELOAD_MAX_DELAY_MS = 30_000;
/** Its name in `/readyz` while a load fails. */
export const PENDING_LOADS_COMPONENT = 'pricing pending requests';
/**
 * About how many requests one load reads from ClickHouse (oldest first): bounds what a load
 * holds at once (its JSON and its rows, ≈ 60 MiB) however many are stored; the next page follows
 * while the pending set has room.
 */
export const LOAD_PAGE_ROWS = 250_000;

/**
 * One page of a load: the requests first seen from `fromMs` on (all when absent), oldest first,
 * about `limit` of them (every request of the page's last millisecond is in it).
 */
export interface LoadPage {
  fromMs?: number;
  limit: number;
}

/** A page loaded, and where the next one starts: absent when none is stored after it. */
export interface LoadedPage {
  rows: PendingRef[];
  nextFromMs?: number;
}

/** A partition whose stored pending requests are not all in memory. */
interface Unloaded {
  /**
   * Requests consumed while a load of this partition was in flight (already stored as pending,
   * maybe after that load read the table): added with that load.
   */
  held: PendingRef[];
  /** Where the next page starts (first seen); absent: from the oldest. */
  fromMs?: number;
}

export interface PendingLoadsOptions {
  pending: PendingRequests;
  /**
   * The stored pending requests of these partitions, oldest first (`loadPending`): a page; fewer
   * than its limit when no more are stored.
   */
  load(partitions: number[], page: LoadPage): Promise<LoadedPage>;
  /** Runs a load in its turn with the pricing rounds: never in the middle of one. */
  inTurn(work: () => Promise<void>): Promise<void>;
  health?: ComponentHealth;
  logger: Logger;
  /** Default `RELOAD_FIRST_DELAY_MS` doubling up to `RELOAD_MAX_DELAY_MS`. */
  delayMs?: { first: number; max: number };
  /** Each failed load (a metric). */
  onFailure?(): void;
  /** How many consumed requests wait for their partition's load in flight, at each change. */
  onHeld?(held: number): void;
  /** How many owned partitions are not all in memory, at each change (a gauge). */
  onUnloaded?(partitions: number): void;
}

/**
 * The partitions this instance owns, and whether their pending requests are in memory. Those
 * stored in `billing.pricing_pending` are loaded when a partition is assigned (so a restart or a
 * rebalance loses nothing), oldest first, a page at a time, as long as the pending set has room
 * (`MAX_PENDING_IN_MEMORY`): a partition with more stored than that stays partly loaded, its
 * oldest requests in memory (their deadlines judged first), until rounds make room (`refill`).
 * A consumed request that does not fit is only stored, and its partition loaded again the same
 * way: memory is bounded by the cap, never by the traffic, and nothing is lost.
 *
 * Until its first page has loaded, a partition is held back: a round never acts on a partition
 * whose oldest requests are missing (their deadline not judged, the pending gauges telling
 * on-call all is well, a load landing mid-round declaring overdue requests never asked). A load
 * that fails (ClickHouse away for a moment) is retried with capped backoff, and `/readyz` names
 * it until every owned partition is loaded.
 */
export class PendingLoads {
  readonly #options: PendingLoadsOptions;
  #owned = new Set<number>();
  readonly #unloaded = new Map<number, Unloaded>();
  /** The partitions of the load in flight: what is consumed for them meanwhile is held. */
  #inFlight = new Set<number>();
  #loop: Promise<void> | undefined;
  #stopped = false;
  readonly #stopping = new AbortController();

  constructor(options: PendingLoadsOptions) {
    this.#options = options;
  }

  /** A new assignment: the partitions of the requests topic this instance now owns. */
  assign(partitions: readonly number[]): void {
    const next = new Set(partitions);
    const revoked = [...this.#owned].filter((p) => !next.has(p));
    const added = partitions.filter((p) => !this.#owned.has(p));
    // Revoked: another instance prices them now. Added: loaded whole, whatever memory still has.
    this.#options.pending.dropPartitions(new Set([...revoked, ...added]));
    for (const p of revoked) this.#unloaded.delete(p);
    for (const p of added) this.#unloaded.set(p, { held: [] });
    this.#owned = next;
    this.#report();
    this.#startLoading();
  }

  /** Consumed requests waiting for their partition's load in flight. */
  held(): number {
    let held = 0;
    for (const { held: rows } of this.#unloaded.values()) held += rows.length;
    return held;
  }

  #report(): void {
    this.#options.onHeld?.(this.held());
    this.#options.onUnloaded?.(this.#unloaded.size);
  }

  /** A consumed request, stored as pending: priced with its partition once that is loaded. */
  accept(row: PendingRef): void {
    const p = row.source_partition;
    const unloaded = this.#unloaded.get(p);
    if (!unloaded) {
      if (!this.#options.pending.add(row)) this.#overflow(p);
      return;
    }
    if (this.#inFlight.has(p)) {
      unloaded.held.push(row);
      this.#report();
      return;
    }
    // Stored: a later page reads it, unless its place is before the pages already loaded (a
    // batch stored late), in which case the partition's pages start again from the oldest.
    if (unloaded.fromMs !== undefined && Date.parse(row.first_seen_at) < unloaded.fromMs)
      unloaded.fromMs = undefined;
  }

  /** The pending set has room again (after a round): loads what waits for it. */
  refill(): void {
    this.#startLoading();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    await this.#loop;
    this.#options.health?.healthy(PENDING_LOADS_COMPONENT); // gone: nothing left to report
  }

  /** A loaded partition with a request the full pending set did not take: loaded again later. */
  #overflow(partition: number): void {
    this.#unloaded.set(partition, { held: [] });
    this.#report();
    this.#options.logger.warn(
      { partition, cap: this.#options.pending.cap },
      "pending set full: the partition's new requests are only stored until rounds make room",
    );
  }

  #startLoading(): void {
    if (this.#loop || this.#stopped || this.#unloaded.size === 0) return;
    if (this.#options.pending.room() === 0) return;
    this.#loop = this.#loadUntilLoaded().finally(() => {
      this.#loop = undefined;
      this.#startLoading(); // a partition assigned as the loop ended
    });
  }

  /** The unloaded partitions whose next page starts at the same place: loaded together. */
  #nextGroup(): Map<number, Unloaded> {
    const [first] = this.#unloaded.values();
    return new Map([...this.#unloaded].filter(([, u]) => u.fromMs === first!.fromMs));
  }

  async #loadUntilLoaded(): Promise<void> {
    const { health, logger } = this.#options;
    const { first, max } = this.#options.delayMs ?? {
      first: RELOAD_FIRST_DELAY_MS,
      max: RELOAD_MAX_DELAY_MS,
    };
    let failures = 0;
    while (this.#unloaded.size > 0 && !this.#stopped && this.#options.pending.room() > 0) {
      const assignments = this.#nextGroup();
      const partitions = [...assignments.keys()].sort((a, b) => a - b);
      const page = { fromMs: [...assignments.values()][0]!.fromMs, limit: LOAD_PAGE_ROWS };
      this.#inFlight = new Set(partitions);
      try {
        // Queued at once (in the caller's turn): a round asked for after an assignment waits.
        await this.#options.inTurn(async () => {
          this.#merge(assignments, await this.#options.load(partitions, page));
        });
        if (failures > 0) logger.info({ partitions, failures }, 'pending requests loaded at last');
        failures = 0;
        health?.healthy(PENDING_LOADS_COMPONENT);
      } catch (err) {
        failures++;
        this.#options.onFailure?.();
        const delayMs = restartDelay(failures, first, max);
        health?.unhealthy(
          PENDING_LOADS_COMPONENT,
          `pending requests of ${partitionList(partitions)} not loaded: attempt ${failures} failed: ${describeError(err)}; retrying in ${seconds(delayMs)}`,
        );
        logger.error(
          { err, partitions, attempt: failures, retryInMs: delayMs },
          'could not load pending requests: their partitions are held back until they are',
        );
        this.#inFlight = new Set();
        await sleep(delayMs, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      } finally {
        this.#inFlight = new Set();
      }
    }
  }

  /**
   * A loaded page joins the pending set, for the partitions still owned under the same
   * assignment (one revoked meanwhile, or revoked and assigned again, is not this load's: the
   * next one covers it), as far as the set has room. The last page of a partition also brings
   * the requests held meanwhile; after a page that is not the last, the next one starts where it
   * ended (the held requests are stored: it reads them).
   */
  #merge(assignments: ReadonlyMap<number, Unloaded>, page: LoadedPage): void {
    const { pending, logger } = this.#options;
    const current = new Set(
      [...assignments].filter(([p, a]) => this.#unloaded.get(p) === a).map(([p]) => p),
    );
    let nextFromMs = page.nextFromMs;
    let loaded = 0;
    for (const row of page.rows) {
      if (!current.has(row.source_partition)) continue;
      if (!pending.add(row)) {
        // Full: the next page starts again at this request's millisecond.
        nextFromMs = Date.parse(row.first_seen_at);
        break;
      }
      loaded++;
    }
    const complete = nextFromMs === undefined;
    let held = 0;
    for (const p of current) {
      const unloaded = this.#unloaded.get(p)!;
      held += unloaded.held.length;
      if (!complete) {
        // Stored: read again by the next page, unless first seen before it starts.
        const late = unloaded.held.some((row) => Date.parse(row.first_seen_at) < nextFromMs!);
        this.#unloaded.set(p, { held: [], fromMs: late ? undefined : nextFromMs });
        continue;
      }
      this.#unloaded.delete(p);
      if (unloaded.held.some((row) => !pending.add(row))) this.#overflow(p);
    }
    this.#report();
    logger.info(
      { partitions: [...current], pending: loaded, held, complete, inMemory: pending.size() },
      complete ? 'pending requests loaded' : 'pending requests loaded in part',
    );
  }
}

function partitionList(partitions: readonly number[]): string {
  return `${partitions.length === 1 ? 'partition' : 'partitions'} ${partitions.join(', ')}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
