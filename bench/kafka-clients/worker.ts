// One phase of the Kafka client comparison, in its own process (so process.cpuUsage and the
// peak RSS are this client's alone, librdkafka's threads included), started by run.ts:
//   produce  --client C --topic T --messages N [--idempotent]   N RoutedRequestEvent bodies
//   consume  --client C --topic T --group G --messages N         until N messages arrived
//   member   --client C --topic T --group G --rate R             a paced group member for the
//            rebalance phase: progress lines on stdout, stops on "stop" from stdin, then reports
//            what it received (offset runs per partition) and when (50 ms buckets).
// Each prints its figures as one JSON line (the last line of stdout).
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEventGenerator, encodeEvent } from '@nanobill/router-simulator';
import { openConsumer, openProducer, type Delivery, type KeyedMessage } from './clients.js';
import { BUCKET_MS, CLIENTS, type ClientName } from './shared.js';

/** Distinct events generated before timing and cycled (generation is not the client's cost). */
const EVENT_POOL = 20_000;
/** Messages a send carries, and sends in flight at once: the router simulator's defaults. */
const SEND_BATCH = 500;
const SENDS_IN_FLIGHT = 64;
/** How often a member reports its progress to run.ts. */
const PROGRESS_MS = 100;
/** The member's auto-commit interval: what it may redeliver after a rebalance is bounded by it. */
const MEMBER_AUTO_COMMIT_MS = 500;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    client: { type: 'string' },
    topic: { type: 'string' },
    group: { type: 'string' },
    messages: { type: 'string' },
    rate: { type: 'string' },
    brokers: { type: 'string' },
    idempotent: { type: 'boolean', default: false },
    'in-flight': { type: 'string', default: String(SENDS_IN_FLIGHT) },
  },
});
const client = values.client as ClientName;
if (!CLIENTS.includes(client)) throw new Error(`unknown client ${values.client}`);
const brokers = values.brokers!.split(',');
const topic = values.topic!;

/** CPU (user + system, µs) and wall time since `mark()`. */
function meter() {
  let cpu = process.cpuUsage();
  let wall = performance.now();
  return {
    mark() {
      cpu = process.cpuUsage();
      wall = performance.now();
    },
    read() {
      const used = process.cpuUsage(cpu);
      return { seconds: (performance.now() - wall) / 1000, cpuMicros: used.user + used.system };
    },
  };
}

function eventPool(): KeyedMessage[] {
  const generator = createEventGenerator({ requestIdPrefix: 'kcb-', eventsPerSecondOfSimTime: 1 });
  return Array.from({ length: EVENT_POOL }, () => {
    const event = generator.next();
    return { key: Buffer.from(event.requestId), value: encodeEvent(event) };
  });
}

