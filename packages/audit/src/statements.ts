import type { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { StatementStatus } from '@nanobill/credits';
import {
  AMOUNTS,
  finalizedMonths,
  readMonthActivity,
  statementLines,
  type StoredLine,
} from '@nanobill/statement-lines';
import { checked, type CheckResult, type Example } from './result.js';
import { readHistory } from './history.js';
import { rows, yyyymm } from './sql.js';

export interface StatementsCheckOptions {
  month: string;
  now: Date;
  /** The account history; default: read from billing.account_snapshots now. */
  history?: AccountHistory;
  /**
   * A draft is compared for the accounts whose ledger rows, custom-key requests and snapshots
   * had all been stored this long before the draft was computed (what it could not have seen
   * is not its fault). Default 60 s.
   */
  settleMs?: number;
}

/** What is compared on each line: every field of the statement, the adjustment included. */
const FIELDS = [
  'account_kind',
  'plan',
  ...AMOUNTS,
  'custom_key_requests',
  'status',
] as const satisfies ReadonlyArray<keyof StoredLine>;

/** A stored line and when it was computed. */
type Stored = StoredLine & { computedAtMs: number };

/**
 * The statements check (docs/finance.md "Audit: the books checked", 3): the month's stored
 * statements (billing.statements) against a recomputation from the ledger, billing.usage and the
 * account history, by the code the statements service computes them with
 * (@nanobill/statement-lines: `readMonthActivity`, `statementLines`):
 * - a final month: recomputed over the ledger rows its finalization covered (priced before the
 *   cut-off: the first claim stored in billing.statement_claims), with the months final before it; any
 *   difference means a final statement changed, or the books under it did;
 * - a draft month: recomputed as the draft was, for the accounts nothing was stored for since
 *   shortly before the draft was computed (the others are counted in the summary).
 */
export async function checkStatements(
  clickhouse: ClickHouseClient,
  options: StatementsCheckOptions,
): Promise<CheckResult> {
  const { month } = options;
  const history = options.history ?? (await readHistory(clickhouse));
  const finalized = await finalizedMonths(clickhouse);
  const stored = await storedLines(clickhouse, month);
  const cutoff = finalizedCutoff(finalized, month);
  if (cutoff === undefined && stored.length === 0) {
    return checked('statements', month, { examples: [], summary: 'no statement stored yet' });
  }
  const status: StatementStatus = cutoff === undefined ? 'draft' : 'final';
  const earlier = new Map(
    [...finalized].filter(
      ([other, at]) => other !== month && (cutoff === undefined || at < cutoff),
    ),
  );
  const activity = await readMonthActivity(clickhouse, history, month, {
    pricedBeforeMs: cutoff,
    finalized: earlier,
    now: options.now,
  });
  const { lines, failed } = statementLines(month, activity, history, status);
  const recomputed = lines.map((line): StoredLine => ({
    ...line,
    adjustment: activity.adjustments.get(line.account_id) ?? 0n,
  }));
  const moved =
    status === 'final'
      ? new Set<string>()
      : await movedSince(
          clickhouse,
          month,
          stored.reduce((min, l) => Math.min(min, l.computedAtMs), Infinity) -
            (options.settleMs ?? 60_000),
        );
  // An account whose line cannot be computed has no statement finance can trust: a violation.
  const examples = [
    ...failed.map(({ accountId, error }) => ({
      problem: 'statement line cannot be computed',
      account_id: accountId,
      error: error instanceof Error ? error.message : String(error),
    })),
    ...differences(stored, recomputed, moved, status),
  ];
  const compared = new Set([...stored, ...recomputed].map((l) => l.account_id));
  const skippedAccounts = [...compared].filter((a) => moved.has(a)).length;
  return checked('statements', month, {
    examples,
    summary:
      `${status} month: ${stored.length} stored lines, ${recomputed.length} recomputed` +
      (skippedAccounts > 0 ? `, ${skippedAccounts} accounts moved since the draft` : ''),
  });
}

/**
 * The instant a final month's lines were cut at (ledger rows priced before it), as the
 * statements service stores it: the first claim in billing.statement_claims (`finalizedMonths`).
 */
export function finalizedCutoff(
  finalized: ReadonlyMap<string, number>,
  month: string,
): number | undefined {
  return finalized.get(month);
}

function differences(
  stored: readonly Stored[],
  recomputed: readonly StoredLine[],
  moved: ReadonlySet<string>,
  status: StatementStatus,
): Example[] {
  const examples: Example[] = [];
  const expected = new Map(recomputed.map((l) => [l.account_id, l]));
  const what = status === 'final' ? 'final statement' : 'draft statement';
  for (const line of stored) {
    if (moved.has(line.account_id)) continue;
    const want = expected.get(line.account_id);
    expected.delete(line.account_id);
    if (want === undefined) {
      examples.push({
        problem: `${what} line without activity in the ledger or billing.usage`,
        account_id: line.account_id,
        gross_nano_usd: line.gross.toString(),
      });
      continue;
    }
    const differing = FIELDS.filter((field) => line[field] !== want[field]);
    const first = differing[0];
    if (first === undefined) continue;
    examples.push({
      problem: `${what} differs from its recomputation`,
      account_id: line.account_id,
      fields: differing.join(', '),
      field: first,
      stored: String(line[first]),
      recomputed: String(want[first]),
    });
  }
  for (const [accountId, want] of expected) {
    if (moved.has(accountId)) continue;
    examples.push({
      problem: `${what} line missing`,
      account_id: accountId,
      gross_nano_usd: want.gross.toString(),
    });
  }
  return examples;
}

async function storedLines(clickhouse: ClickHouseClient, month: string): Promise<Stored[]> {
  const found = await rows<Record<string, string>>(
    clickhouse,
    `SELECT *, toUnixTimestamp64Milli(computed_at) AS computed_at_ms
     FROM billing.statements WHERE month = {month:String} ORDER BY account_id`,
    { month },
  );
  return found.map((r) => {
    const line = {
      month: r.month!,
      account_id: r.account_id!,
      account_kind: r.account_kind as StoredLine['account_kind'],
      plan: r.plan!,
      custom_key_requests: Number(r.custom_key_requests),
      status: r.status as StatementStatus,
      computedAtMs: Number(r.computed_at_ms),
    } as Stored;
    for (const amount of AMOUNTS) line[amount] = BigInt(r[`${amount}_nano_usd`]!);
    return line;
  });
}

/**
 * Accounts whose statement inputs were stored at or after `sinceMs`: ledger rows of the month
 * (or priced during it: adjustments), custom-key requests (the user and the org named), and
 * account snapshots.
 */
async function movedSince(
  clickhouse: ClickHouseClient,
  month: string,
  sinceMs: number,
): Promise<Set<string>> {
  const found = await rows<{ account: string }>(
    clickhouse,
    `SELECT DISTINCT account FROM (
       SELECT billed_account AS account FROM billing.ledger_entries
       WHERE (toYYYYMM(event_time) = {m:UInt32} OR toYYYYMM(priced_at) = {m:UInt32})
         AND greatest(inserted_at, priced_at) >= fromUnixTimestamp64Milli({since:Int64})
       UNION ALL
       SELECT arrayJoin([user_id, ifNull(bill_to, user_id)]) FROM billing.usage
       WHERE toYYYYMM(event_time) = {m:UInt32} AND billing_mode = 'custom_key'
         AND ingested_at >= fromUnixTimestamp64Milli({since:Int64})
       UNION ALL
       SELECT account_id FROM billing.account_snapshots
       WHERE ingested_at >= fromUnixTimestamp64Milli({since:Int64}))`,
    { m: yyyymm(month), since: sinceMs },
  );
  return new Set(found.map((r) => r.account));
}
