import type { PendingRow } from './rows.js';

interface Entry {
  row: PendingRow;
  firstSeenMs: number;
  /** The last reason this request could not be priced; it becomes the unpriced reason. */
  problem?: string;
}

/**
 * The requests this instance must price: those of the partitions it owns, already stored in
 * `billing.pricing_pending` and not yet in the ledger or unpriced. Memory only; rebuilt from
 * ClickHouse when partitions are assigned.
 */
export class PendingRequests {
  readonly #byProvider = new Map<string, Map<string, Entry>>();

  /** Idempotent: a request seen again keeps its earliest first-seen time. */
  add(row: PendingRow): void {
    let requests = this.#byProvider.get(row.provider);
    if (!requests) this.#byProvider.set(row.provider, (requests = new Map()));
    const firstSeenMs = Date.parse(row.first_seen_at);
    const known = requests.get(row.provider_request_id);
    if (!known || firstSeenMs < known.firstSeenMs) {
      requests.set(row.provider_request_id, { row, firstSeenMs, problem: known?.problem });
    }
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

  resolve(provider: string, id: string): void {
    this.#byProvider.get(provider)?.delete(id);
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
