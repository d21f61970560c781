/// <reference lib="dom" />
// `npm run bench [-- --rate R --seconds S]`: the whole pipeline on one machine, as `nanobill
// demo` runs it (every service in one process on embedded ClickHouse, the provider simulator),
// fed by the router simulator in its own process at R events/s (default 3,000) for S seconds
// (default 150), a pricing round at each minute as in production. Samples every second what was
// produced, stored, priced, each consumer group's lag, the CPU of each process and the pipeline's
// event loop delay and memory; prints each figure of issue 15's target 4 next to its target
// (peak RSS, event → stored and → ledger p99, seconds from each round's end until the lag is back
// to 0) and writes a JSON, a markdown summary and a PNG chart to bench/results/.
//
// `npm run bench -- --knee [--rates 2000,3000,… --step-seconds N]`: the same pipeline fed at
// rising rates, each for N seconds (default 75: at least one pricing round), until it stops
// keeping up; prints the knee (the highest rate kept up with) and which resource saturated first.
//
// A broker of its own, unless KAFKA_BROKERS names one (then topics and groups of its own there).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { renderAudit } from '@nanobill/audit';
import { loadConfig } from '@nanobill/config';
import { monthOf } from '@nanobill/calendar';
import { TOPIC_NAMES, type TopicNames } from '@nanobill/kafka';
import { stopBroker } from '@nanobill/kafka-broker';
import { createLogger } from '@nanobill/observability';
import { loadProviders } from '@nanobill/providers';
import { freePortPair, tempDir, uniqueName } from '@nanobill/testkit';
import { SERVICES, startPipeline, type ConsumingService } from '@nanobill/pipeline';
import { simulateProviders } from '@nanobill/provider-simulator';
import { publishAccounts, simulatedTraffic } from '@nanobill/router-simulator';
import {
  CAUGHT_UP_SECONDS_OF_TRAFFIC,
  catchUpSeconds,
  keptUp,
  saturatedFirst,
  type CpuPart,
  type StepFigures,
} from './pipeline-figures.js';
import {
  eventLoopProbe,
  groupLagReader,
  machineCpuSeconds,
  memoryParts,
  processCpuSeconds,
  rssMiB,
  runQueueWaitSeconds,
  threadCpuSeconds,
  type MemoryParts,
} from './pipeline-probes.js';
import { stamp, writeBenchReport, type Figure } from './report.js';
import { clickhouseTracer, summarize } from './clickhouse-trace.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '150' },
    knee: { type: 'boolean', default: false },
    rates: { type: 'string', default: '2000,3000,4000,5000,6000,8000,10000,12000' },
    'step-seconds': { type: 'string', default: '75' },
    'trace-clickhouse': { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

/** Issue 15, target 4. */
const TARGETS = {
  peakRssMiB: 1024,
  storedP99Seconds: 2,
  ledgerP99Seconds: 75,
  catchUpSeconds: 5,
};
/** After the router stops: one more pricing round (each minute) prices what it sent last. */
const DRAIN_MS = 75_000;
/** Knee search: how long a step waits for the groups to catch up before the next rate. */
const STEP_DRAIN_MS = 90_000;
/** Knee search: seconds at the start of a step left out of its rates (the router ramping up). */
const STEP_WARMUP_SECONDS = 5;
/** The groups whose lag is followed: every consumer of the requests topic. */
const LAGGING: readonly ConsumingService[] = ['ingest', 'pricing', 'enforcement'];

// ---- the pipeline -------------------------------------------------------------------------------
const sharedBrokers = process.env.KAFKA_BROKERS;
const dataDir = tempDir('bench-pipeline-');
const kafkaPort = await freePortPair();
const topics: TopicNames = sharedBrokers
  ? (Object.fromEntries(
      Object.entries(TOPIC_NAMES).map(([key, name]) => [key, uniqueName(`bench-${name}`)]),
    ) as unknown as TopicNames)
  : TOPIC_NAMES;
const groups = Object.fromEntries(
  (['ingest', 'accounts', 'pricing', 'enforcement', 'alerts'] as const).map((service) => [
    service,
    sharedBrokers ? uniqueName(`bench-${service}`) : `nanobill-${service}`,
  ]),
) as Record<ConsumingService, string>;
const config = {
  ...loadConfig({ ...process.env, KAFKA_BROKERS: sharedBrokers }),
  localKafkaPort: kafkaPort,
  dataDir,
  port: await freePortPair(),
  ops: { port: await freePortPair(), host: '127.0.0.1' },
};
const logger = createLogger({ level: 'warn' });
console.log(
  values.knee
    ? `bench: whole pipeline, knee search over ${values.rates} events/s, ${values['step-seconds']} s each, data in ${dataDir}`
    : `bench: whole pipeline, ${rate} events/s for ${seconds} s, data in ${dataDir}`,
);
const { registry: providers, simulator } = await simulateProviders(
  loadProviders(config.providersFile),
);
// The connections in the order the composition root opens them (clickhouse-trace.ts): its
// own, one per service in the order they start, the query socket's, then the reader it returns.
const tracerEpoch = Date.now();
const tracer = clickhouseTracer(['admin', ...SERVICES, 'query socket', 'bench reader']);
const pipeline = await startPipeline({
  config,
  logger,
  providers,
  overrides: {
    topics,
    groups,
    // Rounds are started here, at each minute as the cron does, so that each is timed exactly.
    schedules: { pricing: null },
    ...(values['trace-clickhouse'] ? { clickhouse: tracer.wrap } : {}),
  },
});
const brokerPid = sharedBrokers
  ? undefined
  : Number(readFileSync(join(dataDir, 'kafka', 'broker.pid'), 'utf8').trim());

// The hub's side: the router simulator's users and orgs, so attribution never waits for them.
await publishAccounts(pipeline.kafka, simulatedTraffic({ prefix: 'x' }).snapshots, topics.accounts);
await new Promise((resolve) => setTimeout(resolve, 3_000)); // stored and read by the services

// ---- pricing rounds, at each minute -------------------------------------------------------------
const started = Date.now();
const secondsSinceStart = (ms = Date.now()) => (ms - started) / 1000;
interface Round {
  start: number;
  end?: number;
  seconds?: number;
  /** What the round priced (its report's `priced`). */
  priced?: number;
}
const rounds: Round[] = [];
let skippedRounds = 0;
let running: Round | undefined;
let roundTimer: NodeJS.Timeout | undefined;
const scheduleRound = () => {
  const nextMinute = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
  roundTimer = setTimeout(() => {
    scheduleRound();
    if (running) return void skippedRounds++;
    const round: Round = { start: secondsSinceStart() };
    rounds.push(round);
    running = round;
    void pipeline
      .pricing!.priceNow()
      .then((report) => (round.priced = report.priced))
      .catch((err: unknown) => logger.error({ err }, 'pricing round failed'))
      .finally(() => {
        round.end = secondsSinceStart();
        round.seconds = Math.round((round.end - round.start) * 10) / 10;
        running = undefined;
      });
  }, nextMinute - Date.now());
};
scheduleRound();

// ---- sampling, every second ---------------------------------------------------------------------
interface Sample {
  t: number;
  stored: number;
  priced: number;
  lag: Record<string, number>;
  rss: { pipeline: number; router: number; broker: number };
  memory: MemoryParts;
  /** Cumulative CPU seconds of each part; the machine's busy and total, all cores. */
  cpu: Record<CpuPart, number>;
  machine: { busy: number; total: number };
  /** Cumulative seconds ingest spent flushing into ClickHouse. */
  flushSeconds: number;
  eventLoop: { p99Ms: number; maxMs: number };
  /** Cumulative seconds the JS thread waited for a CPU while it had work. */
  jsRunQueueWait: number;
}
const samples: Sample[] = [];
const lags = groupLagReader(
  pipeline.kafka,
  topics.requests,
  Object.fromEntries(LAGGING.map((service) => [service, groups[service]])),
);
const loop = eventLoopProbe();
let routerPid: number | undefined;
const count = async (query: string): Promise<number> => {
  const result = await pipeline.reader.query({ query, format: 'JSONCompactEachRow' });
  return Number((await result.json<[string]>())[0]?.[0] ?? 0);
};
const histogramSum = async (name: string) => {
  const metric = await pipeline.registry.getSingleMetric(name)?.get();
  const sum = (metric?.values ?? []).find((v) =>
    (v as { metricName?: string }).metricName?.endsWith('_sum'),
  );
  return sum?.value ?? 0;
};
const cpuNow = (): Record<CpuPart, number> => {
  const threads = threadCpuSeconds();
  return {
    pipeline: processCpuSeconds(process.pid) ?? 0,
    'pipeline JS thread': threads.js,
    'pipeline ClickHouse threads': threads.clickhouse + threads.libuv,
    router: routerPid === undefined ? 0 : (processCpuSeconds(routerPid) ?? 0),
    broker: brokerPid === undefined ? 0 : (processCpuSeconds(brokerPid) ?? 0),
  };
};
// The router's CPU is cumulative per process: each step's router starts from 0.
let routerCpuBefore = 0;
const sample = async (): Promise<Sample> => {
  const cpu = cpuNow();
  cpu.router += routerCpuBefore;
  return {
    t: secondsSinceStart(),
    stored: await count('SELECT count() FROM billing.usage'),
    priced: await count('SELECT count() FROM billing.ledger_entries'),
    lag: await lags.read(),
    rss: { pipeline: rssMiB(process.pid), router: rssMiB(routerPid), broker: rssMiB(brokerPid) },
    memory: await memoryParts(pipeline.reader),
    cpu,
    machine: machineCpuSeconds(),
    flushSeconds: await histogramSum('nanobill_ingest_flush_seconds'),
    eventLoop: loop.take(),
    jsRunQueueWait: runQueueWaitSeconds(),
  };
};
const tick = async () => {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  samples.push(await sample());
};

/** The router simulator in its own process, at `perSecond` for `events`. */
function startRouter(perSecond: number, events: number, prefix: string) {
  const router = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./produce.ts', import.meta.url).pathname,
      ...['--topic', topics.requests, '--brokers', pipeline.brokers.join(',')],
      ...['--events', String(events), '--rate', String(perSecond), '--prefix', prefix],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  routerPid = router.pid;
  let out = '';
  router.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const done = new Promise<{ sent: number; seconds: number }>((resolve) =>
    router.on('exit', () => {
      routerCpuBefore = samples.at(-1)?.cpu.router ?? routerCpuBefore;
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; seconds: number });
    }),
  );
  let exited = false;
  void done.then(() => (exited = true));
  return { done, exited: () => exited };
}

