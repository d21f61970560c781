// `npm run bench:enforcement [-- --orgs N --rate R --seconds S]`: N orgs with spending limits
// (default 1,000), their members' requests produced at R events/s (default 20,000) for S seconds
// (default 30) by a router process; the enforcement service (embedded ClickHouse) estimates each
// request from the model's published price and publishes status changes. Prints the time from the
// request that crossed 80 % / 100 % of an org's limit being produced to its warning / blocked
// status being on billing.account-status.v1 (p50/p99/max), the overshoot at the block, and RSS.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { snapshotRow } from '@nanobill/accounts';
import { migrate, openClickHouse } from '@nanobill/clickhouse';
import { loadConfig } from '@nanobill/config';
import type { AccountSnapshot, AccountStatus } from '@nanobill/contract';
import { startEnforcement } from '@nanobill/enforcement-service';
import { ensureTopics, kafkaFromConfig } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import { createLogger, createMetricsRegistry } from '@nanobill/observability';
import { startProviderSimulator } from '@nanobill/provider-simulator';
import { parseProviders } from '@nanobill/providers';
import { collectTopic, tempDir, uniqueName } from '@nanobill/testkit';
import { MODEL, PRICING, fleet } from './enforcement-fleet.js';
import { percentile } from './percentile.js';
import { writeBenchReport } from './report.js';

