// The router side of the benchmarks, in its own process as in production: produces `--events`
// simulated events to `--topic` as fast as the broker takes them (or at `--rate`), with live
// timestamps, then prints one JSON line of figures.
import { parseArgs } from 'node:util';
import { createKafka } from '@nanobill/kafka';
import { createLogger } from '@nanobill/observability';
import { createEventGenerator, runRouterSimulator } from '@nanobill/router-simulator';

const { values } = parseArgs({
  options: {
    topic: { type: 'string' },
    events: { type: 'string' },
    rate: { type: 'string', default: '1000000' },
    brokers: { type: 'string' },
    prefix: { type: 'string', default: 'bench-' },
  },
});
const kafka = createKafka({
  brokers: values.brokers!.split(','),
  clientId: 'bench-router',
  logger: createLogger({ level: 'warn' }),
});
const started = performance.now();
const { sent } = await runRouterSimulator({
  kafka,
  topic: values.topic!,
  ratePerSecond: Number(values.rate),
  total: Number(values.events),
  generator: createEventGenerator({
    requestIdPrefix: values.prefix,
    eventsPerSecondOfSimTime: Date.now,
  }),
});
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ sent, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