function figures(messages: number, seconds: number, cpuMicros: number) {
  return {
    messages,
    seconds: round(seconds, 3),
    perSecond: Math.round(messages / seconds),
    cpuMicrosPerMessage: round(cpuMicros / messages, 2),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const describe = (error: unknown): string =>
  error instanceof Error
    ? [error.message, ...((error as { errors?: unknown[] }).errors ?? []).map(describe)].join(': ')
    : String(error);

const round = (n: number, digits: number) => Number(n.toFixed(digits));

async function produce() {
  const total = Number(values.messages);
  const pool = eventPool();
  const producer = await openProducer(client, brokers, values.idempotent!);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const clock = meter();
  for (let queued = 0; queued < total && failure === undefined;) {
    if (inFlight.size >= Number(values['in-flight'])) {
      await Promise.race(inFlight);
      continue;
    }
    const n = Math.min(SEND_BATCH, total - queued);
    const batch = new Array<KeyedMessage>(n);
    for (let i = 0; i < n; i++) batch[i] = pool[(queued + i) % EVENT_POOL]!;
    queued += n;
    const sent: Promise<void> = producer
      .send(topic, batch)
      .catch((error: unknown) => void (failure ??= error))
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
  }
  await Promise.all(inFlight);
  const { seconds, cpuMicros } = clock.read();
  await producer.close();
  // A failed send is a result of the comparison (e.g. an idempotent producer refusing concurrent
  // sends), reported beside the figures rather than ending the run.
  const error = failure === undefined ? undefined : describe(failure);
  return { ...figures(total, seconds, cpuMicros), idempotent: values.idempotent, error };
}

/**
 * Throughput: a fresh group reads N messages from the beginning, as fast as the client can. The
 * clock starts when the group assigns the partitions (before the first fetch): joining is
 * reported on its own, and a client that hands over its first fetch in one piece is not flattered.
 */
async function consume() {
  const total = Number(values.messages);
  const started = performance.now();
  const clock = meter();
  let received = 0;
  let assignedAt: number | undefined;
  let firstAt: number | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = await openConsumer(client, brokers, {
    topic,
    groupId: values.group!,
    onAssigned: () => {
      if (assignedAt !== undefined) return;
      assignedAt = performance.now();
      clock.mark();
    },
    onDelivery: ({ count }) => {
      firstAt ??= performance.now();
      received += count;
      if (received >= total) done();
    },
  });
  await finished;
  const { seconds, cpuMicros } = clock.read();
  await consumer.close();
  return {
    ...figures(received, seconds, cpuMicros),
    joinSeconds: round((assignedAt! - started) / 1000, 3),
    firstFetchSeconds: round((firstAt! - assignedAt!) / 1000, 3),
  };
}

/** A group member paced at `--rate` messages/s, until run.ts says stop. */
async function member() {
  const rate = Number(values.rate);
  const started = Date.now();
  /** Per partition: [first, last] offset runs received, in order of arrival. */
  const runs = new Map<number, [number, number][]>();
  /** Messages received per BUCKET_MS bucket, keyed by the bucket's start (epoch ms). */
  const buckets = new Map<number, number>();
  /** When the group assigned partitions to this member (epoch ms, partitions), and revoked them. */
  const assignments: [number, number[]][] = [];
  const revocations: number[] = [];
  let received = 0;
  let firstAt: number | undefined;
  const onDelivery = async ({ partition, firstOffset, count }: Delivery) => {
    const now = Date.now();
    firstAt ??= now;
    const bucket = now - (now % BUCKET_MS);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
    const partitionRuns = runs.get(partition) ?? [];
    runs.set(partition, partitionRuns);
    const last = partitionRuns.at(-1);
    if (last !== undefined && last[1] + 1 === firstOffset) last[1] += count;
    else partitionRuns.push([firstOffset, firstOffset + count - 1]);
    received += count;
    // Pacing: this member processes `rate` messages a second (its work, simulated by a wait).
    const due = firstAt + (received * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
  };
  const consumer = await openConsumer(client, brokers, {
    topic,
    groupId: values.group!,
    autoCommitMs: MEMBER_AUTO_COMMIT_MS,
    onAssigned: (partitions) => assignments.push([Date.now(), partitions]),
    onRevoked: () => revocations.push(Date.now()),
    onDelivery,
  });
  const progress = setInterval(
    () => console.log(JSON.stringify({ progress: received })),
    PROGRESS_MS,
  );
  await new Promise<void>((resolve) => {
    createInterface({ input: process.stdin }).on('line', (line) => {
      if (line.trim() === 'stop') resolve();
    });
  });
  clearInterval(progress);
  await consumer.close();
  return {
    received,
    startedAt: started,
    firstMessageAt: firstAt ?? null,
    assignments,
    revocations,
    runs: Object.fromEntries(runs),
    buckets: Object.fromEntries(buckets),
  };
}

const phases = { produce, consume, member };
const phase = positionals[0] as keyof typeof phases;
if (!(phase in phases)) throw new Error(`unknown phase ${positionals[0]}`);
const result = await phases[phase]();
console.log(JSON.stringify({ client, phase, ...result }));
// Some clients keep timers or native threads alive after closing; the figures are out.
process.exit(0);
