import { setTimeout as sleep } from 'node:timers/promises';

/** The checks, in the order they are run and shown. */
export const CHECKS = ['usage', 'duplicates', 'statements', 'enforcement', 'alerts'] as const;
export type CheckName = (typeof CHECKS)[number];

/** One example of a violation: what is wrong (`problem`) and the row or figures that show it. */
export type Example = { problem: string } & Record<string, string | number | boolean | null>;

/**
 * What one check found. `ok` only when the check ran and found nothing: a check that could not
 * run here says why in `skipped` and is not ok (it never passes by default).
 */
export interface CheckResult {
  check: CheckName;
  month: string;
  ok: boolean;
  /** How many violations in all (`examples` holds the first ones). */
  violations: number;
  examples: Example[];
  /** What was checked, in one line (counts, e.g. the pending requests and the oldest's age). */
  summary: string;
  skipped?: string;
  /** Set when the check failed to run (e.g. a query failed): not ok either. */
  error?: string;
}

/** Examples shown per check. */
export const MAX_EXAMPLES = 10;

/** A check's result from its violations (all of them, or the first ones and the total). */
export function checked(
  check: CheckName,
  month: string,
  found: { examples: Example[]; total?: number; summary: string },
): CheckResult {
  const violations = found.total ?? found.examples.length;
  return {
    check,
    month,
    ok: violations === 0,
    violations,
    examples: found.examples.slice(0, MAX_EXAMPLES),
    summary: found.summary,
  };
}

export function skipped(check: CheckName, month: string, reason: string): CheckResult {
  return { check, month, ok: false, violations: 0, examples: [], summary: '', skipped: reason };
}

/** How a check run against a live pipeline confirms what it found before reporting it. */
export interface Confirmation {
  /** Runs of the check in all (≥ 1): a violation is reported only if every run saw one. */
  attempts: number;
  /** Wait between runs, so that rows in flight land. */
  delayMs: number;
}

/** For one-off audits on quiet data (tests, a stopped pipeline): one run, no wait. */
export const AT_ONCE: Confirmation = { attempts: 1, delayMs: 0 };

/**
 * A live pipeline moves while it is checked (a ledger insert lands between two reads, the
 * rollups a moment after the ledger): a check that finds a violation runs again, up to
 * `attempts` times, and only the last run's result is reported, and only if every run found one.
 */
export async function confirmed(
  run: () => Promise<CheckResult>,
  confirmation: Confirmation,
): Promise<CheckResult> {
  let result = await run();
  for (let attempt = 1; attempt < confirmation.attempts && result.violations > 0; attempt++) {
    await sleep(confirmation.delayMs);
    result = await run();
  }
  return result;
}

/** Nano-USD for an example: exact decimal digits. */
export const nano = (amount: bigint | string): string => amount.toString();
