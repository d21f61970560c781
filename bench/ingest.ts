// `npm run bench:ingest [-- --events N]`: the router simulator (its own process) produces N events
// while the ingest service consumes them into embedded ClickHouse (or CLICKHOUSE_URL). Prints
// events/s, produce→row delay percentiles and peak RSS, and writes them to bench/results/. Then the
// ceilings measured in the same run (bench/ingest-ceilings.ts): (a) a bare consumer of the same
// topic that only parses, (b) the same rows inserted again in ingest's batch size on the same
// client; ingest's rate is printed as a share of the slower of the two (target ≥ 0.8).
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import { INGEST_CONSUMERS, startIngest } from '@nanobill/ingest';
import { ensureTopics, kafkaFromConfig } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import { createLogger, createMetricsRegistry } from '@nanobill/observability';
import { tempDir, uniqueName } from '@nanobill/testkit';
import { bareConsumeRate, reinsertRate } from './ingest-ceilings.js';
import { microsecondsPerEvent, threadCpuSeconds } from './thread-cpu.js';
import { writeBenchReport } from './report.js';

/** The targets (docs/benchmarks.md): events per second, and the share of the ceiling. */
const TARGET_EVENTS_PER_SECOND = 50_000;
const TARGET_SHARE_OF_CEILING = 0.8;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    // Produce everything first, then consume: the ingest service's own capacity, no producer
    // competing for the two cores.
    preload: { type: 'boolean', default: false },
    // Members of the ingest group in the process (default INGEST_CONSUMERS).
    consumers: { type: 'string' },
    // Ingest alone, without the ceilings after it (e.g. under a CPU profile).
    'no-ceilings': { type: 'boolean', default: false },
  },
});
const events = Number(values.events);
const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const brokers =
  config.kafkaBrokers ??
  (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
const kafka = kafkaFromConfig(config, { brokers, clientId: 'bench-ingest', logger });
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

const startRouter = () => {
  const child = spawn(
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
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise<{ sent: number; seconds: number; maxRssMb: number }>((resolve) =>
    child.on('exit', () => resolve(JSON.parse(output.trim().split('\n').at(-1) ?? '{}'))),
  );
};
const routerDone = values.preload ? Promise.resolve(await startRouter()) : undefined;
if (values.preload) console.log('bench:ingest: preloaded the topic');

const registry = createMetricsRegistry();
// CPU from before ingest starts: with the topic preloaded it consumes as soon as it has joined.
const cpuBefore = process.cpuUsage();
const threadsBefore = threadCpuSeconds();
const ingest = await startIngest({
  kafka,
  clickhouse: writer,
  logger,
  metrics: registry,
  topics,
  groupId: uniqueName('bench-ingest'),
  maxRows: config.ingest.maxRows,
  maxWaitMs: config.ingest.maxWaitMs,
  consumers: values.consumers === undefined ? undefined : Number(values.consumers),
});

console.log(
  `bench:ingest: ${events} events, ${values.partitions} partitions, ${values.consumers ?? INGEST_CONSUMERS} consumers, broker ${brokers.join(',')}, ClickHouse ${config.clickhouseUrl ?? 'embedded'}`,
);
const started = performance.now();
const routerRun = routerDone ?? startRouter();
const timeline: Array<{ second: number; rows: number }> = [];
let rows = 0;
while (rows < events) {
  await sleep(1_000);
  rows = await countRows();
  timeline.push({ second: Math.round((performance.now() - started) / 1000), rows });
  process.stdout.write(`\r  ${rows} / ${events} rows stored`);
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuByThread = microsecondsPerEvent(threadsBefore, threadCpuSeconds(), events);
process.stdout.write('\n');
const produced = await routerRun;

const delay = await reader.query({
  query: `SELECT quantiles(0.5, 0.99)(dateDiff('millisecond', event_time, ingested_at)) AS q
          FROM billing.usage WHERE startsWith(request_id, {prefix:String})`,
  query_params: { prefix },
  format: 'JSONEachRow',
});
const [{ q: [p50, p99] = [] } = { q: [] }] = await delay.json<{ q: number[] }>();
await ingest.stop();
const histogram = async (name: string) => {
  const values = (await registry.getSingleMetric(name)!.get()).values;
  const pick = (suffix: string) =>
    values.find((v) => (v as { metricName?: string }).metricName === `${name}${suffix}`)?.value ??
    0;
  return { count: pick('_count'), sum: pick('_sum') };
};
const flushes = await histogram('nanobill_ingest_flush_seconds');
const checks = await histogram('nanobill_ingest_duplicate_check_seconds');
// From the first rows stored to the last: leaves out the consumer group's join.
const firstRows = timeline.find((t) => t.rows > 0) ?? { second: 0, rows: 0 };
const steadyEventsPerSecond = Math.round(
  (events - firstRows.rows) / Math.max(1, seconds - firstRows.second),
);
// Before the ceilings run in this process.
const ingestPeakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
let bare: Awaited<ReturnType<typeof bareConsumeRate>> | undefined;
let reinsert: Awaited<ReturnType<typeof reinsertRate>> | undefined;
if (!values['no-ceilings']) {
  console.log('bench:ingest: measuring the ceilings (a bare consumer, the same inserts again)');
  bare = await bareConsumeRate(kafka, topics.requests, events);
  reinsert = await reinsertRate(writer, prefix, config.ingest.maxRows);
}
const ceiling = bare && reinsert ? Math.min(bare.perSecond, reinsert.perSecond) : undefined;
const mean = (h: { count: number; sum: number }) =>
  Number((h.sum / Math.max(1, h.count)).toFixed(3));
const result = {
  date: new Date().toISOString(),
  events,
  partitions: Number(values.partitions),
  seconds: Number(seconds.toFixed(2)),
  eventsPerSecond: Math.round(events / seconds),
  steadyEventsPerSecond,
  producer: {
    eventsPerSecond: Math.round(produced.sent / produced.seconds),
    peakRssMb: Math.round(produced.maxRssMb),
  },
  produceToRowMs: { p50, p99 },
  ingestPeakRssMb,
  // Ingest and its embedded ClickHouse (one process), whatever else the box runs meanwhile.
  cpuMicrosecondsPerEvent: Math.round((cpu.user + cpu.system) / events),
  cpuMicrosecondsPerEventByThread: cpuByThread,
  ceilings: bare &&
    reinsert &&
    ceiling && {
      bareConsumer: bare,
      reinsert: reinsert,
      slower: bare.perSecond <= reinsert.perSecond ? 'bareConsumer' : 'reinsert',
      shareOfCeiling: Number((steadyEventsPerSecond / ceiling).toFixed(2)),
    },
  targets: { eventsPerSecond: TARGET_EVENTS_PER_SECOND, shareOfCeiling: TARGET_SHARE_OF_CEILING },
  flushes: {
    count: flushes.count,
    meanSeconds: mean(flushes),
    duplicateCheckMeanSeconds: mean(checks),
    insertMeanSeconds: Number((mean(flushes) - mean(checks)).toFixed(3)),
    busyShare: Number((flushes.sum / seconds).toFixed(2)),
  },
  timeline,
};
console.log(
  `  ingest throughput   ${result.eventsPerSecond} events/s (${events} events in ${result.seconds} s, ${values.preload ? 'topic preloaded' : 'producer ran in parallel'})`,
);
console.log(
  `  producer            ${result.producer.eventsPerSecond} events/s, peak RSS ${result.producer.peakRssMb} MiB`,
);
console.log(`  produce → row       p50 ${p50} ms, p99 ${p99} ms`);
console.log(
  `  steady state        ${steadyEventsPerSecond} events/s (after the first rows landed)`,
);
console.log(
  `  ClickHouse flushes  ${result.flushes.count}, mean ${result.flushes.meanSeconds} s = duplicate check ${result.flushes.duplicateCheckMeanSeconds} s + insert ${result.flushes.insertMeanSeconds} s, busy ${Math.round(result.flushes.busyShare * 100)} % of the run`,
);
console.log(
  `  ingest CPU          ${result.cpuMicrosecondsPerEvent} µs per event (ingest + embedded ClickHouse, all threads): ${Object.entries(
    cpuByThread,
  )
    .map(([group, us]) => `${group} ${us}`)
    .join(', ')}`,
);
console.log(`  ingest peak RSS     ${result.ingestPeakRssMb} MiB (ingest + embedded ClickHouse)`);
if (result.ceilings) {
  console.log(
    `  ceiling (a)         ${result.ceilings.bareConsumer.perSecond} events/s: a bare consumer of the same topic, parsing only`,
  );
  console.log(
    `  ceiling (b)         ${result.ceilings.reinsert.perSecond} rows/s: the same ${result.ceilings.reinsert.rows} rows inserted again, ${config.ingest.maxRows} a batch, same client`,
  );
}
console.log(
  `  vs target           ${steadyEventsPerSecond} events/s, target ${TARGET_EVENTS_PER_SECOND}; ${result.ceilings ? `${result.ceilings.shareOfCeiling} of the ceiling (${result.ceilings.slower})` : 'ceilings not measured (--no-ceilings)'}, target ≥ ${TARGET_SHARE_OF_CEILING}`,
);
const command = `npm run bench:ingest -- --events ${events}${values.preload ? ' --preload' : ''}`;
writeBenchReport({
  bench: values.preload ? 'ingest-preloaded' : 'ingest',
  command,
  figures: [
    {
      name: `ingest, steady state (${values.preload ? 'topic preloaded' : 'producer in parallel'})`,
      value: steadyEventsPerSecond,
      unit: 'events/s',
      target: { atLeast: TARGET_EVENTS_PER_SECOND },
      ...(result.ceilings && {
        ceiling: {
          value: Math.min(
            result.ceilings.bareConsumer.perSecond,
            result.ceilings.reinsert.perSecond,
          ),
          what: `slower of: bare consumer ${result.ceilings.bareConsumer.perSecond}/s, same inserts again ${result.ceilings.reinsert.perSecond} rows/s`,
        },
      }),
    },
    ...(result.ceilings
      ? [
          {
            name: 'ingest / slower ceiling',
            value: result.ceilings.shareOfCeiling,
            unit: '×',
            target: { atLeast: TARGET_SHARE_OF_CEILING },
          },
        ]
      : []),
    {
      name: 'ingest CPU per event (all threads)',
      value: result.cpuMicrosecondsPerEvent,
      unit: 'µs',
    },
    {
      name: 'ingest duplicate check, mean per flush',
      value: result.flushes.duplicateCheckMeanSeconds,
      unit: 's',
    },
    {
      name: 'ingest peak RSS (ingest + ClickHouse)',
      value: result.ingestPeakRssMb,
      unit: 'MiB',
      target: { atMost: 1024 },
    },
  ],
  details: result,
});
await writer.close();
await reader.close();
process.exit(0);
