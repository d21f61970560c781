/// <reference lib="dom" />
// `npm run bench [-- --rate R --seconds S]`: the whole pipeline on one machine, as `nanobill
// demo` runs it (a broker of its own, every service in one process on embedded ClickHouse, the
// provider simulator), fed by the router simulator in its own process at R events/s (default
// 3,000) for S seconds (default 150), pricing every minute as in production. Samples every second
// what was produced, stored, priced and the consumer lag; prints events/s, event → ledger and
// event → status percentiles and RSS per process; writes a markdown report and a PNG chart of
// throughput and lag over time to bench/results/.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { renderAudit } from '@nanobill/audit';
import { loadConfig } from '@nanobill/config';
import { monthOf } from '@nanobill/calendar';
import { TOPICS } from '@nanobill/contract';
import { stopBroker } from '@nanobill/kafka-broker';
import { createLogger } from '@nanobill/observability';
import { loadProviders } from '@nanobill/providers';
import { freePortPair, tempDir } from '@nanobill/testkit';
import { startPipeline } from '@nanobill/pipeline';
import { simulateProviders } from '@nanobill/provider-simulator';
import { publishAccounts, simulatedTraffic } from '@nanobill/router-simulator';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '150' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const dataDir = tempDir('bench-pipeline-');
const kafkaPort = await freePortPair();
const config = {
  ...loadConfig({ ...process.env, KAFKA_BROKERS: undefined }),
  kafkaBrokers: undefined,
  localKafkaPort: kafkaPort,
  dataDir,
  port: await freePortPair(),
  ops: { port: await freePortPair(), host: '127.0.0.1' },
};
const logger = createLogger({ level: 'warn' });
console.log(`bench: whole pipeline, ${rate} events/s for ${seconds} s, data in ${dataDir}`);
const { registry: providers, simulator } = await simulateProviders(
  loadProviders(config.providersFile),
);
const pipeline = await startPipeline({ config, logger, providers });

// The hub's side: the router simulator's users and orgs, so attribution never waits for them.
await publishAccounts(pipeline.kafka, simulatedTraffic({ prefix: 'x' }).snapshots);
await new Promise((resolve) => setTimeout(resolve, 3_000)); // stored and read by the services

const router = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    new URL('./produce.ts', import.meta.url).pathname,
    ...['--topic', TOPICS.requests, '--brokers', pipeline.brokers.join(',')],
    ...['--events', String(rate * seconds), '--rate', String(rate), '--prefix', 'bench-'],
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let routerOut = '';
router.stdout.on('data', (chunk: Buffer) => (routerOut += chunk.toString()));
const routerDone = new Promise((resolve) => router.on('exit', resolve));

const count = async (query: string): Promise<number> => {
  const result = await pipeline.reader.query({ query, format: 'JSONCompactEachRow' });
  return Number((await result.json<[string]>())[0]?.[0] ?? 0);
};
const lag = async () => {
  const metric = await pipeline.registry.getSingleMetric('nanobill_ingest_consumer_lag')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
};
const rssMb = (pid: number | undefined) => {
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) return 0;
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
};
const peak = { pipeline: 0, router: 0, broker: 0 };
const brokerPid = Number(readFileSync(join(dataDir, 'kafka', 'broker.pid'), 'utf8').trim());
interface Sample {
  t: number;
  stored: number;
  priced: number;
  lag: number;
}
const samples: Sample[] = [];
const started = Date.now();
let routerExited = false;
void routerDone.then(() => (routerExited = true));
// Until the router is done and one more pricing round has run after it.
let drainUntil = Number.POSITIVE_INFINITY;
while (Date.now() < drainUntil) {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  samples.push({
    t: (Date.now() - started) / 1000,
    stored: await count('SELECT count() FROM billing.usage'),
    priced: await count('SELECT count() FROM billing.ledger_entries'),
    lag: await lag(),
  });
  peak.pipeline = Math.max(peak.pipeline, rssMb(process.pid));
  peak.router = Math.max(peak.router, rssMb(router.pid));
  peak.broker = Math.max(peak.broker, rssMb(brokerPid));
  if (routerExited && drainUntil === Number.POSITIVE_INFINITY) drainUntil = Date.now() + 75_000;
}
const produced = JSON.parse(routerOut.trim().split('\n').at(-1)!) as {
  sent: number;
  seconds: number;
};

