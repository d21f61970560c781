// `npm run bench:statements [-- --accounts N --rows M]`: statements for N accounts (default
// 100,000: 90 % users, 10 % orgs) over a month with M ledger rows (default 10,000,000), in
// embedded ClickHouse (or CLICKHOUSE_URL). The data is generated inside ClickHouse; then timed,
// each on the same data (issue 15, target 6: ≤ 10 s):
// 1. the statement lines computed (`monthStatements`: account history, ledger sums, custom-key
//    usage, credits, each account's line apart so that one failing account fails alone);
// 2. the statements service's pass over the month (`refreshMonth`, what it runs every 10 minutes:
//    the same computation, then the draft lines written, amounts checked against the columns);
// 3. `nanobill audit` of the month (`runAudit`) with the checks this data allows (duplicates,
//    statements, alerts: billing.usage is not generated and no enforcement service runs), and its
//    statements check alone (the stored drafts recomputed and compared).
import { parseArgs } from 'node:util';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { AT_ONCE, checkStatements, runAudit } from '@nanobill/audit';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { monthStatements, refreshMonth } from '@nanobill/statements';
import { tempDir } from '@nanobill/testkit';
import { writeBenchReport } from './report.js';

/** Issue 15, target 6. */
const TARGET_SECONDS = 10;
const MONTH = '2026-10';
/** The month's last day: statements are drafts (the month is not due yet). */
const NOW = new Date('2026-10-31T12:00:00Z');
/** The audit's checks this data allows (no billing.usage rows, no enforcement service). */
const AUDITED = ['duplicates', 'statements', 'alerts'] as const;

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    rows: { type: 'string', default: '10000000' },
  },
});
const accounts = Number(values.accounts);
const rows = Number(values.rows);
const orgs = Math.floor(accounts / 10);
const config = loadConfig();
const clickhouse = openClickHouse({
  url: config.clickhouseUrl,
  dataDir: tempDir('nanobill-bench-'),
});
await migrate(clickhouse);

console.log(
  `bench:statements: ${accounts} accounts (${orgs} orgs), ${rows} ledger rows in 2026-10`,
);
const t = performance.now();
await clickhouse.command({
  query: `INSERT INTO billing.account_snapshots (account_id, kind, plan, effective_at, seats, members, snapshot)
          SELECT id, kind, plan, '2026-09-01 00:00:00', if(kind = 'org', seats, NULL), [],
                 concat('{"schemaVersion":1,"accountId":"', id, '","kind":"', kind, '","plan":"', plan,
                        '","effectiveAt":"2026-09-01T00:00:00.000Z"',
                        if(kind = 'org', concat(',"seats":', toString(seats), ',"members":[]'), ''), '}')
          FROM (SELECT number < ${orgs} AS is_org,
                       if(is_org, concat('org-', toString(number)), concat('user-', toString(number))) AS id,
                       if(is_org, 'org', 'user') AS kind,
                       multiIf(is_org, if(number % 5 = 0, 'enterprise', 'team'), number % 5 = 0, 'pro', 'free') AS plan,
                       toUInt32(1 + number % 20) AS seats
                FROM numbers(${accounts}))`,
});
await clickhouse.command({
  query: `INSERT INTO billing.ledger_entries
            (provider, provider_request_id, request_id, event_time, priced_at, user_id,
             billed_account, attribution, attribution_reason, bill_to, model, task, cost_nano_usd,
             cost_source)
          SELECT 'groq', concat('p-', toString(number)), concat('r-', toString(number)),
                 toDateTime64('2026-10-01 00:00:00', 3, 'UTC') + toIntervalSecond(number % 2678400),
                 toDateTime64('2026-10-01 00:05:00', 3, 'UTC') + toIntervalSecond(number % 2678400),
                 a, a, if(startsWith(a, 'org-'), 'org', 'user'), '', if(startsWith(a, 'org-'), a, NULL),
                 'm', 'conversational', toInt64(1000 + cityHash64(number) % 50000000), 'provider_api'
          FROM (SELECT number, if(number % 10 = 0, concat('org-', toString(intDiv(number, 10) % ${orgs})),
                                   concat('user-', toString(${orgs} + number % ${accounts - orgs}))) AS a
                FROM numbers(${rows}))`,
});
console.log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);

/** Seconds `work` takes, and its result. */
async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { seconds: Number(((performance.now() - started) / 1000).toFixed(2)), value };
}
const history = async () => {
  const reader = new AccountFactsReader(clickhouse, new AccountHistory());
  await reader.refresh();
  return reader.history;
};

const computed = await timed(async () => monthStatements(clickhouse, await history(), MONTH, NOW));
console.log(
  `  statement lines     ${computed.value.length} lines computed in ${computed.seconds} s`,
);
const pass = await timed(async () =>
  refreshMonth(clickhouse, await history(), MONTH, {
    now: NOW,
    deadlineMs: config.pricing.deadlineMs,
  }),
);
console.log(
  `  service pass        ${pass.seconds} s (${pass.value.kind}, ${pass.value.kind === 'complete' ? 0 : pass.value.failed.length} accounts failed)`,
);
const check = await timed(() => checkStatements(clickhouse, { month: MONTH, now: NOW }));
console.log(`  audit: statements  ${check.seconds} s (${check.value.ok ? 'ok' : 'violations'})`);
const audit = await timed(() =>
  runAudit({
    clickhouse,
    month: MONTH,
    deadlineMs: config.pricing.deadlineMs,
    now: () => NOW,
    confirmation: AT_ONCE,
    checks: AUDITED,
  }),
);
console.log(
  `  audit: ${AUDITED.join(', ')}  ${audit.seconds} s (${audit.value.results.map((r) => `${r.check} ${r.skipped ? 'skipped' : r.ok ? 'ok' : `${r.violations} violations`}`).join(', ')})`,
);
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(`  peak RSS            ${peakRssMb} MiB (embedded ClickHouse included)`);
const target = { atMost: TARGET_SECONDS };
writeBenchReport({
  bench: 'statements',
  command: `npm run bench:statements -- --accounts ${accounts} --rows ${rows}`,
  figures: [
    {
      name: `statement lines computed (${computed.value.length} lines)`,
      value: computed.seconds,
      unit: 's',
      target,
    },
    {
      name: "statements service's pass (computed + drafts written)",
      value: pass.seconds,
      unit: 's',
      target,
    },
    { name: "audit's statements check", value: check.seconds, unit: 's' },
    { name: `nanobill audit (${AUDITED.join(', ')})`, value: audit.seconds, unit: 's' },
    { name: 'peak RSS (embedded ClickHouse included)', value: peakRssMb, unit: 'MiB' },
  ],
  details: {
    accounts,
    ledgerRows: rows,
    lines: computed.value.length,
    audit: audit.value.results.map((r) => ({
      check: r.check,
      skipped: r.skipped,
      ok: r.ok,
      violations: r.violations,
    })),
  },
});
await clickhouse.close();
