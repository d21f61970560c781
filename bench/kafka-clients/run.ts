// `npm run bench:kafka-clients [-- --messages N --rounds R]` (issue 15 item 2): kafkajs 2.2.4 (what
// packages/kafka uses), @platformatic/kafka 1.x (pure JavaScript) and
// @confluentinc/kafka-javascript (librdkafka, its KafkaJS-compatible API) side by side, on the
// same broker, topic and box. Per client, each phase in its own process (worker.ts):
//   produce       N RoutedRequestEvent bodies to a fresh 6-partition topic, acks=all
//   idempotent    the same with the idempotent producer
//   consume       a fresh group reads N messages of one shared topic, from the first message on
//   rebalance     member A (paced at --member-rate/s, auto-commit 500 ms) reads the shared topic;
//                 at a quarter of it, member B joins the group: the longest silence of the group
//                 after the join, B's wait for its first message, duplicates and losses.
// Rounds alternate the clients' order (the box is shared: compare within a round). Prints one
// table per round and writes bench/results/kafka-clients-<date>.json.
// The clients are not dependencies of the repo: scripts/kafka-clients-install.sh installs them
// into bench/kafka-clients/node_modules on demand.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@nanobill/config';
import { createKafka, ensureTopics } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import { createLogger } from '@nanobill/observability';
import { uniqueName } from '@nanobill/testkit';
import { deliveryCheck, silences, type MemberReport } from './rebalance-figures.js';
import { CLIENTS, type ClientName } from './shared.js';

const PARTITIONS = 6;
/** B joins once A has received this share of the topic. */
const JOIN_AT_SHARE = 0.25;
/** The group is done when nothing more arrived for this long (all delivered, or stuck). */
const QUIET_MS = 3_000;
/** A rebalance phase that has not delivered everything by then is reported as it stands. */
const REBALANCE_DEADLINE_MS = 180_000;
/**
 * Concurrent sends break @platformatic/kafka 1.x's idempotent producer (the broker answers
 * OUT_OF_ORDER_SEQUENCE_NUMBER): its users must send one batch at a time.
 */
const IDEMPOTENT_IN_FLIGHT: Partial<Record<ClientName, number>> = { platformatic: 1 };

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '500000' },
    rounds: { type: 'string', default: '2' },
    'member-rate': { type: 'string', default: '25000' },
  },
});
const messages = Number(values.messages);
const memberRate = Number(values['member-rate']);
const config = loadConfig();
const logger = createLogger({ level: 'warn' });
const brokers =
  config.kafkaBrokers ??
  (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
const kafka = createKafka({ brokers, clientId: 'bench-kafka-clients', logger });
const admin = kafka.admin();
await admin.connect();

const WORKER = new URL('./worker.ts', import.meta.url).pathname;
const startWorker = (args: string[]): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', WORKER, ...args, '--brokers', brokers.join(',')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });

/** Runs a worker to its end; resolves with its last JSON line. */
async function runWorker(args: string[]): Promise<Record<string, unknown>> {
  const child = startWorker(args);
  child.stdin!.end();
  let last = '';
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('{')) last = line;
  }
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0 || last === '') throw new Error(`worker ${args.join(' ')} exited ${code}`);
  return JSON.parse(last) as Record<string, unknown>;
}

async function produceOnce(client: ClientName, idempotent: boolean) {
  const topic = uniqueName(`kcb-produce-${client}`);
  await ensureTopics(kafka, [{ topic, numPartitions: PARTITIONS }]);
  const inFlight = idempotent ? IDEMPOTENT_IN_FLIGHT[client] : undefined;
  try {
    return await runWorker([
      'produce',
      '--client',
      client,
      '--topic',
      topic,
      '--messages',
      String(messages),
      ...(idempotent ? ['--idempotent'] : []),
      ...(inFlight === undefined ? [] : ['--in-flight', String(inFlight)]),
    ]);
  } finally {
    // Each is N × ~700 bytes on a shared broker's disk.
    await admin.deleteTopics({ topics: [topic] });
  }
}

/** A group member: its progress as it goes, its report once told to stop. */
function startMember(client: ClientName, topic: string, group: string) {
  const child = startWorker([
    'member',
    ...['--client', client, '--topic', topic, '--group', group, '--rate', String(memberRate)],
  ]);
  let progress = 0;
  const report = new Promise<MemberReport>((resolve, reject) => {
    let last: MemberReport | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const parsed = JSON.parse(line) as { progress?: number } & MemberReport;
      if (parsed.progress !== undefined) progress = parsed.progress;
      else last = parsed;
    });
    child.once('close', (code) =>
      last === undefined ? reject(new Error(`member exited ${code}`)) : resolve(last),
    );
  });
  return {
    progress: () => progress,
    async stop() {
      child.stdin!.write('stop\n');
      return report;
    },
  };
}

