// The router side of `bench:enforcement`, in its own process: produces requests of the fleet's
// orgs at `--rate` events/s for `--seconds`, and records, per org, when the request that took its
// produced spend to 80 % and to 100 % of the limit was sent. Prints one JSON line.
import { parseArgs } from 'node:util';
import { createKafka, createProducer } from '@nanobill/kafka';
import { createLogger } from '@nanobill/observability';
import { fleet, random, request } from './enforcement-fleet.js';

const { values } = parseArgs({
  options: {
    topic: { type: 'string' },
    brokers: { type: 'string' },
    orgs: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    seed: { type: 'string' },
  },
});
const orgs = fleet(Number(values.orgs), Number(values.seed));
const rng = random(Number(values.seed) + 1);
const kafka = createKafka({
  brokers: values.brokers!.split(','),
  clientId: 'bench-enforcement-router',
  logger: createLogger({ level: 'warn' }),
});
const producer = createProducer(kafka);
await producer.connect();

const spend = new Map<string, bigint>();
const crossedAt: Record<string, { warning?: number; blocked?: number }> = {};
const rate = Number(values.rate);
const tickMs = 50;
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
const started = Date.now();
const end = started + Number(values.seconds) * 1000;
let sent = 0;
const inFlight = new Set<Promise<unknown>>();
for (let tick = 0; Date.now() < end; tick++) {
  const at = Date.now();
  const messages = [];
  for (let i = 0; i < perTick; i++) {
    const { event, org, estimate } = request(
      orgs,
      rng,
      `bench-${started}-${sent + i}`,
      new Date(at),
    );
    const before = spend.get(org.id) ?? 0n;
    const after = before + estimate;
    spend.set(org.id, after);
    const marks = (crossedAt[org.id] ??= {});
    if (marks.warning === undefined && after * 100n >= 80n * org.limit) marks.warning = at;
    if (marks.blocked === undefined && after >= org.limit) marks.blocked = at;
    messages.push({ key: event.requestId, value: JSON.stringify(event), timestamp: String(at) });
  }
  sent += messages.length;
  const send = producer.send({ topic: values.topic!, acks: -1, messages });
  inFlight.add(send);
  void send.finally(() => inFlight.delete(send));
  if (inFlight.size > 20) await Promise.race(inFlight);
  const next = started + (tick + 1) * tickMs;
  if (next > Date.now()) await new Promise((resolve) => setTimeout(resolve, next - Date.now()));
}
await Promise.all(inFlight);
const seconds = (Date.now() - started) / 1000;
await producer.disconnect();
console.log(
  JSON.stringify({
    sent,
    seconds,
    crossedAt,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }),
);