/** Cores used by each part, machine share busy and flush share, between two samples. */
function usage(from: Sample, to: Sample) {
  const wall = to.t - from.t;
  const cores = Object.fromEntries(
    Object.entries(to.cpu).map(([part, s]) => [
      part,
      round2((s - from.cpu[part as CpuPart]) / wall),
    ]),
  ) as Record<CpuPart, number>;
  return {
    cores,
    machineBusy: round2(
      (to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total),
    ),
    flushBusy: round2((to.flushSeconds - from.flushSeconds) / wall),
  };
}
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Cores the JS thread used and the share of time it waited for a CPU, first to last sample. */
function jsDuring(window: readonly Sample[]) {
  const first = window[0];
  const last = window.at(-1);
  if (!first || !last || last.t <= first.t) return { jsCores: null, jsRunQueueWaitShare: null };
  const wall = last.t - first.t;
  return {
    jsCores: round2((last.cpu['pipeline JS thread'] - first.cpu['pipeline JS thread']) / wall),
    jsRunQueueWaitShare: round2((last.jsRunQueueWait - first.jsRunQueueWait) / wall),
  };
}

const quantiles = async (query: string) => {
  const result = await pipeline.reader.query({ query, format: 'JSONCompactEachRow' });
  const [row] = await result.json<[number[]]>();
  return (row?.[0] ?? []).map((s) => Math.round(Number(s) * 1000) / 1000);
};
const storedDelay = `toUnixTimestamp64Milli(ingested_at) - toUnixTimestamp64Milli(event_time)`;
const utc = (t: number) =>
  new Date(started + t * 1000).toISOString().replace('T', ' ').slice(0, 23);

