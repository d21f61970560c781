import { accountMonth } from '@nanobill/accounts';
import type { AccountHistory } from '@nanobill/attribution';
import { monthBounds } from '@nanobill/calendar';
import { statementLine, type StatementLine, type StatementStatus } from '@nanobill/credits';

/** What a month's statements are made of (read by `readMonthActivity`). */
export interface MonthActivity {
  /** Routed cost per billed account of the month's own requests, priced before `pricedBefore`. */
  gross: Map<string, bigint>;
  /** Late costs of earlier, already final months, priced during this month. */
  adjustments: Map<string, bigint>;
  customKeyRequests: Map<string, number>;
}

/** A statement line with the part of its gross that corrects earlier, final months. */
export type StoredLine = StatementLine & { adjustment: bigint };

/** The money fields of a statement line (nano-USD, `bigint`). */
export const AMOUNTS = [
  'gross',
  'adjustment',
  'credits_granted',
  'credits_applied',
  'payable',
  'written_off',
] as const satisfies ReadonlyArray<keyof StoredLine>;

/** An account whose line could not be computed, and why. */
export interface FailedAccount {
  accountId: string;
  error: unknown;
}

/**
 * One line per account with any activity in the month; pure given the activity and history.
 * Each account is computed on its own: one whose history cannot be read (e.g. a plan history that
 * mixes user and org facts) is returned in `failed` and never stops the others' lines.
 */
export function statementLines(
  month: string,
  activity: MonthActivity,
  history: AccountHistory,
  status: StatementStatus,
): { lines: StatementLine[]; failed: FailedAccount[] } {
  const accounts = new Set([
    ...activity.gross.keys(),
    ...activity.adjustments.keys(),
    ...activity.customKeyRequests.keys(),
  ]);
  const { end } = monthBounds(month);
  const lines: StatementLine[] = [];
  const failed: FailedAccount[] = [];
  for (const accountId of [...accounts].sort()) {
    try {
      const account = accountMonth(history, accountId, month, end.getTime() - 1);
      const { facts } = account;
      lines.push(
        statementLine({
          month,
          accountId,
          accountKind: facts.kind,
          plan: facts.plan,
          gross: activity.gross.get(accountId) ?? 0n,
          adjustment: activity.adjustments.get(accountId) ?? 0n,
          grant: account.grant,
          payAsYouGo: account.payAsYouGo,
          customKeyRequests: activity.customKeyRequests.get(accountId) ?? 0,
          status,
        }),
      );
    } catch (error) {
      failed.push({ accountId, error });
    }
  }
  return { lines, failed };
}
