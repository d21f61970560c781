import type { NanoUsd } from '@nanobill/money';
import { monthBounds, toInstant } from '@nanobill/calendar';
import { checkFacts, grantAt, type PlanFacts } from './plans.js';

/** One account snapshot, as far as credits care: from `effectiveAt` on, `facts` hold. */
export interface PlanSnapshot {
  effectiveAt: Date | string;
  facts: PlanFacts;
}

export interface MonthGrantOptions {
  /**
   * The facts assumed when no snapshot is in force at the month's first instant, e.g. a free
   * user for a user without a snapshot past the grace period (docs/contract.md §5). Without it such
   * a stretch of the month grants nothing.
   */
  defaultFacts?: PlanFacts;
}

/**
 * The plan facts an account held at some moment of a calendar month (UTC), the base of every
 * "largest during the month" rule (docs/contract.md §5):
 * - the snapshot in force at the month's first instant: the latest with effectiveAt ≤ start
 *   (several with the same effectiveAt: the last one in `history` order wins), or
 *   `defaultFacts` when there is none;
 * - every snapshot with start ≤ effectiveAt < end.
 * A snapshot effective exactly at the month's start counts for that month and replaces the one
 * before it; one effective exactly at the next month's start does not count.
 *
 * Empty when there is no snapshot at or before the month's end and no `defaultFacts`.
 * `history` need not be sorted. Throws on an invalid month, instant or facts.
 *
 * One account id is never both a user and an org (docs/contract.md §5): the accounts service
 * refuses a snapshot that changes the kind, but a history stored before that check may mix them.
 * Then the kind first seen holds: the kind of the earliest snapshot (on a tie, the first of them in
 * `history` order), or `defaultFacts`' kind for an empty history.
 * Facts of the other kind, `defaultFacts` included, are ignored (the account history reports
 * such snapshots when it reads them), so one bad snapshot never stops a month's computation.
 */
export function monthPlans(
  history: ReadonlyArray<PlanSnapshot>,
  month: string,
  options: MonthGrantOptions = {},
): PlanFacts[] {
  const { start, end } = monthBounds(month);
  const startMs = start.getTime();
  const endMs = end.getTime();
  const defaultFacts = options.defaultFacts && checkFacts(options.defaultFacts);
  const dated = history.map((s) => ({
    at: toInstant(s.effectiveAt).getTime(),
    facts: checkFacts(s.facts),
  }));
  const kind = firstKind(dated) ?? defaultFacts?.kind;

  let inForceAtStart: { at: number; facts: PlanFacts } | undefined;
  const held: PlanFacts[] = [];
  for (const { at, facts } of dated) {
    if (facts.kind !== kind) continue;
    if (at <= startMs && (inForceAtStart === undefined || at >= inForceAtStart.at)) {
      inForceAtStart = { at, facts };
    }
    if (at >= startMs && at < endMs) held.push(facts);
  }

  const atStart = inForceAtStart?.facts ?? (defaultFacts?.kind === kind ? defaultFacts : undefined);
  if (atStart !== undefined) held.push(atStart);
  return held;
}

/** The kind of the earliest snapshot (the first in order among equal instants), if any. */
function firstKind(
  dated: ReadonlyArray<{ at: number; facts: PlanFacts }>,
): PlanFacts['kind'] | undefined {
  let first: { at: number; facts: PlanFacts } | undefined;
  for (const entry of dated) if (first === undefined || entry.at < first.at) first = entry;
  return first?.facts.kind;
}

/**
 * The credits granted for a calendar month (UTC): the largest grant the account held at any
 * moment of the month (docs/contract.md §5), over `monthPlans`. Upgrades thus count at once and
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
