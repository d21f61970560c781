import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { type StatementStatus } from '@nanobill/credits';
import { monthBounds, monthOf } from '@nanobill/calendar';
import { fitsInt64, formatUsd } from '@nanobill/money';
import {
  AMOUNTS,
  finalizedMonths,
  readMonthActivity,
  statementLines,
  type FailedAccount,
  type StoredLine,
} from '@nanobill/statement-lines';
import { monthsWithPricingRows, openPendingCount } from '@nanobill/tables';

/** Rows still in flight when a month is closed are given this long to be stored. */
const SETTLE_MS = 5 * 60 * 1000;
/**
 * A claim is read back this long after it was stored, so that a claim another instance stored
 * at the same moment (an earlier server clock, committed a little later) is seen by both.
 */
export const CLAIM_SETTLE_MS = 1_000;

/** Final months whose every account's final line is stored (`billing.statement_months`). */
async function completedMonths(clickhouse: ClickHouseClient): Promise<Set<string>> {
  const result = await clickhouse.query({
    query: 'SELECT DISTINCT month FROM billing.statement_months',
    format: 'JSONCompactEachRow',
  });
  return new Set((await result.json<[string]>()).map(([month]) => month));
}

/**
 * The month's statements: the stored lines once the month is final and complete; for a final
 * month not complete yet, its final lines computed at its cut-off; otherwise a draft computed now
 * from the ledger, billing.usage and the account history.
 */
export async function monthStatements(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  now: Date,
): Promise<StoredLine[]> {
  const finalized = await finalizedMonths(clickhouse);
  if ((await completedMonths(clickhouse)).has(month)) return readStored(clickhouse, month);
  const cutoff = finalized.get(month);
  const status = cutoff === undefined ? 'draft' : 'final';
  return (await compute(clickhouse, history, month, now, finalized, status, cutoff)).lines;
}

async function compute(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  now: Date,
  finalized: ReadonlyMap<string, number>,
  status: StatementStatus,
  pricedBeforeMs?: number,
): Promise<{ lines: StoredLine[]; failed: FailedAccount[] }> {
  const activity = await readMonthActivity(clickhouse, history, month, {
    pricedBeforeMs,
    // Adjustments come from earlier final months only.
    finalized: new Map([...finalized].filter(([other]) => other !== month)),
    now,
  });
  const { lines, failed } = statementLines(month, activity, history, status);
  return {
    lines: lines.map((line) => ({
      ...line,
      adjustment: activity.adjustments.get(line.account_id) ?? 0n,
    })),
    failed,
  };
}

/** What one pass over a month did. */
export type MonthOutcome =
  | { kind: 'final' | 'finalizing' | 'draft'; failed: FailedAccount[] }
  | { kind: 'complete'; failed: [] };

export interface MonthOptions {
  now: Date;
  deadlineMs: number;
  onRefused?: OnRefused;
  /** Default `CLAIM_SETTLE_MS`. */
  claimSettleMs?: number;
}

/**
 * Brings one month's statements up to date: a month already final and complete is left alone;
 * a month due (its end plus the pricing deadline is behind us and none of its requests is still
 * pending) is claimed; a claimed month gets its final lines, computed at the winning claim's
 * cut-off, and is complete once every account's line is stored; any other month gets drafts.
 *
 * Idempotent and safe beside another instance: every instance finalizing a month uses the one
 * cut-off of the first claim, so the final lines are the same whoever writes them, and they live
 * apart from drafts (billing.statement_drafts), so no draft ever replaces one.
 */
export async function refreshMonth(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  options: MonthOptions,
): Promise<MonthOutcome> {
  if ((await completedMonths(clickhouse)).has(month)) return { kind: 'complete', failed: [] };
  let finalized = await finalizedMonths(clickhouse);
  if (!finalized.has(month) && (await isDue(clickhouse, month, options))) {
    await claim(clickhouse, month, options.now.getTime() - SETTLE_MS);
    await sleep(options.claimSettleMs ?? CLAIM_SETTLE_MS);
    finalized = await finalizedMonths(clickhouse);
  }
  const cutoff = finalized.get(month);
  const final = cutoff !== undefined;
  const { lines, failed } = await compute(
    clickhouse,
    history,
    month,
    options.now,
    finalized,
    final ? 'final' : 'draft',
    cutoff,
  );
  const table = final ? 'billing.statement_lines' : 'billing.statement_drafts';
  const refused = await writeLines(clickhouse, table, lines, options.now, options.onRefused);
  if (!final) return { kind: 'draft', failed };
  // Complete once every account has its final line; until then each pass computes the missing
  // ones again at the same cut-off (the others are rewritten with the same figures).
  if (failed.length > 0 || refused > 0) return { kind: 'finalizing', failed };
  await clickhouse.insert({
    table: 'billing.statement_months',
    values: [{ month, finalized_at: new Date(cutoff).toISOString() }],
    format: 'JSONEachRow',
  });
  return { kind: 'final', failed };
}

