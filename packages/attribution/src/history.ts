import type { AccountSnapshot } from '@nanobill/contract';

interface Entry {
  /** `effectiveAt` in epoch milliseconds: instants compare at millisecond precision. */
  at: number;
  /** The snapshot's canonical JSON: the identity of a duplicate and the tie-breaker. */
  key: string;
  snapshot: AccountSnapshot;
  /** An org's members, for O(1) membership tests. */
  members: ReadonlySet<string>;
}

/**
 * What was true about each account, and when (PRODUCT.md §5): every snapshot consumed, whatever
 * the order it arrives in. Pure and in memory; the caller feeds it from `billing.accounts.v1`
 * or from the snapshots stored in ClickHouse.
 *
 * - `add` is idempotent: a snapshot equal to one already held (same fields and values, key order
 *   ignored) changes nothing, so redeliveries and replays are harmless.
 * - Each account's snapshots are kept sorted by `effectiveAt`; `at` is a binary search.
 * - Ties: two different snapshots of one account with the same `effectiveAt` (to the
 *   millisecond) are a producer error. The one whose canonical JSON sorts last wins, whatever
 *   order they were added in, so that every consumer and every replay reads the same history.
 *   ("Last added wins" would make the answer depend on delivery order.)
 */
export class AccountHistory {
  readonly #accounts = new Map<string, Entry[]>();

  /** Adds a snapshot; returns false when an equal one was already there. */
  add(snapshot: AccountSnapshot): boolean {
    const at = Date.parse(snapshot.effectiveAt);
    if (Number.isNaN(at))
      throw new RangeError(`effectiveAt is not an instant: ${snapshot.effectiveAt}`);
    const key = canonicalJson(snapshot);
    let entries = this.#accounts.get(snapshot.accountId);
    if (entries === undefined) {
      entries = [];
      this.#accounts.set(snapshot.accountId, entries);
    }
    // First index whose (at, key) is ≥ the new one's: the snapshots arrive mostly in order, so
    // this is usually the end of the list and the insertion is an append.
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = entries[mid]!;
      if (e.at < at || (e.at === at && e.key < key)) lo = mid + 1;
      else hi = mid;
    }
    const found = entries[lo];
    if (found !== undefined && found.at === at && found.key === key) return false;
    const members = new Set(snapshot.kind === 'org' ? snapshot.members : []);
    entries.splice(lo, 0, { at, key, snapshot, members });
    return true;
  }

  /** The account's snapshot in force at `t`: the latest with `effectiveAt ≤ t`, if any. */
  at(accountId: string, t: Date | number): AccountSnapshot | undefined {
    return this.#entryAt(accountId, t)?.snapshot;
  }

  /** Every snapshot of the account, oldest `effectiveAt` first (ties in the order `at` uses). */
  history(accountId: string): readonly AccountSnapshot[] {
    return (this.#accounts.get(accountId) ?? []).map((e) => e.snapshot);
  }

  /** Whether the account has any snapshot at all, at any time. */
  has(accountId: string): boolean {
    return this.#accounts.has(accountId);
  }

  /** Whether `userId` was a member of the org `org` at `t` (false when `org` was no org then). */
  isMember(org: string, userId: string, t: Date | number): boolean {
    const entry = this.#entryAt(org, t);
    return entry !== undefined && entry.snapshot.kind === 'org' && entry.members.has(userId);
  }

  /** The number of distinct snapshots held. */
  get size(): number {
    let n = 0;
    for (const entries of this.#accounts.values()) n += entries.length;
    return n;
  }

  #entryAt(accountId: string, t: Date | number): Entry | undefined {
    const entries = this.#accounts.get(accountId);
    if (entries === undefined) return undefined;
    const ms = instant(t);
    // Last index with at ≤ ms: among equal instants that is the greatest key, the tie winner.
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.at <= ms) lo = mid + 1;
      else hi = mid;
    }
    return entries[lo - 1];
  }
}

/** Epoch milliseconds of a Date or a number; refuses NaN rather than answering wrongly. */
export function instant(t: Date | number | string): number {
  const ms = typeof t === 'string' ? Date.parse(t) : typeof t === 'number' ? t : t.getTime();
  if (Number.isNaN(ms)) throw new RangeError(`not a valid instant: ${String(t)}`);
  return ms;
}

/** JSON with object keys sorted, so that equal snapshots get equal keys whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}
