import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, restartDelay } from '@nanobill/kafka';
import type { ComponentHealth, Logger } from '@nanobill/observability';
import type { PendingRequests } from './pending.js';
import type { PendingRow } from '@nanobill/tables';

/** A failed load of assigned partitions' pending requests is tried again this long after… */
export const RELOAD_FIRST_DELAY_MS = 1_000;
/** …doubling after each failure up to this: a ClickHouse away for long is tried twice a minute. */
export const RELOAD_MAX_DELAY_MS = 30_000;
/** Its name in `/readyz` while a load fails. */
export const PENDING_LOADS_COMPONENT = 'pricing pending requests';

/** One assignment of a partition whose stored pending requests are not in memory yet. */
interface Unloaded {
  /** Requests consumed meanwhile (already stored as pending): added once the partition is loaded. */
  held: PendingRow[];
}

export interface PendingLoadsOptions {
  pending: PendingRequests;
  /** The stored pending requests of these partitions (`loadPending`). */
  load(partitions: number[]): Promise<PendingRow[]>;
  /** Runs a load in its turn with the pricing rounds: never in the middle of one. */
  inTurn(work: () => Promise<void>): Promise<void>;
  health?: ComponentHealth;
  logger: Logger;
  /** Default `RELOAD_FIRST_DELAY_MS` doubling up to `RELOAD_MAX_DELAY_MS`. */
  delayMs?: { first: number; max: number };
  /** Each failed load (a metric). */
  onFailure?(): void;
  /**
   * How many consumed requests wait for their partition's load, at each change (a gauge: while
   * a load fails, these are stored but in no pending gauge).
   */
  onHeld?(held: number): void;
}

/**
 * The partitions this instance owns, and whether their pending requests are in memory. Those
 * stored in `billing.pricing_pending` are loaded when a partition is assigned (so a restart or a
 * rebalance loses nothing). Until that load has worked, the partition is held back: requests
 * consumed for it wait beside the pending set, so a round never acts on part of a partition
 * (its oldest requests missing: their deadline not judged, the pending gauges telling on-call
 * all is well, and a load landing mid-round could declare requests overdue that were never
 * asked). A load that fails (ClickHouse away for a moment) is retried with capped backoff, and
 * `/readyz` names it until every owned partition is loaded.
 */
export class PendingLoads {
  readonly #options: PendingLoadsOptions;
  #owned = new Set<number>();
  readonly #unloaded = new Map<number, Unloaded>();
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
    this.#reportHeld();
    this.#startLoading();
  }

  /** Consumed requests waiting for their partition's load. */
  held(): number {
    let held = 0;
    for (const { held: rows } of this.#unloaded.values()) held += rows.length;
    return held;
  }

  #reportHeld(): void {
    this.#options.onHeld?.(this.held());
  }

  /** A consumed request, stored as pending: priced with its partition once that is loaded. */
  accept(row: PendingRow): void {
    const unloaded = this.#unloaded.get(row.source_partition);
    if (!unloaded) {
      this.#options.pending.add(row);
      return;
    }
    unloaded.held.push(row);
    this.#reportHeld();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    await this.#loop;
    this.#options.health?.healthy(PENDING_LOADS_COMPONENT); // gone: nothing left to report
  }

  #startLoading(): void {
    if (this.#loop || this.#stopped || this.#unloaded.size === 0) return;
    this.#loop = this.#loadUntilLoaded().finally(() => {
      this.#loop = undefined;
      this.#startLoading(); // a partition assigned as the loop ended
    });
  }

  async #loadUntilLoaded(): Promise<void> {
    const { health, logger } = this.#options;
    const { first, max } = this.#options.delayMs ?? {
      first: RELOAD_FIRST_DELAY_MS,
      max: RELOAD_MAX_DELAY_MS,
    };
    let failures = 0;
    while (this.#unloaded.size > 0 && !this.#stopped) {
      const assignments = new Map(this.#unloaded);
      const partitions = [...assignments.keys()].sort((a, b) => a - b);
      try {
        // Queued at once (in the caller's turn): a round asked for after an assignment waits.
        await this.#options.inTurn(async () => {
          this.#merge(assignments, await this.#options.load(partitions));
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
        await sleep(delayMs, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * The loaded rows and the requests held meanwhile join the pending set, for the partitions
   * still owned under the same assignment (one revoked meanwhile, or revoked and assigned again,
   * is not this load's: the next one covers it).
   */
  #merge(assignments: ReadonlyMap<number, Unloaded>, rows: readonly PendingRow[]): void {
    const { pending, logger } = this.#options;
    const current = new Set(
      [...assignments].filter(([p, a]) => this.#unloaded.get(p) === a).map(([p]) => p),
    );
    let loaded = 0;
    for (const row of rows) {
      if (!current.has(row.source_partition)) continue;
      pending.add(row);
      loaded++;
    }
    let held = 0;
    for (const p of current) {
      for (const row of this.#unloaded.get(p)!.held) pending.add(row);
      held += this.#unloaded.get(p)!.held.length;
      this.#unloaded.delete(p);
    }
    this.#reportHeld();
    logger.info({ partitions: [...current], pending: loaded, held }, 'pending requests loaded');
  }
}

function partitionList(partitions: readonly number[]): string {
  return `${partitions.length === 1 ? 'partition' : 'partitions'} ${partitions.join(', ')}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