async function isDue(
  clickhouse: ClickHouseClient,
  month: string,
  options: { now: Date; deadlineMs: number },
): Promise<boolean> {
  const { end } = monthBounds(month);
  if (options.now.getTime() < end.getTime() + options.deadlineMs + SETTLE_MS) return false;
  return (await openPendingCount(clickhouse, month)) === 0;
}

async function claim(clickhouse: ClickHouseClient, month: string, cutoffMs: number) {
  await clickhouse.insert({
    table: 'billing.statement_claims',
    values: [{ month, cutoff: new Date(cutoffMs).toISOString(), claim_id: randomUUID() }],
    format: 'JSONEachRow',
  });
}

/**
 * Turns a month final once it is due (see `refreshMonth`); true when this call completed it.
 */
export async function finalizeIfDue(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  options: MonthOptions,
): Promise<boolean> {
  return (await refreshMonth(clickhouse, history, month, options)).kind === 'final';
}

/**
 * The months with work left, oldest first: every month with requests (billing.usage) or priced
 * rows (the ledger) that is not final and complete, any month with requests still pending, and
 * always the previous and the current month (late adjustments land there).
 */
export async function monthsWithWork(clickhouse: ClickHouseClient, now: Date): Promise<string[]> {
  const result = await clickhouse.query({
    // From the table itself, not system.parts: on a cluster this name is a Distributed table
    // without parts of its own, and system.parts shows one node only.
    query: 'SELECT toString(toYYYYMM(event_time)) AS m FROM billing.usage GROUP BY m',
    format: 'JSONCompactEachRow',
  });
  const yyyymm = [
    ...(await result.json<[string]>()).map(([m]) => m),
    ...(await monthsWithPricingRows(clickhouse)),
  ];
  const months = new Set(yyyymm.map((p) => `${p.slice(0, 4)}-${p.slice(4, 6)}`));
  const current = monthOf(now);
  months.add(current);
  months.add(monthOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))));
  const complete = await completedMonths(clickhouse);
  return [...months].filter((m) => !complete.has(m) && m <= current).sort();
}

/** A line that cannot be stored, and why. */
export type OnRefused = (line: StoredLine, reason: string) => void;

/**
 * The lines whose every amount fits the Int64 columns of `billing.statement_lines`, and the
 * others with the reason: ClickHouse would wrap such a figure silently, so that account's line
 * is kept out (and reported by the caller) while the others are stored.
 */
export function storableLines(lines: readonly StoredLine[]): {
  storable: StoredLine[];
  refused: Array<{ line: StoredLine; reason: string }>;
} {
  const storable: StoredLine[] = [];
  const refused: Array<{ line: StoredLine; reason: string }> = [];
  for (const line of lines) {
    const field = AMOUNTS.find((name) => !fitsInt64(line[name]));
    if (field === undefined) storable.push(line);
    else {
      refused.push({
        line,
        reason: `${field} ${formatUsd(line[field])} does not fit an Int64 column of nano-USD`,
      });
    }
  }
  return { storable, refused };
}

/** Stores the lines that fit their columns; returns how many were refused. */
export async function writeLines(
  clickhouse: ClickHouseClient,
  table: 'billing.statement_lines' | 'billing.statement_drafts',
  all: StoredLine[],
  computedAt: Date,
  onRefused: OnRefused = () => undefined,
): Promise<number> {
  const { storable: lines, refused } = storableLines(all);
  for (const { line, reason } of refused) onRefused(line, reason);
  if (lines.length === 0) return refused.length;
  await clickhouse.insert({
    table,
    format: 'JSONEachRow',
    values: lines.map((l) => ({
      month: l.month,
      account_id: l.account_id,
      account_kind: l.account_kind,
      plan: l.plan,
      gross_nano_usd: l.gross.toString(),
      adjustment_nano_usd: l.adjustment.toString(),
      credits_granted_nano_usd: l.credits_granted.toString(),
      credits_applied_nano_usd: l.credits_applied.toString(),
      payable_nano_usd: l.payable.toString(),
      written_off_nano_usd: l.written_off.toString(),
      custom_key_requests: l.custom_key_requests,
      status: l.status,
      computed_at: computedAt.toISOString(),
    })),
  });
  return refused.length;
}

async function readStored(clickhouse: ClickHouseClient, month: string): Promise<StoredLine[]> {
  const result = await clickhouse.query({
    query: 'SELECT * FROM billing.statements WHERE month = {month:String} ORDER BY account_id',
    query_params: { month },
    format: 'JSONEachRow',
  });
  type Row = Record<string, string>;
  return (await result.json<Row>()).map((r) => ({
    month: r.month!,
    account_id: r.account_id!,
    account_kind: r.account_kind as StoredLine['account_kind'],
    plan: r.plan!,
    gross: BigInt(r.gross_nano_usd!),
    adjustment: BigInt(r.adjustment_nano_usd!),
    credits_granted: BigInt(r.credits_granted_nano_usd!),
    credits_applied: BigInt(r.credits_applied_nano_usd!),
    payable: BigInt(r.payable_nano_usd!),
    written_off: BigInt(r.written_off_nano_usd!),
    custom_key_requests: Number(r.custom_key_requests),
    status: r.status as StoredLine['status'],
  }));
}
