// `npm run bench:statements [-- --accounts N --rows M]`: statements for N accounts (default
// 100,000: 90 % users, 10 % orgs) over a month with M ledger rows (default 10,000,000), in
// embedded ClickHouse (or CLICKHOUSE_URL). The data is generated inside ClickHouse; the timed
// part is the whole statement computation (ledger, custom-key usage, account history, credits).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { monthStatements } from '@nanobill/statements';
import { tempDir } from '@nanobill/testkit';

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
let t = performance.now();
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

t = performance.now();
const reader = new AccountFactsReader(clickhouse, new AccountHistory());
await reader.refresh();
const lines = await monthStatements(
  clickhouse,
  reader.history,
  '2026-10',
  new Date('2026-10-31T12:00:00Z'),
);
const seconds = (performance.now() - t) / 1000;
const result = {
  date: new Date().toISOString(),
  accounts,
  ledgerRows: rows,
  lines: lines.length,
  seconds: Number(seconds.toFixed(2)),
  peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
};
console.log(
  `  statements          ${result.lines} lines in ${result.seconds} s (history, ledger, usage, credits)`,
);
console.log(`  peak RSS            ${result.peakRssMb} MiB (embedded ClickHouse included)`);
writeFileSync(
  new URL(
    `./results/statements-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`,
    import.meta.url,
  ),
  `${JSON.stringify(result, null, 2)}\n`,
);
await clickhouse.close();
