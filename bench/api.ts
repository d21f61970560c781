// `npm run bench:api [-- --requests N --days D --clients C --calls K]`: fills embedded ClickHouse
// with N priced requests (default 10,000,000) over D days (default 30) for 100 orgs, starts the
// API (the same Fastify server `nanobill run` serves), and calls the usage endpoint of random
// orgs from C concurrent clients (default 8), K calls (default 100) per window (24 h and D days
// by hour, D days by day) × groupBy (member, provider, model, task). Prints p50/p95/max latency
// and the points per answer; writes bench/results/api-*.json.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { AccountFactsReader } from '@nanobill/accounts';
import { createToken, startApiServer, TokenStore, NO_STATUSES } from '@nanobill/api';
import { AccountHistory } from '@nanobill/attribution';
import { migrate, openClickHouse, openFinanceSql } from '@nanobill/clickhouse';
import { createLogger } from '@nanobill/observability';
import { freePortPair, tempDir } from '@nanobill/testkit';
import {
  generateSecretsKey,
  parseSecretsKey,
  SecretsCipher,
  WebhookSecretStore,
} from '@nanobill/webhooks';
import { fillLedger } from './api-data.js';
import { percentile } from './percentile.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000000' },
    days: { type: 'string', default: '30' },
    clients: { type: 'string', default: '8' },
    calls: { type: 'string', default: '100' },
  },
});
const ORGS = 100;
const days = Number(values.days);
const dataDir = tempDir('bench-api-');
const clickhouse = openClickHouse({ dataDir });
await migrate(clickhouse);
const end = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
console.log(
  `bench:api: filling ${values.requests} priced requests over ${days} days for ${ORGS} orgs …`,
);
const fill = await fillLedger(clickhouse, {
  days,
  requests: Number(values.requests),
  orgs: ORGS,
  membersPerOrg: 20,
  seed: 1,
  end,
});
// Background merges fold a rollup's rows within minutes of an insert; a bulk fill of a month
// leaves them all to do at once. Measure the steady state, not the merge storm.
const merging = performance.now();
for (const table of ['usage_by_key_hourly', 'usage_by_key_daily']) {
  await clickhouse.command({ query: `OPTIMIZE TABLE billing.${table} FINAL` });
}
console.log(`  rollups merged in ${((performance.now() - merging) / 1000).toFixed(1)} s`);
const rollupRows = await clickhouse.query({
  query: 'SELECT count() FROM billing.usage_by_key_hourly',
  format: 'JSONCompactEachRow',
});
const rollup = (await rollupRows.json<[string]>())[0]?.[0] ?? '0';
console.log(
  `  filled ${fill.rows} ledger rows in ${fill.seconds.toFixed(1)} s; ${rollup} rollup rows`,
);

const orgIds = Array.from({ length: ORGS }, (_, i) => `org-${String(i).padStart(4, '0')}`);
const tokens = new Map<string, string>();
for (const org of orgIds)
  tokens.set(org, (await createToken(clickhouse, { kind: 'org', org })).token);
const port = await freePortPair();
const server = await startApiServer({
  port,
  logger: createLogger({ level: 'warn' }),
  clickhouse,
  financeSql: openFinanceSql({ dataDir }),
  // The usage route does not read statuses; the bench needs no broker.
  statuses: NO_STATUSES,
  facts: new AccountFactsReader(clickhouse, new AccountHistory()),
  tokens: new TokenStore(clickhouse),
  webhookSecrets: new WebhookSecretStore(
    clickhouse,
    new SecretsCipher(parseSecretsKey(generateSecretsKey())),
  ),
  providers: [],
  publishSettings: async () => undefined,
  // One client address and 100 tokens: the limits would measure themselves.
  rateLimit: { perAddress: 1_000_000, perToken: 1_000_000 },
});
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: Number(values.clients) });

const pct = (xs: number[], p: number) => percentile(xs, p, Number.NaN);
const results = [];
// The dashboard's hourly graph (24 h), the longest hourly window (30 days), and 30 days by day.
const CASES = [
  ['hour', 1],
  ['hour', days],
  ['day', days],
] as const;
for (const [granularity, windowDays] of CASES) {
  const from = new Date(end.getTime() - windowDays * 24 * 3_600_000).toISOString();
  for (const groupBy of ['member', 'provider', 'model', 'task'] as const) {
    const latencies: number[] = [];
    let points = 0;
    let next = 0;
    const calls = Number(values.calls);
    const client = async () => {
      while (next < calls) {
        const i = next++;
        // Busy and quiet orgs alike (the fill skews traffic towards low numbers).
        const org = orgIds[(i * 37) % ORGS]!;
        const started = performance.now();
        const response = await pool.request({
          method: 'GET',
          path: `/v1/orgs/${org}/usage?from=${from}&to=${end.toISOString()}&granularity=${granularity}&groupBy=${groupBy}`,
          headers: { authorization: `Bearer ${tokens.get(org)}` },
        });
        const body = (await response.body.json()) as { series: { points: unknown[] }[] };
        latencies.push(performance.now() - started);
        if (response.statusCode !== 200)
          throw new Error(`HTTP ${response.statusCode}: ${JSON.stringify(body)}`);
        points += body.series.reduce((n, s) => n + s.points.length, 0);
      }
    };
    await Promise.all(Array.from({ length: Number(values.clients) }, client));
    const result = {
      granularity,
      windowDays,
      groupBy,
      p50: Math.round(pct(latencies, 50)),
      p95: Math.round(pct(latencies, 95)),
      max: Math.round(Math.max(...latencies)),
      pointsPerAnswer: Math.round(points / calls),
    };
    results.push(result);
    console.log(
      `  ${granularity.padEnd(4)} ${String(windowDays).padStart(2)} d × ${groupBy.padEnd(8)}  p50 ${String(result.p50).padStart(4)} ms  p95 ${String(result.p95).padStart(4)} ms  max ${String(result.max).padStart(4)} ms  ${result.pointsPerAnswer} points per answer`,
    );
  }
}
const report = {
  date: new Date().toISOString(),
  ledgerRows: fill.rows,
  rollupRows: Number(rollup),
  days,
  orgs: ORGS,
  clients: Number(values.clients),
  callsPerCase: Number(values.calls),
  fillSeconds: fill.seconds,
  results,
  peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
};
console.log(
  `  worst p95 ${Math.max(...results.map((r) => r.p95))} ms (target ≤ 100 ms); peak RSS ${report.peakRssMb} MiB`,
);
const file = new URL(
  `./results/api-${report.date.slice(0, 19).replace(/[:T]/g, '-')}.json`,
  import.meta.url,
);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`  written to bench/results/${file.pathname.split('/').at(-1)}`);
await pool.close();
await server.close();
await clickhouse.close();
process.exit(0);