if (values.knee) await kneeSearch();
else await fixedRate();

await lags.close();
loop.stop();
clearTimeout(roundTimer);
await pipeline.stop();
await simulator.close();
if (!sharedBrokers) await stopBroker({ dataDir, port: kafkaPort });
process.exit(0);

// ---- one rate for a while: target 4 -------------------------------------------------------------
async function fixedRate(): Promise<void> {
  const router = startRouter(rate, rate * seconds, 'bench-');
  // Until the router is done and one more pricing round has run after it.
  let drainUntil = Number.POSITIVE_INFINITY;
  while (Date.now() < drainUntil || running) {
    await tick();
    if (router.exited() && drainUntil === Number.POSITIVE_INFINITY)
      drainUntil = Date.now() + DRAIN_MS;
  }
  await tick(); // a sample after the last round's end: its lag afterwards
  const produced = await router.done;

  // Router timestamp → stored in the ledger: bounded below by the minute's pricing schedule.
  const [ledgerP50, ledgerP99] = await quantiles(
    `SELECT quantilesExact(0.5, 0.99)(toUnixTimestamp64Milli(inserted_at) - toUnixTimestamp64Milli(event_time)) / 1000
     FROM billing.ledger_entries WHERE startsWith(request_id, 'bench-')`,
  );
  const [storeP50, storeP99] = await quantiles(
    `SELECT quantilesExact(0.5, 0.99)(${storedDelay}) / 1000 FROM billing.usage WHERE startsWith(request_id, 'bench-')`,
  );
  const threshold = rate * CAUGHT_UP_SECONDS_OF_TRAFFIC;
  const perRound: Array<{
    start: number;
    seconds: number | undefined;
    priced: number | undefined;
    catchUpSeconds: Record<string, number | null>;
    maxLag: Record<string, number>;
    eventLoopMaxMs: number;
    storedP99Seconds: number | null;
    /** Over the round: cores used by the JS thread, and its share of time waiting for a CPU. */
    jsCores: number | null;
    jsRunQueueWaitShare: number | null;
  }> = [];
  for (const r of rounds.filter((x) => x.end !== undefined)) {
    const during = samples.filter((s) => s.t >= r.start && s.t <= r.end! + 1);
    // Events the router stamped while the round ran: how long they took to be stored.
    const [roundStoredP99] = await quantiles(
      `SELECT quantilesExact(0.99)(${storedDelay}) / 1000 FROM billing.usage
       WHERE startsWith(request_id, 'bench-') AND event_time BETWEEN '${utc(r.start)}' AND '${utc(r.end!)}'`,
    );
    perRound.push({
      start: round2(r.start),
      seconds: r.seconds,
      priced: r.priced,
      catchUpSeconds: Object.fromEntries(
        LAGGING.map((g) => [g, catchUpSeconds(samples, g, r.end!, threshold) ?? null]),
      ),
      maxLag: Object.fromEntries(
        LAGGING.map((g) => [g, Math.max(0, ...during.map((s) => s.lag[g] ?? 0))]),
      ),
      eventLoopMaxMs: Math.max(0, ...during.map((s) => s.eventLoop.maxMs)),
      storedP99Seconds: roundStoredP99 ?? null,
      ...jsDuring(during),
    });
  }
  console.log(
    `JS thread outside rounds: ${JSON.stringify(jsDuring(samples.filter((s) => !rounds.some((r) => s.t >= r.start && s.t <= (r.end ?? Infinity) + 1))))}`,
  );
  const steady = samples.filter((s) => s.t > 10 && s.t < produced.seconds);
  const storedRate =
    steady.length > 1
      ? Math.round((steady.at(-1)!.stored - steady[0]!.stored) / (steady.at(-1)!.t - steady[0]!.t))
      : 0;
  const peakAt = samples.reduce((a, b) => (b.rss.pipeline > a.rss.pipeline ? b : a));
  const peak = {
    pipeline: peakAt.rss.pipeline,
    router: Math.max(...samples.map((s) => s.rss.router)),
    broker: Math.max(...samples.map((s) => s.rss.broker)),
  };
  const worstCatchUp = (group: string) =>
    Math.max(0, ...perRound.map((r) => r.catchUpSeconds[group] ?? Number.POSITIVE_INFINITY));
  const load = usage(samples[0]!, samples.at(-1)!);
  const figures: Figure[] = [
    {
      name: 'events produced',
      value: Math.round(produced.sent / produced.seconds),
      unit: 'events/s',
    },
    { name: 'events stored (steady)', value: storedRate, unit: 'events/s' },
    {
      name: 'pipeline peak RSS',
      value: peak.pipeline,
      unit: 'MiB',
      target: { atMost: TARGETS.peakRssMiB },
    },
    {
      name: 'event → stored p99',
      value: storeP99 ?? 0,
      unit: 's',
      target: { atMost: TARGETS.storedP99Seconds },
    },
    { name: 'event → stored p50', value: storeP50 ?? 0, unit: 's' },
    {
      name: 'event → ledger p99',
      value: ledgerP99 ?? 0,
      unit: 's',
      target: { atMost: TARGETS.ledgerP99Seconds },
    },
    { name: 'event → ledger p50', value: ledgerP50 ?? 0, unit: 's' },
    ...LAGGING.map((g) => ({
      name: `${g} lag back to 0 after a round (worst of ${perRound.length})`,
      value: worstCatchUp(g),
      unit: 's',
      target: { atMost: TARGETS.catchUpSeconds },
    })),
  ];
  console.log(
    `\nrounds (lag back to 0 = below ${threshold} messages, ${CAUGHT_UP_SECONDS_OF_TRAFFIC} s of traffic):`,
  );
  for (const r of perRound) {
    console.log(
      `  at ${r.start} s: ${r.seconds} s, ${r.priced} priced; lag back to 0 after ${LAGGING.map((g) => `${g} ${r.catchUpSeconds[g] ?? 'never'} s`).join(', ')}; max lag ${LAGGING.map((g) => `${g} ${r.maxLag[g]}`).join(', ')}; event loop max ${r.eventLoopMaxMs} ms; JS thread ${r.jsCores} cores, waiting for a CPU ${r.jsRunQueueWaitShare} of the time; stored p99 of its events ${r.storedP99Seconds} s`,
    );
  }
  console.log(
    `memory at the pipeline's peak RSS (MiB): rss ${peakAt.memory.rss}, V8 heap ${peakAt.memory.heapTotal} (used ${peakAt.memory.heapUsed}), external ${peakAt.memory.external}, ClickHouse tracked ${peakAt.memory.clickhouse}; by kind: mapped files (code) ${peakAt.memory.rssFile}, anonymous ${peakAt.memory.rssAnon}, of which neither V8 nor ClickHouse's tracker ${peakAt.memory.rssAnon - peakAt.memory.heapTotal - peakAt.memory.external - peakAt.memory.clickhouse} (allocators' retained memory, stacks)`,
  );
  console.log(
    `peak RSS router ${peak.router} MiB, broker ${sharedBrokers ? 'shared (not measured)' : `${peak.broker} MiB`}; CPU (cores) ${Object.entries(
      load.cores,
    )
      .map(([p, c]) => `${p} ${c}`)
      .join(
        ', ',
      )}; machine ${load.machineBusy} busy; ingest flushing ${load.flushBusy} of the time`,
  );

  if (values['trace-clickhouse']) printTrace();

  // The run ends with the audit of its books (docs/finance.md "Audit: the books checked").
  const audit = await pipeline.audit({ month: monthOf(new Date()) });
  console.log(renderAudit(audit));
  const date = new Date().toISOString();
  const chartFile = new URL(`./results/pipeline-${stamp(date)}.png`, import.meta.url).pathname;
  writeBenchReport({
    bench: 'pipeline',
    command: `npm run bench -- --rate ${rate} --seconds ${seconds}`,
    figures,
    details: {
      rate,
      seconds,
      produced,
      stored: samples.at(-1)!.stored,
      priced: samples.at(-1)!.priced,
      peakRssMiB: peak,
      memoryAtPeak: peakAt.memory,
      load,
      rounds: perRound,
      skippedRounds,
      audit: audit.results.map((r) => ({
        check: r.check,
        skipped: r.skipped,
        ok: r.ok,
        violations: r.violations,
      })),
      chart: chartFile.replace(/.*\/bench\//, 'bench/'),
      samples,
    },
  });
  await chart(chartFile, samples);
}

/** What each connection did in ClickHouse, inside and outside the rounds (ms since start). */
function printTrace(): void {
  const offset = started - tracerEpoch;
  const windows = rounds
    .filter((r) => r.end !== undefined)
    .map((r) => ({ start: offset + r.start * 1000, end: offset + r.end! * 1000 }));
  console.log('\nClickHouse operations (connection | kind: count, seconds, longest, in rounds):');
  for (const [key, row] of summarize(tracer.operations, windows).slice(0, 25)) {
    console.log(
      `  ${key}: ${row.count}, ${round2(row.seconds)} s, longest ${round2(row.maxSeconds)} s; in rounds ${row.inRounds}, ${round2(row.inRoundsSeconds)} s`,
    );
  }
}

// ---- rising rates: the knee ---------------------------------------------------------------------
async function kneeSearch(): Promise<void> {
  const stepSeconds = Number(values['step-seconds']);
  const steps: Array<StepFigures & { reasons: string[] }> = [];
  let knee = 0;
  for (const stepRate of values.rates.split(',').map(Number)) {
    console.log(`  step: ${stepRate} events/s for ${stepSeconds} s`);
    const stepLoop = eventLoopProbe();
    const roundsBefore = rounds.length;
    const skippedBefore = skippedRounds;
    const router = startRouter(stepRate, stepRate * stepSeconds, `knee-${stepRate}-`);
    const first = samples.length;
    while (!router.exited()) await tick();
    const produced = await router.done;
    const during = samples.slice(first);
    const from = during.find((s) => s.t - during[0]!.t >= STEP_WARMUP_SECONDS) ?? during[0]!;
    const to = during.at(-1)!;
    const load = usage(from, to);
    const loopFigures = stepLoop.take();
    stepLoop.stop();
    // The step's rounds end before the next step starts, while the groups catch up.
    const drainUntil = Date.now() + STEP_DRAIN_MS;
    const threshold = stepRate * CAUGHT_UP_SECONDS_OF_TRAFFIC;
    while (
      Date.now() < drainUntil &&
      (running || Object.values(samples.at(-1)!.lag).some((lag) => lag > threshold))
    )
      await tick();
    const step = {
      rate: stepRate,
      produced: Math.round(produced.sent / produced.seconds),
      stored: Math.round((to.stored - from.stored) / (to.t - from.t)),
      lagEnd: to.lag,
      roundSeconds: rounds
        .slice(roundsBefore)
        .map((r) => r.seconds ?? secondsSinceStart() - r.start),
      skippedRounds: skippedRounds - skippedBefore,
      cpu: load.cores,
      machineBusy: load.machineBusy,
      flushBusy: load.flushBusy,
      eventLoopP99Ms: loopFigures.p99Ms,
      eventLoopMaxMs: loopFigures.maxMs,
    };
    const verdict = keptUp(step);
    steps.push({ ...step, reasons: verdict.reasons });
    console.log(
      `    produced ${step.produced}, stored ${step.stored} events/s; lag at end ${JSON.stringify(step.lagEnd)}; rounds ${step.roundSeconds.map((s) => round2(s)).join(', ')} s; CPU ${JSON.stringify(step.cpu)}; machine ${step.machineBusy}; flushing ${step.flushBusy}; event loop p99 ${step.eventLoopP99Ms} ms, max ${step.eventLoopMaxMs} ms → ${verdict.ok ? 'kept up' : `not kept up: ${verdict.reasons.join('; ')}`}`,
    );
    if (!verdict.ok) break;
    knee = stepRate;
  }
  const saturated = saturatedFirst(steps);
  console.log(`\nknee: ${knee} events/s is the highest rate kept up with`);
  console.log(
    saturated.length === 0
      ? 'nothing reached its limit in these steps'
      : `saturated first: ${saturated.map((s) => `${s.what} at ${s.rate} events/s (${s.value} ${s.unit})`).join('; then ')}`,
  );
  writeBenchReport({
    bench: 'pipeline-knee',
    command: `npm run bench -- --knee --rates ${values.rates} --step-seconds ${stepSeconds}`,
    figures: [
      {
        name: 'knee: highest rate kept up with',
        value: knee,
        unit: 'events/s',
        target: { atLeast: 3000 },
      },
    ],
    details: { steps, saturated, samples },
  });
}

/** Throughput (per second), lag and event loop delay over time, drawn by Chart.js in headless Chromium. */
async function chart(file: string, points: Sample[]): Promise<void> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    console.log(`  no chart: no Chromium at ${executablePath}`);
    return;
  }
  const perSecond = (key: 'stored' | 'priced') =>
    points.map((p, i) => (i === 0 ? 0 : p[key] - points[i - 1]![key]));
  const data = {
    labels: points.map((p) => Math.round(p.t)),
    datasets: [
      { label: 'stored events/s', data: perSecond('stored'), yAxisID: 'y', borderColor: '#1f77b4' },
      {
        label: 'priced requests/s',
        data: perSecond('priced'),
        yAxisID: 'y',
        borderColor: '#2ca02c',
      },
      {
        label: 'ingest lag (messages)',
        data: points.map((p) => p.lag.ingest ?? 0),
        yAxisID: 'lag',
        borderColor: '#d62728',
      },
      {
        label: 'event loop delay, max (ms)',
        data: points.map((p) => p.eventLoop.maxMs),
        yAxisID: 'lag',
        borderColor: '#9467bd',
      },
    ],
  };
  const chartJs = readFileSync(
    new URL('../node_modules/chart.js/dist/chart.umd.min.js', import.meta.url),
    'utf8',
  );
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 600 } });
    await page.setContent(
      `<html><body style="margin:0;background:#fff"><canvas id="c" width="1200" height="600"></canvas></body></html>`,
    );
    await page.addScriptTag({ content: chartJs });
    await page.evaluate((d) => {
      const w = window as unknown as { Chart: new (el: unknown, config: unknown) => unknown };
      new w.Chart(document.getElementById('c'), {
        type: 'line',
        data: d,
        options: {
          animation: false,
          responsive: false,
          elements: { point: { radius: 0 } },
          scales: {
            x: { title: { display: true, text: 'seconds' } },
            y: { title: { display: true, text: 'per second' }, beginAtZero: true },
            lag: {
              position: 'right',
              title: { display: true, text: 'lag (messages) / delay (ms)' },
              beginAtZero: true,
            },
          },
        },
      });
    }, data);
    await page.locator('#c').screenshot({ path: file });
  } finally {
    await browser.close();
  }
}
