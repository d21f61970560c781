// `npm run bench:pricing-pending [-- --ids N --consume M --cap C --round]`: N pending requests
// (default 10,000,000) across the 17 simulated providers with a cost endpoint, stored in
// billing.pricing_pending as a restart finds them (inserted by a child process, so that the
// figures below are pricing's own), then the pricing service started on them: it loads the
// oldest up to its cap (MAX_PENDING_IN_MEMORY unless --cap) and keeps the rest in ClickHouse.
// Then M more requests (default 100,000) come through Kafka, the consumer path: stored, not held.
// With --round, one pricing round runs and the set is refilled from ClickHouse after it.
// Prints pricing's peak RSS (sampled, and the process's maximum) next to the 1 GiB target.
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate, openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { ensureTopics, kafkaFromConfig } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import { createLogger, createMetricsRegistry } from '@nanobill/observability';
import { MAX_PENDING_IN_MEMORY, startPricing } from '@nanobill/pricing';
import { parseProviders } from '@nanobill/providers';
import { queryValue, tempDir, uniqueName } from '@nanobill/testkit';
import {
  produceRequests,
  REMOTE_PROVIDERS,
  startSimulatedProviders,
} from './simulated-providers.js';
import { writeBenchReport } from './report.js';

const MIB = 1024 * 1024;
/** Issue 15's target for pricing's peak RSS (embedded ClickHouse included). */
const RSS_TARGET_MIB = 1024;
const PARTITIONS = 6;

const { values } = parseArgs({
  options: {
    ids: { type: 'string', default: '10000000' },
    consume: { type: 'string', default: '100000' },
    cap: { type: 'string', default: String(MAX_PENDING_IN_MEMORY) },
    round: { type: 'boolean', default: false },
    // Internal: the child process that fills the table.
    fill: { type: 'string' },
  },
});
const total = Number(values.ids);

if (values.fill !== undefined) {
  await fill(values.fill, total, [...REMOTE_PROVIDERS]);
  process.exit(0);
}

/** N pending requests, first seen over the last half hour, stored as the consumer stores them. */
async function fill(dataDir: string, n: number, remote: string[]): Promise<void> {
  const clickhouse = openClickHouse({ url: undefined, dataDir });
  await migrate(clickhouse);
  const t0 = Date.now() - 30 * 60_000;
  await clickhouse.command({
    query: `INSERT INTO billing.pricing_pending
              (provider, provider_request_id, request_id, event_time, user_id, bill_to, model, task,
               first_seen_at, source_partition, compute_time_ms, hardware, input_tokens, output_tokens)
            SELECT {remote:Array(String)}[number % length({remote:Array(String)}) + 1] AS p,
                   concat(p, '-pp-', toString(number)), concat('r-pp-', toString(number)),
                   fromUnixTimestamp64Milli(toInt64({t0:Int64} + intDiv(number * 1800000, {n:UInt64}) - 1000)),
                   concat('u', toString(number % 1000)), NULL, 'm', 'conversational',
                   fromUnixTimestamp64Milli(toInt64({t0:Int64} + intDiv(number * 1800000, {n:UInt64}))),
                   number % ${PARTITIONS}, NULL, NULL, 10, 20
            FROM numbers({n:UInt64})`,
    query_params: { remote, t0, n },
    clickhouse_settings: { max_partitions_per_insert_block: '1000' },
  });
  await clickhouse.close();
}

