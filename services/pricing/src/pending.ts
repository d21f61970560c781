import type { PendingRow } from '@nanobill/tables';

interface Entry {
  row: PendingRow;
  firstSeenMs: number;
  /** The last reason this request could not be priced; it becomes the unpriced reason. */
  problem?: string;
}

/** A request that reused the provider request id of another pending request. */
export interface Reuse {
  row: PendingRow;
  /** The request that keeps the provider request id: the one seen first. */
  keptRequestId: string;
}

/**
 * The requests this instance must price: those of the partitions it owns, already stored in
 * `billing.pricing_pending` and not yet in the ledger or unpriced. Memory only; rebuilt from
 * ClickHouse when partitions are assigned.
 */
export class PendingRequests {
  readonly #byProvider = new Map<string, Map<string, Entry>>();
  /** Set aside until the round quarantines them (`takeReuses`). */
  #reuses: Reuse[] = [];

  /**
   * Idempotent: a request seen again keeps its earliest first-seen time. Another request with
   * the same provider request id is a reuse: the one seen first keeps the id (on a tie, the one
   * already here), the other is set aside for the round to quarantine.
   */
  add(row: PendingRow): void {
    let requests = this.#byProvider.get(row.provider);
    if (!requests) this.#byProvider.set(row.provider, (requests = new Map()));
    const firstSeenMs = Date.parse(row.first_seen_at);
    const known = requests.get(row.provider_request_id);
    if (known && known.row.request_id !== row.request_id) {
      const newcomerFirst = firstSeenMs < known.firstSeenMs;
      const [kept, reused] = newcomerFirst ? [row, known.row] : [known.row, row];
      this.#reuses.push({ row: reused, keptRequestId: kept.request_id });
      if (newcomerFirst) requests.set(row.provider_request_id, { row, firstSeenMs });
      return;
    }
    if (!known || firstSeenMs < known.firstSeenMs) {
      requests.set(row.provider_request_id, { row, firstSeenMs, problem: known?.problem });
    }
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

  ids(provider: string): string[] {
    return [...(this.#byProvider.get(provider)?.keys() ?? [])];
  }

  get(provider: string, id: string): PendingRow | undefined {
    return this.#byProvider.get(provider)?.get(id)?.row;
  }

  noteProblem(provider: string, id: string, problem: string): void {
    const entry = this.#byProvider.get(provider)?.get(id);
    if (entry) entry.problem = problem;
  }

  /** Out of the pending set: only that request (another one may hold its provider request id). */
  resolve(request: { provider: string; provider_request_id: string; request_id: string }): void {
    const requests = this.#byProvider.get(request.provider);
    if (requests?.get(request.provider_request_id)?.row.request_id === request.request_id) {
      requests.delete(request.provider_request_id);
    }
  }

  /** Requests first seen at or before `cutoffMs`, with their last problem. */
  overdue(provider: string, cutoffMs: number): Array<{ row: PendingRow; problem?: string }> {
    const overdue: Array<{ row: PendingRow; problem?: string }> = [];
    for (const entry of this.#byProvider.get(provider)?.values() ?? []) {
      if (entry.firstSeenMs <= cutoffMs) overdue.push({ row: entry.row, problem: entry.problem });
    }
    return overdue;
  }

  dropPartitions(partitions: ReadonlySet<number>): void {
    this.#reuses = this.#reuses.filter(({ row }) => !partitions.has(row.source_partition));
    for (const requests of this.#byProvider.values()) {
      for (const [id, entry] of requests)
        if (partitions.has(entry.row.source_partition)) requests.delete(id);
    }
  }

  size(provider?: string): number {
    if (provider !== undefined) return this.#byProvider.get(provider)?.size ?? 0;
    let total = 0;
    for (const requests of this.#byProvider.values()) total += requests.size;
    return total;
  }

  oldestFirstSeenMs(provider: string): number | undefined {
    let oldest: number | undefined;
    for (const entry of this.#byProvider.get(provider)?.values() ?? []) {
      if (oldest === undefined || entry.firstSeenMs < oldest) oldest = entry.firstSeenMs;
    }
    return oldest;
  }
}
