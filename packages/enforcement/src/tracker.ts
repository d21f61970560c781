import { checkMonth } from '@nanobill/calendar';
import type { NanoUsd } from '@nanobill/money';
import { checkAmount, checkNonEmpty } from './check.js';

/** An account-month whose spend a call moved. */
export interface SpendChange {
  accountId: string;
  month: string;
  before: NanoUsd;
  after: NanoUsd;
}

export interface SpendBreakdown {
  /** Real costs of priced requests. */
  priced: NanoUsd;
  /** Estimates of requests seen but not yet priced. */
  estimated: NanoUsd;
  /** priced + estimated: the month-to-date spend enforcement uses (docs/contract.md §6). */
  spend: NanoUsd;
  /** How many requests are still estimated. */
  outstanding: number;
}

/**
 * Where a request stands: estimated (its estimate counts), priced (its real cost counts) or
 * unpriced (past the pricing deadline without a cost: nothing counts).
 */
type RequestState = 'estimated' | 'priced' | 'unpriced';

/** What one request currently contributes: its estimate until settled, then its real cost or 0. */
interface Contribution {
  accountId: string;
  month: string;
  nano: NanoUsd;
  state: RequestState;
  /** When it was priced or unpriced (epoch ms), for `forgetSettled`. */
  settledAtMs: number;
}

/** One account's month in the books: what `books` lists. */
export interface AccountBooks {
  accountId: string;
  priced: NanoUsd;
  estimated: NanoUsd;
  outstanding: number;
}

interface Totals {
  priced: NanoUsd;
  estimated: NanoUsd;
  outstanding: number;
}

/**
 * Month-to-date spend per account (docs/contract.md §6): priced cost + estimates for requests seen
 * but not yet priced. In memory, no I/O, no clock (months and instants are passed in).
 *
 * Each request (by `requestKey`) contributes exactly one amount to exactly one account-month at
 * any time, so nothing is ever counted twice:
 * - `estimate` records an estimate for a request not seen before; otherwise it does nothing
 *   (a repeated estimate, or an estimate arriving after the price, is ignored).
 * - `price` records the real cost and removes the request's estimate, wherever that estimate
 *   was counted (the priced account or month may differ, e.g. after attribution). Only the
 *   first price counts; later ones (redeliveries) do nothing.
 * - `unpriced` removes the estimate of a request that pricing gave up on (billing.unpriced): it
 *   then counts nothing. The ledger is the truth for money: a request already priced stays
 *   priced (its cost counts), and one priced after being unpriced counts its cost.
 * - `addPriced` adds cost known only as a sum (what the ledger held at start-up).
 * - `forgetSettled(beforeMs)` drops the memory of requests priced or unpriced before that
 *   instant, keeping their amounts: memory stays bounded by the estimates outstanding plus
 *   recent settlements. The caller stops estimating requests that old, since a forgotten request
 *   would count twice.
 * - `rollover(month)` forgets every month before `month`; calls for such months are then
 *   ignored, so a late redelivery cannot resurrect a forgotten request.
 *
 * The mutating calls return the account-months whose spend moved (none for a no-op), with the
 * spend before and after: what `accountStatus` and `thresholdCrossings` need.
 */
export class SpendTracker {
  readonly #requests = new Map<string, Contribution>();
  readonly #totals = new Map<string, Map<string, Totals>>(); // month → account → totals
  #floor: string | undefined;

  /** Counts an estimate for a request not seen yet (idempotent per requestKey). */
  estimate(requestKey: string, accountId: string, month: string, nano: NanoUsd): SpendChange[] {
    this.#check(requestKey, accountId, month, nano);
    if (this.#ignored(month) || this.#requests.has(requestKey)) return [];
    return this.#apply(requestKey, { accountId, month, nano, state: 'estimated', settledAtMs: 0 });
  }

  /** Counts a request's real cost, replacing its estimate if any (idempotent per requestKey). */
  price(
    requestKey: string,
    accountId: string,
    month: string,
    nano: NanoUsd,
    pricedAtMs: number,
  ): SpendChange[] {
    this.#check(requestKey, accountId, month, nano);
    checkInstant('pricedAtMs', pricedAtMs);
    if (this.#ignored(month) || this.#requests.get(requestKey)?.state === 'priced') return [];
    return this.#apply(requestKey, {
      accountId,
      month,
      nano,
      state: 'priced',
      settledAtMs: pricedAtMs,
    });
  }

