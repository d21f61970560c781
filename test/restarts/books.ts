// The books of one month, checked from what nanobill stored (and, when given, from what the
// enforcement service holds): the end of every restart test. The same checks as `nanobill audit`
// (issue 13); kept as one function so that it can become a call to it. Soft assertions: every
// check reports, as the audit's table does, and the test fails if any found a violation.
import { expect } from 'vitest';
import { AccountFactsReader, accountMonth } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { pricingKey, spendingLimitOf } from '@nanobill/contract';
import { accountStatus, alertKey, thresholdsFor } from '@nanobill/enforcement';
import type { EnforcementService } from '@nanobill/enforcement-service';
import {
  AMOUNTS,
  finalizedMonths,
  readMonthActivity,
  statementLines,
  type StoredLine,
} from '@nanobill/statements';

type Row = Record<string, string>;

async function rows<T = Row>(
  clickhouse: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const result = await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' });
  return result.json<T>();
}

/**
 * Money stays exact in `month` (YYYY-MM):
 * - every request is in billing.usage once;
 * - every routed request that reached a provider is in exactly one of ledger, unpriced and
 *   pending; the ledger and unpriced tables hold no raw duplicate, and every rollup equals the
 *   ledger per account, dimension and hour (day);
 * - the statements (draft or final) equal a recomputation from the ledger and the account
 *   history, and a final line was never stored with other amounts;
 * - with `enforcement`: each account's live spend = its ledger month-to-date (+ estimates of
 *   still-pending requests), and its published status is what that spend and its limit say;
 * - each alert logged once, each threshold alert the ledger makes due raised, each unpriced
 *   request announced by one logged alert.
 */
