// `npm run bench:ingest [-- --events N]`: the router simulator (its own process) produces N events
// while the ingest service consumes them into embedded ClickHouse (or CLICKHOUSE_URL). Prints
// events/s, produce→row delay percentiles and peak RSS, and writes them to bench/results/.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { startIngest } from '@nanobill/ingest';
import { createKafka, ensureTopics } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import { createLogger, createMetricsRegistry } from '@nanobill/observability';
import { tempDir, uniqueName } from '@nanobill/testkit';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
  },
});
const events = Number(values.events);
const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const brokers =
  config.kafkaBrokers ??
  (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
const kafka = createKafka({ brokers, clientId: 'bench-ingest', logger });
const topics = { requests: uniqueName('bench-requests'), dlq: uniqueName('bench-dlq') };
await ensureTopics(kafka, [
  { topic: topics.requests, numPartitions: Number(values.partitions) },
  { topic: topics.dlq, numPartitions: 1 },
]);
const target = { url: config.clickhouseUrl, dataDir: tempDir('nanobill-bench-') };
const writer = openClickHouse(target);
await migrate(writer);
const reader = openClickHouse(target);
const prefix = `${uniqueName('bench')}-`;
const countRows = async () => {
  const rs = await reader.query({
    query: 'SELECT count() FROM billing.usage WHERE startsWith(request_id, {prefix:String})',
    query_params: { prefix },
    format: 'JSONCompactEachRow',
  });
  return Number((await rs.json<[string]>())[0]![0]);
};

const ingest = await startIngest({
  kafka,
  clickhouse: writer,
  logger,
  metrics: createMetricsRegistry(),
  topics,
  groupId: uniqueName('bench-ingest'),
  maxRows: config.ingest.maxRows,
  maxWaitMs: config.ingest.maxWaitMs,
});

console.log(
  `bench:ingest: ${events} events, ${values.partitions} partitions, broker ${brokers.join(',')}, ClickHouse ${config.clickhouseUrl ?? 'embedded'}`,
);
const started = performance.now();
const router = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    new URL('./produce.ts', import.meta.url).pathname,
    '--topic',
    topics.requests,
    '--events',
    String(events),
    '--rate',
    values.rate!,
    '--brokers',
    brokers.join(','),
    '--prefix',
    prefix,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let routerOutput = '';
router.stdout.on('data', (c: Buffer) => (routerOutput += c.toString()));
const routerDone = new Promise<void>((resolve) => router.on('exit', () => resolve()));

const timeline: Array<{ second: number; rows: number }> = [];
let rows = 0;
while (rows < events) {
  await sleep(1_000);
  rows = await countRows();
  timeline.push({ second: Math.round((performance.now() - started) / 1000), rows });
  process.stdout.write(`\r  ${rows} / ${events} rows stored`);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write('\n');
await routerDone;
const produced = JSON.parse(routerOutput.trim().split('\n').at(-1) ?? '{}') as {
  sent: number;
  seconds: number;
  maxRssMb: number;
};

const delay = await reader.query({
  query: `SELECT quantiles(0.5, 0.99)(dateDiff('millisecond', event_time, ingested_at)) AS q
          FROM billing.usage WHERE startsWith(request_id, {prefix:String})`,
  query_params: { prefix },
  format: 'JSONEachRow',
});
const [{ q: [p50, p99] = [] } = { q: [] }] = await delay.json<{ q: number[] }>();
await ingest.stop();
const result = {
  date: new Date().toISOString(),
  events,
  partitions: Number(values.partitions),
  seconds: Number(seconds.toFixed(2)),
  eventsPerSecond: Math.round(events / seconds),
  producer: {
    eventsPerSecond: Math.round(produced.sent / produced.seconds),
    peakRssMb: Math.round(produced.maxRssMb),
  },
  produceToRowMs: { p50, p99 },
  ingestPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  timeline,
};
console.log(
  `  ingest throughput   ${result.eventsPerSecond} events/s (${events} events in ${result.seconds} s, producer ran in parallel)`,
);
console.log(
  `  producer            ${result.producer.eventsPerSecond} events/s, peak RSS ${result.producer.peakRssMb} MiB`,
);
console.log(`  produce → row       p50 ${p50} ms, p99 ${p99} ms`);
console.log(`  ingest peak RSS     ${result.ingestPeakRssMb} MiB (ingest + embedded ClickHouse)`);
const file = new URL(
  `./results/ingest-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`,
  import.meta.url,
);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`  written to bench/results/${file.pathname.split('/').at(-1)}`);
await writer.close();
await reader.close();
process.exit(0);