  /**
   * A request pricing gave up on: its estimate, if any, leaves the spend (idempotent per
   * requestKey). Does nothing to a priced request: the ledger's cost stands. Remembered, so a
   * later estimate of it (a redelivery) is ignored; a later price still counts.
   */
  unpriced(requestKey: string, month: string, unpricedAtMs: number): SpendChange[] {
    checkNonEmpty('requestKey', requestKey);
    checkMonth(month);
    checkInstant('unpricedAtMs', unpricedAtMs);
    const previous = this.#requests.get(requestKey);
    if (this.#ignored(month) || (previous !== undefined && previous.state !== 'estimated')) {
      return [];
    }
    return this.#apply(requestKey, {
      accountId: previous?.accountId ?? '',
      month: previous?.month ?? month,
      nano: 0n,
      state: 'unpriced',
      settledAtMs: unpricedAtMs,
    });
  }

  /** Adds priced cost known only as a sum, e.g. the ledger's month-to-date at start-up. */
  addPriced(accountId: string, month: string, nano: NanoUsd): SpendChange[] {
    checkNonEmpty('accountId', accountId);
    checkMonth(month);
    checkAmount('nano', nano);
    if (this.#ignored(month) || nano === 0n) return [];
    const before = this.spend(accountId, month);
    this.#add({ accountId, month, nano, state: 'priced', settledAtMs: 0 }, 1n);
    return [{ accountId, month, before, after: this.spend(accountId, month) }];
  }

  /**
   * Forgets which requests were priced or unpriced before `beforeMs` (their amounts stay
   * counted). Returns how many were forgotten.
   */
  forgetSettled(beforeMs: number): number {
    let forgotten = 0;
    for (const [key, c] of this.#requests) {
      if (c.state !== 'estimated' && c.settledAtMs < beforeMs) {
        this.#requests.delete(key);
        forgotten++;
      }
    }
    return forgotten;
  }

  /** Requests remembered: outstanding estimates plus settlements not forgotten yet. */
  get remembered(): number {
    return this.#requests.size;
  }

  /** Month-to-date spend: priced + outstanding estimates (0 for an unknown account or month). */
  spend(accountId: string, month: string): NanoUsd {
    return this.breakdown(accountId, month).spend;
  }

  breakdown(accountId: string, month: string): SpendBreakdown {
    const totals = this.#totals.get(checkMonth(month))?.get(accountId);
    if (totals === undefined) return { priced: 0n, estimated: 0n, spend: 0n, outstanding: 0 };
    return { ...totals, spend: totals.priced + totals.estimated };
  }

  /** Every account of `month` with its breakdown: the books the audit compares with the ledger. */
  books(month: string): AccountBooks[] {
    const accounts = this.#totals.get(checkMonth(month)) ?? new Map<string, Totals>();
    return [...accounts].map(([accountId, totals]) => ({ accountId, ...totals }));
  }

  /** The accounts with anything recorded in `month`. */
  accounts(month: string): string[] {
    return [...(this.#totals.get(checkMonth(month))?.keys() ?? [])];
  }

  /** Forgets every month before `month` (the floor only moves forward). */
  rollover(month: string): void {
    checkMonth(month);
    if (this.#floor !== undefined && month <= this.#floor) return;
    this.#floor = month;
    for (const m of this.#totals.keys()) if (m < month) this.#totals.delete(m);
    for (const [key, c] of this.#requests) if (c.month < month) this.#requests.delete(key);
  }

  #apply(requestKey: string, next: Contribution): SpendChange[] {
    const previous = this.#requests.get(requestKey);
    const touched: { accountId: string; month: string; before: NanoUsd }[] = [];
    const touch = (accountId: string, month: string) => {
      if (!touched.some((t) => t.accountId === accountId && t.month === month)) {
        touched.push({ accountId, month, before: this.spend(accountId, month) });
      }
    };
    if (previous !== undefined && previous.state !== 'unpriced') {
      touch(previous.accountId, previous.month);
    }
    if (next.state !== 'unpriced') touch(next.accountId, next.month);

    if (previous !== undefined) this.#add(previous, -1n);
    this.#add(next, 1n);
    this.#requests.set(requestKey, next);

    return touched
      .map((t) => ({ ...t, after: this.spend(t.accountId, t.month) }))
      .filter((t) => t.before !== t.after);
  }

  #add(c: Contribution, sign: 1n | -1n): void {
    if (c.state === 'unpriced') return; // counts nothing, anywhere
    let accounts = this.#totals.get(c.month);
    if (accounts === undefined) this.#totals.set(c.month, (accounts = new Map()));
    let totals = accounts.get(c.accountId);
    if (totals === undefined) {
      accounts.set(c.accountId, (totals = { priced: 0n, estimated: 0n, outstanding: 0 }));
    }
    if (c.state === 'priced') {
      totals.priced += sign * c.nano;
    } else {
      totals.estimated += sign * c.nano;
      totals.outstanding += Number(sign);
    }
  }

  #ignored(month: string): boolean {
    return this.#floor !== undefined && month < this.#floor;
  }

  #check(requestKey: string, accountId: string, month: string, nano: NanoUsd): void {
    checkNonEmpty('requestKey', requestKey);
    checkNonEmpty('accountId', accountId);
    checkMonth(month);
    checkAmount('nano', nano);
  }
}

function checkInstant(name: string, ms: number): void {
  if (!Number.isFinite(ms)) throw new RangeError(`${name} must be an instant`);
}