export async function expectBooksBalanced(
  clickhouse: ClickHouseClient,
  month: string,
  enforcement?: EnforcementService,
): Promise<void> {
  const m = Number(month.replace('-', ''));
  const history = new AccountHistory();
  await new AccountFactsReader(clickhouse, history).refresh();

  // Usage: once per request.
  const [usage] = await rows(
    clickhouse,
    `SELECT toString(count()) AS n, toString(uniqExact(request_id)) AS ids
     FROM billing.usage WHERE toYYYYMM(event_time) = {m:UInt32}`,
    { m },
  );
  expect.soft(usage!.n, 'billing.usage rows vs request ids').toBe(usage!.ids);

  // Each reached routed request in exactly one of ledger, unpriced, pending.
  const keys = async (query: string) =>
    new Set(
      (await rows<{ p: string; id: string }>(clickhouse, query, { m })).map((r) =>
        pricingKey(r.p, r.id),
      ),
    );
  const reached = await keys(
    `SELECT provider AS p, assumeNotNull(provider_request_id) AS id FROM billing.usage
     WHERE toYYYYMM(event_time) = {m:UInt32} AND billing_mode = 'routed' AND provider_request_id IS NOT NULL`,
  );
  const ledger = await keys(
    `SELECT provider AS p, provider_request_id AS id FROM billing.ledger WHERE toYYYYMM(event_time) = {m:UInt32}`,
  );
  const unpriced = await keys(
    `SELECT provider AS p, provider_request_id AS id FROM billing.unpriced WHERE toYYYYMM(event_time) = {m:UInt32}`,
  );
  const pending = [
    ...(await keys(
      `SELECT provider AS p, provider_request_id AS id FROM billing.pricing_pending WHERE toYYYYMM(event_time) = {m:UInt32}`,
    )),
  ].filter((k) => !ledger.has(k) && !unpriced.has(k));
  expect
    .soft([...ledger].filter((k) => unpriced.has(k)).slice(0, 10), 'in ledger and unpriced')
    .toEqual([]);
  expect
    .soft(
      [...reached].filter((k) => !ledger.has(k) && !unpriced.has(k) && !pending.includes(k)),
      'reached requests in none of ledger, unpriced, pending',
    )
    .toEqual([]);
  expect
    .soft(
      [...ledger, ...unpriced].filter((k) => !reached.has(k)).slice(0, 10),
      'ledger or unpriced rows of no stored request',
    )
    .toEqual([]);
  for (const table of ['billing.ledger_entries', 'billing.unpriced_entries']) {
    const [raw] = await rows(
      clickhouse,
      `SELECT toString(count()) AS n, toString(uniqExact(provider, provider_request_id)) AS keys
       FROM ${table} WHERE toYYYYMM(event_time) = {m:UInt32}`,
      { m },
    );
    expect.soft(raw!.n, `${table}: raw rows vs distinct requests`).toBe(raw!.keys);
  }

  // Rollups = the ledger, per account and hour (day), per dimension.
  const ledgerBy = (groupBy: string, arrayJoin = '') =>
    `SELECT concat(${groupBy}) AS k, concat(toString(count()), ' ', toString(sum(toInt128(cost_nano_usd)))) AS v
     FROM billing.ledger ${arrayJoin} WHERE toYYYYMM(event_time) = {m:UInt32} GROUP BY k`;
  const rollupBy = (table: string, groupBy: string, time: string) =>
    `SELECT concat(${groupBy}) AS k, concat(toString(sum(requests)), ' ', toString(sum(toInt128(cost_nano_usd)))) AS v
     FROM ${table} WHERE toYYYYMM(${time}) = {m:UInt32} GROUP BY k`;
  const dimensions = `ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d`;
  const hour = `toString(toStartOfHour(event_time, 'UTC'))`;
  const day = `toString(toDate(event_time, 'UTC'))`;
  const rollups: Array<[string, string, string]> = [
    [
      'billing.usage_hourly',
      rollupBy('billing.usage_hourly', `billed_account, ' ', toString(hour)`, 'hour'),
      ledgerBy(`billed_account, ' ', ${hour}`),
    ],
    ...(
      [
        ['hourly', 'hour', hour],
        ['daily', 'day', day],
      ] as const
    ).map(([period, column, fromEventTime]): [string, string, string] => [
      `billing.usage_by_key_${period}`,
      rollupBy(
        `billing.usage_by_key_${period}`,
        `billed_account, ' ', dimension, ' ', key, ' ', toString(${column})`,
        column,
      ),
      ledgerBy(`billed_account, ' ', d.1, ' ', d.2, ' ', ${fromEventTime}`, dimensions),
    ]),
  ];
  for (const [table, rollup, fromLedger] of rollups) {
    const asMap = async (query: string) =>
      new Map(
        (await rows<{ k: string; v: string }>(clickhouse, query, { m })).map((r) => [r.k, r.v]),
      );
    const [got, want] = [await asMap(rollup), await asMap(fromLedger)];
    const differ = [...new Set([...got.keys(), ...want.keys()])]
      .filter((k) => got.get(k) !== want.get(k))
      .map((k) => `${k}: ${got.get(k) ?? 'none'} ≠ ledger ${want.get(k) ?? 'none'}`);
    expect.soft(differ.slice(0, 10), `${table} vs billing.ledger (requests, nano-USD)`).toEqual([]);
  }

  // Statements: stored = recomputed (at the month's cut-off once final); finals never rewritten.
  const finalized = await finalizedMonths(clickhouse);
  const cutoff = finalized.get(month);
  const activity = await readMonthActivity(clickhouse, history, month, {
    pricedBeforeMs: cutoff,
    finalized,
    now: new Date(),
  });
  const status = cutoff === undefined ? 'draft' : 'final';
  const recomputed = statementLines(month, activity, history, status).map((line) => ({
    ...line,
    adjustment: activity.adjustments.get(line.account_id) ?? 0n,
  }));
  // Each line's figures as one string, the same from the stored columns and from a line.
  const figures = (line: StoredLine) =>
    [
      ...AMOUNTS.map((name) => `${name} ${line[name]}`),
      `custom_key ${line.custom_key_requests}`,
      line.status,
    ].join(', ');
  const storedFigures = new Map(
    (
      await rows<{ account_id: string; figures: string }>(
        clickhouse,
        `SELECT account_id, concat(${AMOUNTS.map((name) => `'${name} ', toString(${name}_nano_usd)`).join(", ', ', ")},
                                   ', custom_key ', toString(custom_key_requests), ', ', status) AS figures
         FROM billing.statements WHERE month = {month:String}`,
        { month },
      )
    ).map((r) => [r.account_id, r.figures]),
  );
  const statementErrors = recomputed
    .filter((line) => storedFigures.get(line.account_id) !== figures(line))
    .map(
      (line) =>
        `${line.account_id}: stored ${storedFigures.get(line.account_id) ?? 'none'}; recomputed ${figures(line)}`,
    );
  expect
    .soft(
      statementErrors.slice(0, 10),
      `${month} statements vs a recomputation (${statementErrors.length} off)`,
    )
    .toEqual([]);
  expect.soft(storedFigures.size, `${month} statement lines`).toBe(recomputed.length);
  const rewritten = await rows(
    clickhouse,
    `SELECT account_id FROM billing.statement_lines WHERE month = {month:String} AND status = 'final'
     GROUP BY account_id
     HAVING uniqExact(gross_nano_usd, adjustment_nano_usd, credits_granted_nano_usd, credits_applied_nano_usd,
                      payable_nano_usd, written_off_nano_usd, custom_key_requests) > 1`,
    { month },
  );
  expect.soft(rewritten, 'final statement lines stored with other amounts').toEqual([]);

  // Live spend and statuses.
  const ledgerSums = new Map(
    (
      await rows<{ a: string; s: string }>(
        clickhouse,
        `SELECT billed_account AS a, toString(sum(toInt128(cost_nano_usd))) AS s FROM billing.ledger
         WHERE toYYYYMM(event_time) = {m:UInt32} GROUP BY a`,
        { m },
      )
    ).map((r) => [r.a, BigInt(r.s)]),
  );
  const at = new Date();
  const facts = (account: string) => {
    const state = accountMonth(history, account, month, at);
    const limit = state.snapshot?.kind === 'org' ? spendingLimitOf(state.snapshot) : undefined;
    return { ...state, limit };
  };
  if (enforcement) {
    const unresolved = await rows<{ a: string }>(
      clickhouse,
      `SELECT DISTINCT arrayJoin([user_id, ifNull(bill_to, user_id)]) AS a
       FROM (SELECT user_id, bill_to FROM billing.unpriced WHERE toYYYYMM(event_time) = {m:UInt32}
             UNION ALL
             SELECT user_id, bill_to FROM billing.pricing_pending WHERE toYYYYMM(event_time) = {m:UInt32})`,
      { m },
    );
    const accounts = [...new Set([...ledgerSums.keys(), ...unresolved.map((r) => r.a)])].sort();
    const spendErrors: string[] = [];
    let outstanding = 0;
    for (const account of accounts) {
      const live = enforcement.spend(account);
      const priced = ledgerSums.get(account) ?? 0n;
      outstanding += live.outstanding;
      if (live.priced !== priced)
        spendErrors.push(`${account}: priced ${live.priced} ≠ ledger ${priced}`);
      if (pending.length === 0 && (live.estimated !== 0n || live.outstanding !== 0))
        spendErrors.push(
          `${account}: ${live.outstanding} estimates (${live.estimated}) with nothing pending`,
        );
      const { facts: plan, grant, limit } = facts(account);
      const expected = accountStatus({
        kind: plan.kind,
        plan: plan.plan,
        grant,
        limit,
        spend: priced + (pending.length === 0 ? 0n : live.estimated),
      }).status;
      const published = enforcement.status(account)?.status ?? 'ok';
      if (published !== expected)
        spendErrors.push(`${account}: published ${published}, its spend says ${expected}`);
    }
    expect
      .soft(
        spendErrors.slice(0, 10),
        `enforcement spend = ledger + estimates (${spendErrors.length} off)`,
      )
      .toEqual([]);
    expect
      .soft(outstanding, 'estimates outstanding = requests pending')
      .toBeLessThanOrEqual(pending.length);
  }

  // Alerts: each logged once; each threshold the ledger reached raised.
  const twice = await rows(
    clickhouse,
    'SELECT alert_id FROM billing.alert_log GROUP BY alert_id HAVING count() > 1',
  );
  expect.soft(twice, 'alerts logged more than once').toEqual([]);
  const logged = new Set(
    (await rows<{ alert_id: string }>(clickhouse, 'SELECT alert_id FROM billing.alerts')).map(
      (r) => r.alert_id,
    ),
  );
  const missing: string[] = [];
  for (const [account, spend] of ledgerSums) {
    const { facts: plan, grant, limit, payAsYouGo } = facts(account);
    for (const t of thresholdsFor({ kind: plan.kind, plan: plan.plan, grant, limit, payAsYouGo })) {
      const id = alertKey(account, month, t.kind);
      if (t.threshold <= spend && !logged.has(id)) missing.push(`${id} (spend ${spend})`);
    }
  }
  expect
    .soft(missing.slice(0, 10), `threshold alerts due and never raised (${missing.length})`)
    .toEqual([]);
  // Every unpriced request announced, by an alert logged once.
  const [unannounced] = await rows(
    clickhouse,
    `SELECT toString(countIf(alert_id NOT IN (SELECT alert_id FROM billing.alert_log))) AS lost,
            toString(count()) AS n,
            toString((SELECT sum(JSONExtractUInt(details, 'count')) FROM billing.alerts
                      WHERE type = 'unpriced_requests' AND alert_id IN
                        (SELECT alert_id FROM billing.unpriced_entries FINAL WHERE toYYYYMM(event_time) = {m:UInt32}))) AS announced
     FROM billing.unpriced_entries FINAL WHERE toYYYYMM(event_time) = {m:UInt32} AND alert_id != ''`,
    { m },
  );
  expect.soft(unannounced!.lost, 'unpriced requests whose alert was never logged').toBe('0');
  expect
    .soft(unannounced!.announced, 'unpriced requests the logged alerts announce')
    .toBe(unannounced!.n);
  const total = [...ledgerSums.values()].reduce((sum, s) => sum + s, 0n);
  console.log(
    `books of ${month}: ${usage!.n} requests, ${ledger.size} priced (Σ ${total} nano-USD), ` +
      `${unpriced.size} unpriced, ${pending.length} pending; ${storedFigures.size} ${status} statement lines; ` +
      `${logged.size} alerts logged`,
  );
}