const { values } = parseArgs({
  options: {
    orgs: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '30' },
    seed: { type: 'string', default: '7' },
  },
});
const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const brokers =
  config.kafkaBrokers ??
  (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
const kafka = kafkaFromConfig(config, { brokers, clientId: 'bench-enforcement', logger });
const topics = {
  requests: uniqueName('bench-requests'),
  accountStatus: uniqueName('bench-status'),
  alerts: uniqueName('bench-alerts'),
};
await ensureTopics(kafka, [
  { topic: topics.requests, numPartitions: 6 },
  { topic: topics.accountStatus, numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
  { topic: topics.alerts, numPartitions: 3 },
]);

const orgs = fleet(Number(values.orgs), Number(values.seed));
const clickhouse = openClickHouse({ url: config.clickhouseUrl, dataDir: tempDir('bench-enf-') });
await migrate(clickhouse);
const since = new Date(Date.now() - 60_000).toISOString();
const snapshots: AccountSnapshot[] = orgs.flatMap((org) => [
  {
    schemaVersion: 1,
    accountId: org.id,
    kind: 'org',
    plan: 'team',
    effectiveAt: since,
    seats: 3,
    members: org.members,
    spendingLimitNanoUsd: Number(org.limit),
  },
  ...org.members.map((m): AccountSnapshot => ({
    schemaVersion: 1,
    accountId: m,
    kind: 'user',
    plan: 'pro',
    effectiveAt: since,
  })),
]);
await clickhouse.insert({
  table: 'billing.account_snapshots',
  values: snapshots.map(snapshotRow),
  format: 'JSONEachRow',
});
const simulator = await startProviderSimulator({
  providers: {
    groq: {
      token: 'bench',
      models: [
        { id: MODEL, pricing: { input: Number(PRICING.input), output: Number(PRICING.output) } },
      ],
    },
  },
});
process.env.BENCH_GROQ_TOKEN = 'bench';
const providers = parseProviders({
  groq: {
    costUrl: simulator.costUrl('groq'),
    modelsUrl: simulator.modelsUrl('groq'),
    tokenEnv: 'BENCH_GROQ_TOKEN',
  },
});
const metrics = createMetricsRegistry();
const enforcement = await startEnforcement({
  kafka,
  clickhouse,
  logger,
  metrics,
  providers,
  topics,
  groupId: uniqueName('bench-enforcement'),
});
const statuses = await collectTopic(kafka, topics.accountStatus);

console.log(
  `bench:enforcement: ${orgs.length} orgs with limits, ${values.rate} events/s for ${values.seconds} s, broker ${brokers.join(',')}`,
);
const router = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    new URL('./enforcement-produce.ts', import.meta.url).pathname,
    ...['--topic', topics.requests, '--brokers', brokers.join(',')],
    ...['--orgs', values.orgs, '--rate', values.rate, '--seconds', values.seconds],
    ...['--seed', values.seed],
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let routerOut = '';
router.stdout.on('data', (chunk: Buffer) => (routerOut += chunk.toString()));
await new Promise((resolve) => router.on('exit', resolve));
const produced = JSON.parse(routerOut.trim().split('\n').at(-1)!) as {
  sent: number;
  seconds: number;
  crossedAt: Record<string, { warning?: number; blocked?: number }>;
  maxRssMb: number;
};

// Every crossing the router caused must show up; give the service time to drain.
const expected = Object.values(produced.crossedAt).reduce(
  (n, c) => n + (c.warning === undefined ? 0 : 1) + (c.blocked === undefined ? 0 : 1),
  0,
);
const firsts = () => {
  const seen = new Map<string, { status: AccountStatus; at: number }>();
  statuses.messages.forEach((m, i) => {
    const status = statuses.values<AccountStatus>()[i]!;
    const key = `${status.accountId}:${status.status}`;
    if (status.status !== 'ok' && !seen.has(key))
      seen.set(key, { status, at: Number(m.timestamp) });
  });
  return seen;
};
const drainDeadline = Date.now() + 120_000;
while (firsts().size < expected && Date.now() < drainDeadline) {
  await new Promise((resolve) => setTimeout(resolve, 250));
}
const seen = firsts();

const latencies: Record<'warning' | 'blocked', number[]> = { warning: [], blocked: [] };
const overshoots: bigint[] = [];
for (const [org, crossed] of Object.entries(produced.crossedAt)) {
  for (const kind of ['warning', 'blocked'] as const) {
    const producedAt = crossed[kind];
    const published = seen.get(`${org}:${kind}`);
    if (producedAt === undefined || published === undefined) continue;
    latencies[kind].push(published.at - producedAt);
    if (kind === 'blocked') {
      overshoots.push(
        BigInt(published.status.spendNanoUsd) - BigInt(published.status.limitNanoUsd!),
      );
    }
  }
}
const pct = (xs: number[], p: number) => percentile(xs, p, Number.NaN);
const pctBig = (xs: bigint[], p: number) => percentile(xs, p, 0n);
const all = [...latencies.warning, ...latencies.blocked];
const avgCost = 1_187_500n; // mean of the fleet's token estimates, for "requests past the limit"
const result = {
  date: new Date().toISOString(),
  orgs: orgs.length,
  targetRate: Number(values.rate),
  produced: {
    events: produced.sent,
    eventsPerSecond: Math.round(produced.sent / produced.seconds),
  },
  statusChanges: { expected, seen: seen.size, missing: expected - Math.min(expected, seen.size) },
  eventToStatusMs: {
    p50: pct(all, 50),
    p99: pct(all, 99),
    max: Math.max(...all),
    warning: { p50: pct(latencies.warning, 50), p99: pct(latencies.warning, 99) },
    blocked: { p50: pct(latencies.blocked, 50), p99: pct(latencies.blocked, 99) },
  },
  overshootNanoUsd: {
    p50: pctBig(overshoots, 50).toString(),
    p99: pctBig(overshoots, 99).toString(),
    max: pctBig(overshoots, 100).toString(),
  },
  peakRssMb: {
    enforcement: Math.round(process.resourceUsage().maxRSS / 1024),
    router: Math.round(produced.maxRssMb),
  },
};
console.log(
  [
    `  produced            ${result.produced.events} events at ${result.produced.eventsPerSecond} events/s`,
    `  status changes      ${result.statusChanges.seen} of ${expected} expected (warning + blocked)`,
    `  event → status      p50 ${result.eventToStatusMs.p50} ms, p99 ${result.eventToStatusMs.p99} ms, max ${result.eventToStatusMs.max} ms (target p99 ≤ 5,000 ms)`,
    `    warning           p50 ${result.eventToStatusMs.warning.p50} ms, p99 ${result.eventToStatusMs.warning.p99} ms`,
    `    blocked           p50 ${result.eventToStatusMs.blocked.p50} ms, p99 ${result.eventToStatusMs.blocked.p99} ms`,
    `  overshoot at block  p50 ${result.overshootNanoUsd.p50}, p99 ${result.overshootNanoUsd.p99}, max ${result.overshootNanoUsd.max} nano-USD ` +
      `(p99 ≈ ${Number(pctBig(overshoots, 99) / avgCost)} requests of ~$0.0012)`,
    `  peak RSS            enforcement ${result.peakRssMb.enforcement} MiB, router ${result.peakRssMb.router} MiB`,
  ].join('\n'),
);
writeBenchReport({
  bench: 'enforcement',
  command: `npm run bench:enforcement -- --orgs ${values.orgs} --rate ${values.rate} --seconds ${values.seconds}`,
  figures: [
    {
      name: 'enforcement: event → status p99',
      value: result.eventToStatusMs.p99,
      unit: 'ms',
      target: { atMost: 5_000 },
    },
    {
      name: 'enforcement: status changes missing',
      value: result.statusChanges.missing,
      unit: 'changes',
      target: { atMost: 0 },
    },
    {
      name: 'enforcement: overshoot at block p99',
      value: Number(pctBig(overshoots, 99)) / 1e9,
      unit: 'USD',
    },
    {
      name: 'enforcement: peak RSS (service + ClickHouse)',
      value: result.peakRssMb.enforcement,
      unit: 'MiB',
    },
  ],
  details: result,
});
await statuses.stop();
await enforcement.stop();
await simulator.close();
await clickhouse.close();
process.exit(0);
