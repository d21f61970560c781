import type { NanoUsd } from '@nanobill/money';
import { monthBounds, toInstant } from './month.js';
import { checkFacts, grantAt, type PlanFacts } from './plans.js';

/** One account snapshot, as far as credits care: from `effectiveAt` on, `facts` hold. */
export interface PlanSnapshot {
  effectiveAt: Date | string;
  facts: PlanFacts;
}

export interface MonthGrantOptions {
  /**
   * The facts assumed when no snapshot is in force at the month's first instant, e.g. a free
   * user for a user without a snapshot past the grace period (PRODUCT.md §5). Without it such
   * a stretch of the month grants nothing.
   */
  defaultFacts?: PlanFacts;
}

/**
 * The plan facts an account held at some moment of a calendar month (UTC), the base of every
 * "largest during the month" rule (PRODUCT.md §5):
 * - the snapshot in force at the month's first instant: the latest with effectiveAt ≤ start
 *   (several with the same effectiveAt: the last one in `history` order wins), or
 *   `defaultFacts` when there is none;
 * - every snapshot with start ≤ effectiveAt < end.
 * A snapshot effective exactly at the month's start counts for that month and replaces the one
 * before it; one effective exactly at the next month's start does not count.
 *
 * Empty when there is no snapshot at or before the month's end and no `defaultFacts`.
 * `history` need not be sorted. Throws on an invalid month, instant or facts, and on a history
 * that mixes user and org facts (one account id is never both, PRODUCT.md §5).
 */
export function monthPlans(
  history: ReadonlyArray<PlanSnapshot>,
  month: string,
  options: MonthGrantOptions = {},
): PlanFacts[] {
  const { start, end } = monthBounds(month);
  const startMs = start.getTime();
  const endMs = end.getTime();
  const kinds = new Set<PlanFacts['kind']>();
  if (options.defaultFacts !== undefined) kinds.add(checkFacts(options.defaultFacts).kind);

  let inForceAtStart: { at: number; facts: PlanFacts } | undefined;
  const held: PlanFacts[] = [];
  for (const snapshot of history) {
    const at = toInstant(snapshot.effectiveAt).getTime();
    kinds.add(checkFacts(snapshot.facts).kind);
    if (at <= startMs && (inForceAtStart === undefined || at >= inForceAtStart.at)) {
      inForceAtStart = { at, facts: snapshot.facts };
    }
    if (at >= startMs && at < endMs) held.push(snapshot.facts);
  }
  if (kinds.size > 1) throw new RangeError('plan history mixes user and org facts');

  const atStart = inForceAtStart?.facts ?? options.defaultFacts;
  if (atStart !== undefined) held.push(atStart);
  return held;
}

/**
 * The credits granted for a calendar month (UTC): the largest grant the account held at any
 * moment of the month (PRODUCT.md §5), over `monthPlans`. Upgrades thus count at once and
 * downgrades from the next month on. Returns 0n when no plan was held at all: callers that must
 * tell "no snapshot at all" from "a plan without credits" check the history themselves.
 */
export function monthGrant(
  history: ReadonlyArray<PlanSnapshot>,
  month: string,
  options: MonthGrantOptions = {},
): NanoUsd {
  let grant = 0n;
  for (const facts of monthPlans(history, month, options)) {
    const g = grantAt(facts);
    if (g > grant) grant = g;
  }
  return grant;
}