const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const dataDir = tempDir('nanobill-bench-');
const cap = Number(values.cap);
console.log(`bench:pricing-pending: ${total} pending ids stored, cap ${cap} in memory`);
const filling = performance.now();
await new Promise<void>((resolve, reject) => {
  const child = fork(
    new URL(import.meta.url).pathname,
    ['--fill', dataDir, '--ids', String(total)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: 'inherit',
    },
  );
  child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fill: exit ${code}`))));
});
console.log(`  stored in ${((performance.now() - filling) / 1000).toFixed(1)} s (another process)`);
const providers = await startSimulatedProviders();

// Pricing's memory from here on: sampled, beside the process's maximum.
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
const brokers =
  config.kafkaBrokers ??
  (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
const kafka = kafkaFromConfig(config, { brokers, clientId: 'bench-pricing-pending', logger });
const topics = { requests: uniqueName('bench-requests'), alerts: uniqueName('bench-alerts') };
await ensureTopics(kafka, [
  { topic: topics.requests, numPartitions: PARTITIONS },
  { topic: topics.alerts, numPartitions: 1 },
]);
const clickhouse = openClickHouse({ url: config.clickhouseUrl, dataDir });
const metrics = createMetricsRegistry();
const started = performance.now();
const pricing = await startPricing({
  kafka,
  clickhouse,
  logger,
  metrics,
  providers: parseProviders(providers.file),
  topics,
  groupId: uniqueName('bench-pricing'),
  schedule: null,
  graceMs: 0,
  maxPendingInMemory: cap,
});
const expectedInMemory = Math.min(cap, total);
while (pricing.pendingCount() < expectedInMemory) await sleep(250);
const loadSeconds = (performance.now() - started) / 1000;
/** RSS now and the sampled peak so far, in MiB: printed after each stage. */
const rssNow = () =>
  `RSS ${Math.round(process.memoryUsage.rss() / MIB)} MiB (peak so far ${Math.round(Math.max(peakRss, process.memoryUsage.rss()) / MIB)} MiB)`;
const gauge = async (name: string) =>
  (await metrics.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
console.log(
  `  loaded ${pricing.pendingCount()} in ${loadSeconds.toFixed(1)} s; partitions not all in memory: ${await gauge('nanobill_pricing_unloaded_partitions')}; ${rssNow()}`,
);

// The consumer path: requests beyond the cap are stored, not held.
const consume = Number(values.consume);
await produceRequests(kafka, topics.requests, consume, providers.remote);
const stored = () => storedCount(clickhouse);
while ((await stored()) < total + consume) await sleep(500);
const afterConsume = {
  stored: await stored(),
  inMemory: pricing.pendingCount(),
  unloadedPartitions: await gauge('nanobill_pricing_unloaded_partitions'),
};
console.log(
  `  consumed ${consume} more through Kafka: ${afterConsume.stored} stored, ${afterConsume.inMemory} in memory; ${rssNow()}`,
);

let round: Record<string, unknown> | undefined;
if (values.round) {
  const callsBefore = await providers.calls();
  const roundStarted = performance.now();
  const report = await pricing.priceNow();
  const seconds = (performance.now() - roundStarted) / 1000;
  const refillStarted = performance.now();
  // The refill comes in its turn after the round: until the set is full again or all is in.
  const target = Math.min(cap, total + consume - report.priced - report.unpriced);
  while (pricing.pendingCount() < target) await sleep(250);
  round = {
    report,
    calls: (await providers.calls()) - callsBefore,
    seconds: Number(seconds.toFixed(2)),
    refillSeconds: Number(((performance.now() - refillStarted) / 1000).toFixed(2)),
    inMemoryAfterRefill: pricing.pendingCount(),
  };
  console.log(
    `  one round: ${report.priced} priced in ${seconds.toFixed(1)} s (${String(round.calls)} calls), then ${pricing.pendingCount()} in memory again; ${rssNow()}`,
  );
}
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());

const result = {
  date: new Date().toISOString(),
  storedPending: total,
  consumed: consume,
  cap,
  loadSeconds: Number(loadSeconds.toFixed(2)),
  afterConsume,
  round,
  peakRssMib: Math.round(peakRss / MIB),
  maxRssMib: Math.round(process.resourceUsage().maxRSS / 1024),
  rssTargetMib: RSS_TARGET_MIB,
  v8HeapLimitMib: Math.round(getHeapStatistics().heap_size_limit / MIB),
};
console.log(`  in memory           ${afterConsume.inMemory} (cap ${cap})`);
console.log(
  `  peak RSS            ${result.peakRssMib} MiB sampled, ${result.maxRssMib} MiB max (target ≤ ${RSS_TARGET_MIB} MiB; pricing + embedded ClickHouse)`,
);
console.log(
  `  V8 heap limit       ${Math.round(getHeapStatistics().heap_size_limit / MIB)} MiB (garbage is kept up to it: --max-old-space-size bounds pricing's RSS)`,
);
writeBenchReport({
  bench: 'pricing-pending',
  command: `npm run bench:pricing-pending -- --ids ${total} --consume ${consume}${values.round ? ' --round' : ''}`,
  figures: [
    {
      name: `pricing ids in memory, ${total.toLocaleString('en-US')} stored + ${consume.toLocaleString('en-US')} consumed`,
      value: afterConsume.inMemory,
      unit: 'ids',
      target: { atMost: cap },
    },
    {
      name: 'pricing peak RSS holding the cap',
      value: result.maxRssMib,
      unit: 'MiB',
      target: { atMost: RSS_TARGET_MIB },
    },
  ],
  details: result,
});
await pricing.stop();
providers.stop();
await clickhouse.close();
// Fails on what must hold (the cap); the RSS is a figure next to its target.
process.exit(afterConsume.inMemory <= cap ? 0 : 1);

async function storedCount(client: ClickHouseClient): Promise<number> {
  return Number(await queryValue(client, 'SELECT count() FROM billing.pricing_pending'));
}
