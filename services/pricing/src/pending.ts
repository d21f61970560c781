import type { PendingRow } from '@nanobill/tables';

/**
 * How many pending requests one pricing instance keeps in memory (a request reusing another's
 * provider request id counts too): ids only, about 150 bytes each, so ≈ 150 MiB. A million is
 * one full round of issue 15's size (5.5 minutes of every request at 3,000 events/s, where a
 * round prices a minute's); with 2,000,000 pricing (embedded ClickHouse in its process) peaked at
 * 1.7 GiB holding 10,000,000 stored requests. Past it, consumed requests are only stored
 * (`billing.pricing_pending` holds every one of them) and loaded, oldest first, as rounds make
 * room (`PendingLoads`).
 */
export const MAX_PENDING_IN_MEMORY = 1_000_000;

/**
 * What the pending set keeps of a request: enough to ask its cost, judge its deadline and find
 * its stored row again (`billing.pricing_pending`, read by the round a chunk at a time). The
 * request's other facts stay in ClickHouse. A `PendingRow` is one.
 */
export type PendingRef = Pick<
  PendingRow,
  'provider' | 'provider_request_id' | 'request_id' | 'first_seen_at' | 'source_partition'
>;

interface Entry {
  requestId: string;
  firstSeenMs: number;
  partition: number;
  /** The last reason this request could not be priced; it becomes the unpriced reason. */
  problem?: string;
}

/** A request that reused the provider request id of another pending request. */
export interface Reuse {
  row: PendingRef;
  /** The request that keeps the provider request id: the one seen first. */
  keptRequestId: string;
}

/**
 * The requests this instance must price: those of the partitions it owns, already stored in
 * `billing.pricing_pending` and not yet in the ledger or unpriced. Memory only, ids only (no row
 * objects), at most `cap` of them; rebuilt from ClickHouse when partitions are assigned.
 */
export class PendingRequests {
  readonly #byProvider = new Map<string, Map<string, Entry>>();
  /** Set aside until the round quarantines them (`takeReuses`). */
  #reuses: Reuse[] = [];
  #size = 0;

  constructor(readonly cap = MAX_PENDING_IN_MEMORY) {
    if (!Number.isInteger(cap) || cap < 1)
      throw new Error(`the pending cap must be a positive integer, got ${cap}`);
  }

  /**
   * Idempotent: a request seen again keeps its earliest first-seen time. Another request with
   * the same provider request id is a reuse: the one seen first keeps the id (on a tie, the one
   * already here), the other is set aside for the round to quarantine. Returns false, keeping
   * nothing, when the request is new and the set is full (`cap`): it stays stored only.
   */
  add(row: PendingRef): boolean {
    let requests = this.#byProvider.get(row.provider);
    const known = requests?.get(row.provider_request_id);
    const firstSeenMs = Date.parse(row.first_seen_at);
    if (known && known.requestId === row.request_id) {
      if (firstSeenMs < known.firstSeenMs) known.firstSeenMs = firstSeenMs;
      return true;
    }
    if (this.room() === 0) return false;
    if (!requests) this.#byProvider.set(row.provider, (requests = new Map()));
    const entry: Entry = {
      requestId: row.request_id,
      firstSeenMs,
      partition: row.source_partition,
    };
    if (known) {
      const newcomerFirst = firstSeenMs < known.firstSeenMs;
      const reused = newcomerFirst ? refOf(row.provider, row.provider_request_id, known) : row;
      this.#reuses.push({
        row: reused,
        keptRequestId: newcomerFirst ? row.request_id : known.requestId,
      });
      if (newcomerFirst) requests.set(row.provider_request_id, entry);
      return true;
    }
    requests.set(row.provider_request_id, entry);
    this.#size++;
    return true;
  }

  /** How many more requests the set takes. */
  room(): number {
    return Math.max(0, this.cap - this.#size - this.#reuses.length);
  }

  /** Reuses to quarantine again in a later round (the quarantine refused them). */
  setAside(reuses: readonly Reuse[]): void {
    this.#reuses.push(...reuses);
  }

  /** The reuses found since the last call, of the partitions still owned. */
  takeReuses(): Reuse[] {
    const reuses = this.#reuses;
    this.#reuses = [];
    return reuses;
  }

  providers(): string[] {
    return [...this.#byProvider.keys()].filter((p) => this.size(p) > 0);
  }

  /**
   * The provider's pending ids in the order of `billing.pricing_pending`'s key (partition, then
   * id), so that the rows of one call's ids are neighbours in ClickHouse.
   */
  ids(provider: string): string[] {
    const byPartition = new Map<number, string[]>();
    for (const [id, entry] of this.#byProvider.get(provider) ?? []) {
      const ids = byPartition.get(entry.partition);
      if (ids) ids.push(id);
      else byPartition.set(entry.partition, [id]);
    }
    return [...byPartition.keys()]
      .sort((a, b) => a - b)
      .flatMap((p) => byPartition.get(p)!.sort(byCodeUnits));
  }

  get(provider: string, id: string): PendingRef | undefined {
    const entry = this.#byProvider.get(provider)?.get(id);
    return entry && refOf(provider, id, entry);
  }

  /** The request id holding `id` (cheaper than `get`). */
  requestIdOf(provider: string, id: string): string | undefined {
    return this.#byProvider.get(provider)?.get(id)?.requestId;
  }

  noteProblem(provider: string, id: string, problem: string): void {
    const entry = this.#byProvider.get(provider)?.get(id);
    if (entry) entry.problem = problem;
  }

  /** Out of the pending set: only that request (another one may hold its provider request id). */
  resolve(request: { provider: string; provider_request_id: string; request_id: string }): void {
    const requests = this.#byProvider.get(request.provider);
    if (requests?.get(request.provider_request_id)?.requestId === request.request_id) {
      requests.delete(request.provider_request_id);
      this.#size--;
    }
  }

  /** Requests first seen at or before `cutoffMs`, with their last problem. */
  overdue(provider: string, cutoffMs: number): Array<{ row: PendingRef; problem?: string }> {
    const overdue: Array<{ row: PendingRef; problem?: string }> = [];
    for (const [id, entry] of this.#byProvider.get(provider) ?? []) {
      if (entry.firstSeenMs <= cutoffMs)
        overdue.push({ row: refOf(provider, id, entry), problem: entry.problem });
    }
    return overdue;
  }

  dropPartitions(partitions: ReadonlySet<number>): void {
    if (partitions.size === 0) return;
    this.#reuses = this.#reuses.filter(({ row }) => !partitions.has(row.source_partition));
    for (const requests of this.#byProvider.values()) {
      for (const [id, entry] of requests) {
        if (!partitions.has(entry.partition)) continue;
        requests.delete(id);
        this.#size--;
      }
    }
  }

  size(provider?: string): number {
    if (provider !== undefined) return this.#byProvider.get(provider)?.size ?? 0;
    return this.#size;
  }

  oldestFirstSeenMs(provider: string): number | undefined {
    let oldest: number | undefined;
    for (const entry of this.#byProvider.get(provider)?.values() ?? []) {
      if (oldest === undefined || entry.firstSeenMs < oldest) oldest = entry.firstSeenMs;
    }
    return oldest;
  }
}

function refOf(provider: string, id: string, entry: Entry): PendingRef {
  return {
    provider,
    provider_request_id: id,
    request_id: entry.requestId,
    first_seen_at: new Date(entry.firstSeenMs).toISOString(),
    source_partition: entry.partition,
  };
}

/** ClickHouse's order of `String`s (bytes; the same as UTF-16 code units for ASCII ids). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