const quantiles = async (query: string) => {
  const result = await pipeline.reader.query({ query, format: 'JSONCompactEachRow' });
  const [row] = await result.json<[number[]]>();
  return (row?.[0] ?? []).map((s) => Math.round(Number(s) * 1000) / 1000);
};
// Router timestamp → stored in the ledger: bounded below by the minute's pricing schedule.
const [ledgerP50, ledgerP99] = await quantiles(
  `SELECT quantilesExact(0.5, 0.99)(toUnixTimestamp64Milli(inserted_at) - toUnixTimestamp64Milli(event_time)) / 1000
   FROM billing.ledger_entries WHERE startsWith(request_id, 'bench-')`,
);
const [storeP50, storeP99] = await quantiles(
  `SELECT quantilesExact(0.5, 0.99)(toUnixTimestamp64Milli(ingested_at) - toUnixTimestamp64Milli(event_time)) / 1000
   FROM billing.usage WHERE startsWith(request_id, 'bench-')`,
);
const statusHistogram = (
  await pipeline.registry.getSingleMetric('nanobill_enforcement_event_to_status_seconds')?.get()
)?.values;
const bucket = (q: number) => {
  const counts = (statusHistogram ?? []).filter((v) =>
    (v as { metricName?: string }).metricName?.endsWith('_bucket'),
  );
  const total = counts.find((v) => v.labels.le === '+Inf')?.value ?? 0;
  const hit = counts.find((v) => v.value >= q * total);
  return total === 0 ? undefined : String(hit?.labels.le);
};
const steady = samples.filter((s) => s.t > 10 && s.t < produced.seconds);
const storedRate =
  steady.length > 1
    ? Math.round((steady.at(-1)!.stored - steady[0]!.stored) / (steady.at(-1)!.t - steady[0]!.t))
    : 0;
const maxLag = Math.max(...samples.map((s) => s.lag));
const result = {
  date: new Date().toISOString(),
  rate,
  seconds,
  produced: {
    events: produced.sent,
    eventsPerSecond: Math.round(produced.sent / produced.seconds),
  },
  storedPerSecondSteady: storedRate,
  stored: samples.at(-1)!.stored,
  priced: samples.at(-1)!.priced,
  maxConsumerLag: maxLag,
  eventToStoredSeconds: { p50: storeP50, p99: storeP99 },
  eventToLedgerSeconds: { p50: ledgerP50, p99: ledgerP99 },
  eventToStatusSeconds: { p50AtMost: bucket(0.5), p99AtMost: bucket(0.99) },
  peakRssMb: peak,
};
const lines = [
  `# nanobill whole-pipeline benchmark, ${result.date}`,
  '',
  `One machine (2 cores): a Kafka broker, every service in one process on embedded ClickHouse, the provider simulator, and the router simulator in its own process at ${rate} events/s for ${seconds} s; pricing every minute.`,
  '',
  '| figure | value |',
  '|---|---|',
  `| produced | ${result.produced.events} events, ${result.produced.eventsPerSecond} events/s |`,
  `| stored (steady) | ${storedRate} events/s; ${result.stored} rows in billing.usage |`,
  `| consumer lag (max) | ${maxLag} messages |`,
  `| event → stored p50 / p99 | ${storeP50} s / ${storeP99} s |`,
  `| event → ledger p50 / p99 | ${ledgerP50} s / ${ledgerP99} s (pricing runs each minute) |`,
  `| event → status change p50 / p99 | ≤ ${result.eventToStatusSeconds.p50AtMost} s / ≤ ${result.eventToStatusSeconds.p99AtMost} s (histogram buckets) |`,
  `| priced | ${result.priced} ledger rows |`,
  `| peak RSS | pipeline ${peak.pipeline} MiB, router ${peak.router} MiB, broker ${peak.broker} MiB |`,
  '',
  '![throughput and lag](./' + `pipeline-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.png)`,
  '',
];
// The run ends with the audit of its books (docs/finance.md "Audit: the books checked").
const audit = await pipeline.audit({ month: monthOf(new Date()) });
console.log(renderAudit(audit));
lines.splice(
  lines.indexOf(`| priced | ${result.priced} ledger rows |`) + 1,
  0,
  `| audit | ${audit.results.map((r) => `${r.check} ${r.skipped ? 'skipped' : r.ok ? 'ok' : `${r.violations} violations`}`).join(', ')} |`,
);
const stem = `pipeline-${result.date.slice(0, 19).replace(/[:T]/g, '-')}`;
const results = new URL('./results/', import.meta.url).pathname;
writeFileSync(join(results, `${stem}.md`), lines.join('\n'));
writeFileSync(
  join(results, `${stem}.json`),
  `${JSON.stringify({ ...result, audit, samples }, null, 2)}\n`,
);
await chart(join(results, `${stem}.png`), samples);
console.log(lines.slice(4, -3).join('\n'));
console.log(`  written to bench/results/${stem}.md (.json, .png)`);

await pipeline.stop();
await simulator.close();
await stopBroker({ dataDir, port: kafkaPort });
process.exit(0);

/** Throughput (per second) and lag over time, drawn by Chart.js in headless Chromium. */
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
        label: 'consumer lag (messages)',
        data: points.map((p) => p.lag),
        yAxisID: 'lag',
        borderColor: '#d62728',
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
            lag: { position: 'right', title: { display: true, text: 'lag' }, beginAtZero: true },
          },
        },
      });
    }, data);
    await page.locator('#c').screenshot({ path: file });
  } finally {
    await browser.close();
  }
}