async function rebalance(client: ClientName, topic: string, highWatermarks: number[]) {
  const group = uniqueName(`kcb-rebalance-${client}`);
  const a = startMember(client, topic, group);
  while (a.progress() < messages * JOIN_AT_SHARE) await sleep(50);
  const joinAt = Date.now();
  const b = startMember(client, topic, group);
  let total = -1;
  let quietSince = Date.now();
  while (Date.now() - joinAt < REBALANCE_DEADLINE_MS) {
    await sleep(100);
    const now = a.progress() + b.progress();
    if (now !== total) [total, quietSince] = [now, Date.now()];
    if (total >= messages && Date.now() - quietSince >= QUIET_MS) break;
  }
  const reports = await Promise.all([a.stop(), b.stop()]);
  return { ...deliveryCheck(reports, highWatermarks), ...silences(reports, joinAt) };
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const versionOf = (name: string) =>
  (
    JSON.parse(
      readFileSync(
        new URL(
          name === 'kafkajs'
            ? '../../node_modules/kafkajs/package.json'
            : `./node_modules/${name}/package.json`,
          import.meta.url,
        ),
        'utf8',
      ),
    ) as { version: string }
  ).version;

// The shared topic every consume and rebalance phase reads, filled once (not timed).
const source = uniqueName('kcb-source');
await ensureTopics(kafka, [{ topic: source, numPartitions: PARTITIONS }]);
await runWorker(['produce', '--client', 'kafkajs', '--topic', source, '--messages', `${messages}`]);
const highWatermarks = (await admin.fetchTopicOffsets(source))
  .sort((x, y) => x.partition - y.partition)
  .map((p) => Number(p.high));

const rounds = [];
for (let round = 1; round <= Number(values.rounds); round++) {
  const order = round % 2 === 1 ? [...CLIENTS] : [...CLIENTS].reverse();
  const loadBefore = loadAverage();
  const results: Record<string, unknown>[] = [];
  for (const client of order) {
    results.push({
      client,
      produce: await produceOnce(client, false),
      idempotent: await produceOnce(client, true),
      consume: await runWorker([
        'consume',
        ...['--client', client, '--topic', source, '--group', uniqueName(`kcb-consume-${client}`)],
        ...['--messages', String(messages)],
      ]),
      rebalance: await rebalance(client, source, highWatermarks),
    });
  }
  const summary = { round, order, loadBefore, loadAfter: loadAverage(), results };
  rounds.push(summary);
  printRound(summary);
}
await admin.deleteTopics({ topics: [source] });
await admin.disconnect();

function printRound(summary: {
  round: number;
  loadBefore: string;
  loadAfter: string;
  results: Record<string, unknown>[];
}) {
  type Figures = { perSecond: number; cpuMicrosPerMessage: number; error?: string };
  const rate = (f: Figures) =>
    f.error === undefined ? `${f.perSecond}/s ${f.cpuMicrosPerMessage} µs` : 'failed';
  console.log(
    `\nround ${summary.round} (load average ${summary.loadBefore} → ${summary.loadAfter}), ${messages} messages, ${PARTITIONS} partitions`,
  );
  console.log(
    [
      'client'.padEnd(13),
      'produce (acks=all)'.padEnd(22),
      'idempotent'.padEnd(22),
      'consume'.padEnd(22),
      'join s',
      'rebalance pause s (pacing gap)',
      'B assigned s',
      'B 1st msg s',
      'dup',
      'lost',
    ].join(' '),
  );
  for (const r of summary.results) {
    const reb = r.rebalance as ReturnType<typeof silences> & { duplicates: number; lost: number };
    const consume = r.consume as Figures & { joinSeconds: number };
    console.log(
      [
        String(r.client).padEnd(13),
        rate(r.produce as Figures).padEnd(22),
        rate(r.idempotent as Figures).padEnd(22),
        rate(consume).padEnd(22),
        String(consume.joinSeconds).padEnd(6),
        `${reb.pauseSeconds} (${reb.pacingGapSeconds})`.padEnd(30),
        String(reb.secondMemberAssignedSeconds).padEnd(12),
        String(reb.secondMemberFirstMessageSeconds).padEnd(11),
        String(reb.duplicates).padEnd(3),
        String(reb.lost),
      ].join(' '),
    );
  }
}

const date = new Date().toISOString();
const result = {
  bench: 'kafka-clients',
  date,
  messages,
  partitions: PARTITIONS,
  memberRate,
  versions: Object.fromEntries(
    ['kafkajs', '@platformatic/kafka', '@confluentinc/kafka-javascript'].map((n) => [
      n,
      versionOf(n),
    ]),
  ),
  node: process.version,
  notes: {
    cpu: 'process.cpuUsage (user+system, all threads) per message, from the first message on',
    consume: 'counts each message and its bytes; no parsing',
    idempotentInFlight: IDEMPOTENT_IN_FLIGHT,
  },
  rounds,
};
const file = new URL(
  `../results/kafka-clients-${date.slice(0, 19).replace(/[:T]/g, '-')}.json`,
  import.meta.url,
);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwritten to bench/results/${file.pathname.split('/').at(-1)}`);
