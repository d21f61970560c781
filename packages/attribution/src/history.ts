import {
  ADMIN_FIELDS,
  settingValue,
  type AccountSnapshot,
  type AdminField,
  type OrgSettings,
} from '@nanobill/contract';

/**
 * Where a hub snapshot was stored from: `hub` since facts have owners (the accounts service marks
 * it), `legacy` before (a full snapshot, written by the hub or by the API's settings route, whose
 * admin-owned fields were the settings of their time).
 */
export type SnapshotOrigin = 'hub' | 'legacy';

interface Dated {
  /** `effectiveAt` in epoch milliseconds: instants compare at millisecond precision. */
  at: number;
  /** The message's canonical JSON: the identity of a duplicate and the tie-breaker. */
  key: string;
}

interface Entry extends Dated {
  snapshot: AccountSnapshot;
  origin: SnapshotOrigin;
  /** An org's members, for O(1) membership tests. */
  members: ReadonlySet<string>;
}

/** One admin-owned field set by a settings message; `undefined` removes it. */
interface Write extends Dated {
  value: unknown;
}

interface Account {
  /** The hub's snapshots of the account's kind, sorted by (at, key). */
  kept: Entry[];
  /** Snapshots of the other kind (stored before the accounts service refused them). */
  ignored: Entry[];
  /** The kept snapshots of origin `legacy`, sorted. */
  legacy: Entry[];
  /** The admin's settings, per field, sorted. */
  settings: Record<AdminField, Write[]>;
}

/**
 * What was true about each account, and when (docs/contract.md §5): every message consumed,
 * whatever the order it arrives in. Pure and in memory; the caller feeds it from the messages
 * stored in ClickHouse (`billing.account_snapshots`, `billing.account_settings`).
 *
 * - `add` and `addSettings` are idempotent: a message equal to one already held (same fields and
 *   values, key order ignored) changes nothing, so redeliveries and replays are harmless.
 * - Ties: two different messages of one account with the same `effectiveAt` (to the millisecond)
 *   are a producer error. The one whose canonical JSON sorts last wins, whatever order they were
 *   added in, so that every consumer and every replay reads the same history.
 *
 * **Facts have owners** (docs/contract.md §5). The hub's snapshots own `kind`, `plan`, `seats` and
 * `members`: those come from the hub's snapshot in force (the latest with `effectiveAt ≤ t`).
 * The org admin owns `spendingLimitNanoUsd`, `disabledProviders` and `alertWebhookUrl`: each comes
 * from the latest settings message setting it at or before t; a field the admin never set by then
 * comes from the latest `legacy` snapshot at or before t (stored before owners existed: its
 * fields, present or not, were the settings then), else from the hub's snapshot in force (a seed,
 * e.g. the demo's limits). So a settings message can never revert the hub's plan or members, and
 * a hub snapshot can never change or remove what the admin set. `at` answers with the merged
 * snapshot, `effectiveAt` being the latest instant any of its parts took effect.
 *
 * **One kind per account.** The accounts service refuses a snapshot that changes an account's
 * kind; a history stored before that check may still mix them. The kind first seen holds (that of
 * the earliest snapshot, the tie-breaker deciding among equal instants), whatever the arrival
 * order; snapshots of the other kind are set aside (`ignored`) and the caller reports them.
 */
export class AccountHistory {
  readonly #accounts = new Map<string, Account>();

  /** Adds a hub snapshot; returns false when an equal one was already there. */
  add(snapshot: AccountSnapshot, origin: SnapshotOrigin = 'hub'): boolean {
    const at = instant(snapshot.effectiveAt);
    const key = canonicalJson(snapshot);
    const account = this.#account(snapshot.accountId);
    const held = findSorted(account.kept, at, key) ?? findSorted(account.ignored, at, key);
    if (held !== undefined) {
      // The same snapshot stored before and after the `source` mark: legacy wins, either order.
      if (origin === 'hub' || held.origin === 'legacy') return false;
      held.origin = 'legacy';
      if (account.kept.includes(held)) insertSorted(account.legacy, held);
      return true;
    }
    const members = new Set(snapshot.kind === 'org' ? snapshot.members : []);
    const entry: Entry = { at, key, snapshot, origin, members };
    const first = account.kept[0];
    if (first === undefined || snapshot.kind === first.snapshot.kind) {
      insertSorted(account.kept, entry);
      if (origin === 'legacy') insertSorted(account.legacy, entry);
    } else if (compare(first, entry) < 0) {
      insertSorted(account.ignored, entry);
    } else {
      // Earlier than the first snapshot held, and of the other kind: its kind is the account's.
      partition(account, [...account.kept, ...account.ignored, entry]);
    }
    return true;
  }

  /** Adds an admin's settings message; returns false when an equal one was already there. */
  addSettings(settings: OrgSettings): boolean {
    const at = instant(settings.effectiveAt);
    const key = canonicalJson(settings);
    const account = this.#account(settings.accountId);
    let added = false;
    for (const field of ADMIN_FIELDS) {
      const value = settings[field];
      if (value === undefined) continue;
      const writes = account.settings[field];
      if (findSorted(writes, at, key) !== undefined) continue;
      insertSorted(writes, { at, key, value: settingValue(value) });
      added = true;
    }
    return added;
  }

  /** The account's facts in force at `t` (hub and admin fields merged), if it had a snapshot. */
  at(accountId: string, t: Date | number): AccountSnapshot | undefined {
    const account = this.#accounts.get(accountId);
    const entry = account && latestAt(account.kept, instant(t));
    return entry && merged(account, entry, instant(t));
  }

