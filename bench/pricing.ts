// `npm run bench:pricing [-- --ids N]`: N pending request ids (default 1,000,000) across the 17
// simulated providers that have a cost endpoint (hf-inference is priced locally), consumed from
// Kafka by the pricing service; then one pricing round, timed from its start to the last ledger
// row written. Prints calls (= Σ ceil(n_p / 10,000)), wall time, rows/s and peak RSS.
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { ensureTopics, kafkaFromConfig } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import { createLogger, createMetricsRegistry } from '@nanobill/observability';
import { startPricing } from '@nanobill/pricing';
import { parseProviders } from '@nanobill/providers';
import { tempDir, uniqueName } from '@nanobill/testkit';
import { produceRequests, startSimulatedProviders } from './simulated-providers.js';
import { writeBenchReport } from './report.js';

const { values } = parseArgs({ options: { ids: { type: 'string', default: '1000000' } } });
const total = Number(values.ids);
const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const brokers =
  config.kafkaBrokers ??
  (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
const kafka = kafkaFromConfig(config, { brokers, clientId: 'bench-pricing', logger });
const topics = { requests: uniqueName('bench-requests'), alerts: uniqueName('bench-alerts') };
await ensureTopics(kafka, [
  { topic: topics.requests, numPartitions: 6 },
  { topic: topics.alerts, numPartitions: 1 },
]);

const providers = await startSimulatedProviders();
const { remote } = providers;

const benchDir = tempDir('nanobill-bench-');
const clickhouse = openClickHouse({ url: config.clickhouseUrl, dataDir: benchDir });
await migrate(clickhouse);
const roundReads = openClickHouse({ url: config.clickhouseUrl, dataDir: benchDir });
const pricing = await startPricing({
  kafka,
  clickhouse,
  roundReads,
  logger,
  metrics: createMetricsRegistry(),
  providers: parseProviders(providers.file),
  topics,
  groupId: uniqueName('bench-pricing'),
  schedule: null,
  graceMs: 0, // no account snapshots in this bench: users count as free users at once
});

// Peak memory by phase, sampled: where pricing's RSS goes (consumption or the round).
const MIB = 1024 * 1024;
const peaks = { consume: { rss: 0, heap: 0 }, round: { rss: 0, heap: 0 } };
let phase: keyof typeof peaks = 'consume';
const sampler = setInterval(() => {
  const { rss, heapUsed } = process.memoryUsage();
  peaks[phase].rss = Math.max(peaks[phase].rss, rss);
  peaks[phase].heap = Math.max(peaks[phase].heap, heapUsed);
}, 100);
console.log(
  `bench:pricing: ${total} pending ids across ${remote.length} providers, broker ${brokers.join(',')}`,
);
const perProvider = await produceRequests(kafka, topics.requests, total, remote);
while (pricing.pendingCount() < total) await sleep(250);
console.log(`  ${total} ids pending`);

const callsBefore = await providers.calls();
phase = 'round';
const started = performance.now();
const report = await pricing.priceNow();
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const expectedCalls = [...perProvider.values()].reduce((sum, n) => sum + Math.ceil(n / 10_000), 0);
const rows = await clickhouse.query({
  query: 'SELECT count() AS n FROM billing.ledger',
  format: 'JSONEachRow',
});
const [{ n: ledgerRows } = { n: '0' }] = await rows.json<{ n: string }>();
const result = {
  date: new Date().toISOString(),
  pendingIds: total,
  providers: remote.length,
  calls: (await providers.calls()) - callsBefore,
  expectedCalls,
  seconds: Number(seconds.toFixed(2)),
  ledgerRows: Number(ledgerRows),
  rowsPerSecond: Math.round(Number(ledgerRows) / seconds),
  peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  peakRssTargetMb: 1024,
  v8HeapLimitMb: Math.round(getHeapStatistics().heap_size_limit / MIB),
  roundSecondsTarget: 30,
  phases: Object.fromEntries(
    Object.entries(peaks).map(([name, p]) => [
      name,
      { rssMb: Math.round(p.rss / MIB), heapMb: Math.round(p.heap / MIB) },
    ]),
  ),
  report,
};
console.log(`  calls               ${result.calls} (Σ ceil(n_p / 10,000) = ${expectedCalls})`);
console.log(
  `  round wall time     ${result.seconds} s, from its start to the last ledger row written (target ≤ 30 s)`,
);
console.log(`  ledger rows         ${result.ledgerRows} (${result.rowsPerSecond} rows/s)`);
console.log(
  `  peak RSS            ${result.peakRssMb} MiB (target ≤ 1024 MiB; pricing + embedded ClickHouse; the simulator runs apart)`,
);
console.log(
  `    V8 heap limit     ${Math.round(getHeapStatistics().heap_size_limit / MIB)} MiB (garbage is kept up to it: --max-old-space-size bounds pricing's RSS)`,
);
for (const [name, p] of Object.entries(result.phases)) {
  console.log(`    ${name.padEnd(16)}  RSS ${p.rssMb} MiB, JS heap ${p.heapMb} MiB (sampled)`);
}
writeBenchReport({
  bench: 'pricing',
  command: `npm run bench:pricing -- --ids ${total}`,
  figures: [
    {
      name: `pricing round, ${total.toLocaleString('en-US')} pending ids`,
      value: result.seconds,
      unit: 's',
      target: { atMost: 30 },
    },
    {
      name: 'pricing calls − Σ ceil(n_p / 10,000)',
      value: result.calls - expectedCalls,
      unit: 'calls',
      target: { atMost: 0 },
    },
    {
      name: 'pricing ledger rows missing',
      value: total - result.ledgerRows,
      unit: 'rows',
      target: { atMost: 0 },
    },
    {
      name: 'pricing peak RSS (pricing + ClickHouse)',
      value: result.peakRssMb,
      unit: 'MiB',
      target: { atMost: 1024 },
    },
  ],
  details: result,
});
await pricing.stop();
providers.stop();
await clickhouse.close();
await roundReads.close();
process.exit(result.calls === expectedCalls && result.ledgerRows === total ? 0 : 1);
