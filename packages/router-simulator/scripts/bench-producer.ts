/**
 * Measures runRouterSimulator against a broker: creates `sim-bench-<random>` (6 partitions),
 * produces at the asked rate, checks the topic's offsets add up, deletes the topic.
 *
 *   npx tsx packages/router-simulator/scripts/bench-producer.ts \
 *     [--brokers 127.0.0.1:9092] [--rate 60000] [--seconds 10] [--batch 500] [--in-flight 64]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { createEventGenerator, runRouterSimulator } from '../src/index.js';

const { Kafka, logLevel } = kafkajs;

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    rate: { type: 'string', default: '60000' },
    seconds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '500' },
    'in-flight': { type: 'string', default: '64' },
  },
});
const out = (line: string) => process.stdout.write(`${line}\n`);

const kafka = new Kafka({
  clientId: 'sim-bench',
  brokers: values.brokers.split(','),
  logLevel: logLevel.WARN,
});
const topic = `sim-bench-${randomBytes(4).toString('hex')}`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [{ topic, numPartitions: 6, replicationFactor: 1 }],
  waitForLeaders: true,
});
try {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const startCpu = process.cpuUsage();
  const start = performance.now();
  const { sent } = await runRouterSimulator({
    kafka,
    topic,
    ratePerSecond: rate,
    durationMs: seconds * 1000,
    generator: createEventGenerator({ seed: 1, eventsPerSecondOfSimTime: rate }),
    batchSize: Number(values.batch),
    maxInFlight: Number(values['in-flight']),
  });
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(startCpu);
  const offsets = await admin.fetchTopicOffsets(topic);
  const stored = offsets.reduce((sum, p) => sum + Number(p.high), 0);
  out(
    `topic ${topic}: asked ${rate}/s for ${seconds}s, batch ${values.batch}, in flight ${values['in-flight']}`,
  );
  out(
    `sent ${sent} in ${elapsed.toFixed(2)}s = ${Math.round(sent / elapsed)} events/s; broker holds ${stored}`,
  );
  out(`producer process CPU ${((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(2)} cores`);
  if (stored !== sent) process.exitCode = 1;
} finally {
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
}
