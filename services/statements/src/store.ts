import type { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthBounds, type StatementLine, type StatementStatus } from '@nanobill/credits';
import { fitsInt64, formatUsd } from '@nanobill/money';
import { readMonthActivity, statementLines } from './compute.js';

/** A statement line with the part of its gross that corrects earlier, final months. */
export type StoredLine = StatementLine & { adjustment: bigint };

/** Rows still in flight when a month is closed are given this long to be stored. */
const SETTLE_MS = 5 * 60 * 1000;

export async function finalizedMonths(clickhouse: ClickHouseClient): Promise<Map<string, number>> {
  const result = await clickhouse.query({
    query:
      'SELECT month, toUnixTimestamp64Milli(min(finalized_at)) FROM billing.statement_months GROUP BY month',
    format: 'JSONCompactEachRow',
  });
  return new Map((await result.json<[string, string]>()).map(([month, at]) => [month, Number(at)]));
}

/**
 * The month's statements: the stored final lines once the month is final, otherwise a draft
 * computed now from the ledger, billing.usage and the account history.
 */
export async function monthStatements(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  now: Date,
): Promise<StoredLine[]> {
  const finalized = await finalizedMonths(clickhouse);
  if (finalized.has(month)) return readStored(clickhouse, month);
  return compute(clickhouse, history, month, now, finalized, 'draft');
}

async function compute(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  now: Date,
  finalized: ReadonlyMap<string, number>,
  status: StatementStatus,
  pricedBeforeMs?: number,
): Promise<StoredLine[]> {
  const activity = await readMonthActivity(clickhouse, history, month, {
    pricedBeforeMs,
    finalized,
    now,
  });
  return statementLines(month, activity, history, status).map((line) => ({
    ...line,
    adjustment: activity.adjustments.get(line.account_id) ?? 0n,
  }));
}

/**
 * Turns a month final once the pricing deadline has passed for all its requests: its end plus
 * the deadline is behind us and none of its requests is still pending. The lines and the month's
 * finalization instant share one cutoff, so every ledger row is in exactly one statement.
 */
export async function finalizeIfDue(
  clickhouse: ClickHouseClient,
  history: AccountHistory,
  month: string,
  options: { now: Date; deadlineMs: number; onRefused?: OnRefused },
): Promise<boolean> {
  const finalized = await finalizedMonths(clickhouse);
  if (finalized.has(month)) return false;
  const { end } = monthBounds(month);
  if (options.now.getTime() < end.getTime() + options.deadlineMs + SETTLE_MS) return false;
  if ((await stillPending(clickhouse, month)) > 0) return false;
  const cutoff = options.now.getTime() - SETTLE_MS;
  const lines = await compute(clickhouse, history, month, options.now, finalized, 'final', cutoff);
  await writeLines(clickhouse, lines, options.now, options.onRefused);
  await clickhouse.insert({
    table: 'billing.statement_months',
    values: [{ month, finalized_at: new Date(cutoff).toISOString() }],
    format: 'JSONEachRow',
  });
  return true;
}

/** A line that cannot be stored, and why. */
export type OnRefused = (line: StoredLine, reason: string) => void;

/** The money fields of a statement line (nano-USD, `bigint`). */
export const AMOUNTS = [
  'gross',
  'adjustment',
  'credits_granted',
  'credits_applied',
  'payable',
  'written_off',
] as const satisfies ReadonlyArray<keyof StoredLine>;

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

export async function writeLines(
  clickhouse: ClickHouseClient,
  all: StoredLine[],
  computedAt: Date,
  onRefused: OnRefused = () => undefined,
): Promise<void> {
  const { storable: lines, refused } = storableLines(all);
  for (const { line, reason } of refused) onRefused(line, reason);
  if (lines.length === 0) return;
  await clickhouse.insert({
    table: 'billing.statement_lines',
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

/** Requests of the month still waiting for their cost. */
async function stillPending(clickhouse: ClickHouseClient, month: string): Promise<number> {
  const result = await clickhouse.query({
    query: `SELECT count() FROM (
              SELECT provider, provider_request_id FROM billing.pricing_pending
              WHERE toYYYYMM(event_time) = {m:UInt32}
              GROUP BY provider, provider_request_id
              HAVING (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.ledger_entries)
                 AND (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.unpriced_entries))`,
    query_params: { m: Number(month.replace('-', '')) },
    format: 'JSONCompactEachRow',
  });
  return Number((await result.json<[string]>())[0]?.[0] ?? 0);
}