  /**
   * Every hub snapshot of the account, oldest `effectiveAt` first (ties in the order `at` uses),
   * each with the admin's fields in force at its instant; not the snapshots set aside.
   */
  history(accountId: string): readonly AccountSnapshot[] {
    const account = this.#accounts.get(accountId);
    return account ? account.kept.map((e) => merged(account, e, e.at)) : [];
  }

  /** The account's snapshots set aside because their kind differs from the kind first seen. */
  ignored(accountId: string): readonly AccountSnapshot[] {
    return (this.#accounts.get(accountId)?.ignored ?? []).map((e) => e.snapshot);
  }

  /**
   * When the admin last set `field` of the account (epoch ms), if ever: a new setting must be
   * effective later to win.
   */
  lastSetAt(accountId: string, field: AdminField): number | undefined {
    return this.#accounts.get(accountId)?.settings[field].at(-1)?.at;
  }

  /** Whether the account has any hub snapshot at all, at any time. */
  has(accountId: string): boolean {
    return (this.#accounts.get(accountId)?.kept.length ?? 0) > 0;
  }

  /** Whether `userId` was a member of the org `org` at `t` (false when `org` was no org then). */
  isMember(org: string, userId: string, t: Date | number): boolean {
    const kept = this.#accounts.get(org)?.kept;
    const entry = kept && latestAt(kept, instant(t));
    return entry !== undefined && entry.snapshot.kind === 'org' && entry.members.has(userId);
  }

  /** The number of distinct hub snapshots held, set-aside ones included. */
  get size(): number {
    let n = 0;
    for (const account of this.#accounts.values())
      n += account.kept.length + account.ignored.length;
    return n;
  }

  #account(accountId: string): Account {
    let account = this.#accounts.get(accountId);
    if (account === undefined) {
      account = {
        kept: [],
        ignored: [],
        legacy: [],
        settings: { spendingLimitNanoUsd: [], disabledProviders: [], alertWebhookUrl: [] },
      };
      this.#accounts.set(accountId, account);
    }
    return account;
  }
}

/**
 * The hub snapshot `entry` with the admin-owned fields in force at `t` (≥ its instant). Only an
 * org has an admin (the settings route is an org's): every field of a user, its alert webhook
 * included, is the hub's, so a user's snapshot in force says it all, legacy or not.
 */
function merged(account: Account, entry: Entry, t: number): AccountSnapshot {
  if (entry.snapshot.kind !== 'org') return entry.snapshot;
  let result: Record<string, unknown> | undefined;
  let effective = entry.at;
  for (const field of ADMIN_FIELDS) {
    const source = adminSource(account, field, t);
    // Neither the admin nor a legacy snapshot other than this one set it: this snapshot says it.
    if (source === undefined || source.legacy === entry) continue;
    result ??= { ...entry.snapshot };
    if (source.value === undefined) delete result[field];
    else result[field] = source.value;
    if (source.at > effective) effective = source.at;
  }
  if (result === undefined) return entry.snapshot;
  if (effective !== entry.at) result.effectiveAt = new Date(effective).toISOString();
  return result as AccountSnapshot;
}

/**
 * Where the admin-owned `field` in force at `t` comes from: the latest settings message setting
 * it, else the latest legacy snapshot (a full one: absent means none); undefined when neither
 * exists, i.e. the hub's snapshot in force says it.
 */
function adminSource(
  account: Account,
  field: AdminField,
  t: number,
): { at: number; value: unknown; legacy?: Entry } | undefined {
  const set = latestAt(account.settings[field], t);
  if (set !== undefined) return set;
  const legacy = latestAt(account.legacy, t);
  if (legacy === undefined) return undefined;
  const value = settingValue((legacy.snapshot as Record<string, unknown>)[field]);
  return { at: legacy.at, value, legacy };
}

/** Sorts `all` and splits it by the kind of its first entry. */
function partition(account: Account, all: Entry[]): void {
  all.sort(compare);
  const kind = all[0]?.snapshot.kind;
  account.kept = all.filter((e) => e.snapshot.kind === kind);
  account.ignored = all.filter((e) => e.snapshot.kind !== kind);
  account.legacy = account.kept.filter((e) => e.origin === 'legacy');
}

function compare(a: Dated, b: Dated): number {
  return a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** The first index whose (at, key) is ≥ `item`'s (binary search). */
function lowerBound(list: readonly Dated[], item: Dated): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid]!, item) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Inserts in (at, key) order. The messages arrive mostly in order, so this is usually an append.
 */
function insertSorted<T extends Dated>(list: T[], item: T): void {
  list.splice(lowerBound(list, item), 0, item);
}

/** The item with exactly this instant and key, if held. */
function findSorted<T extends Dated>(list: readonly T[], at: number, key: string): T | undefined {
  const found = list[lowerBound(list, { at, key })];
  return found !== undefined && found.at === at && found.key === key ? found : undefined;
}

/** The last item with at ≤ ms: among equal instants the greatest key, the tie winner. */
function latestAt<T extends Dated>(list: readonly T[], ms: number): T | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.at <= ms) lo = mid + 1;
    else hi = mid;
  }
  return list[lo - 1];
}

/** Epoch milliseconds of a Date or a number; refuses NaN rather than answering wrongly. */
export function instant(t: Date | number | string): number {
  const ms = typeof t === 'string' ? Date.parse(t) : typeof t === 'number' ? t : t.getTime();
  if (Number.isNaN(ms)) throw new RangeError(`not a valid instant: ${String(t)}`);
  return ms;
}

/** JSON with object keys sorted, so that equal messages get equal keys whatever their key order. */
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
