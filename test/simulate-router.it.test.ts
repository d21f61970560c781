import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AccountSnapshot, RoutedRequestEvent } from '@nanobill/contract';
import { ensureTopics, type Kafka } from '@nanobill/kafka';
import {
  readTopic,
  spawnTs,
  testBrokers,
  testKafka,
  uniqueName,
  waitFor,
  type ChildRun,
} from '@nanobill/testkit';
import { simulatedTraffic } from '@nanobill/router-simulator';

// `nanobill simulate router` as its own process against the test run's real broker
// (KAFKA_BROKERS), on topics of this file's own.

const NANOBILL = fileURLToPath(new URL('../cli/bin/nanobill.js', import.meta.url));
const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: testBrokers().join(',') };
const kafka = testKafka();
const runs: ChildRun[] = [];
function nanobill(args: string[]): ChildRun {
  const run = spawnTs(NANOBILL, env, ['simulate', 'router', ...args]);
  runs.push(run);
  return run;
}
afterAll(() => {
  for (const { child } of runs) if (child.exitCode === null) child.kill('SIGKILL');
});

async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
  } finally {
    await admin.disconnect();
  }
}

function output(run: ChildRun) {
  let out = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return () => out;
}

describe('nanobill simulate router', () => {
  it('sends the simulated accounts, then --count valid events keyed by request id, and exits 0', async () => {
    const topic = uniqueName('sim-requests');
    const accounts = uniqueName('sim-accounts');
    await ensureTopics(kafka, [
      { topic, numPartitions: 3 },
      { topic: accounts, numPartitions: 1 },
    ]);
    const { code, stdout, stderr } = await nanobill([
      '--rate',
      '3000',
      '--count',
      '1500',
      '--topic',
      topic,
      '--accounts-topic',
      accounts,
    ]).exited;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('router simulator: done, sent 1500 events');

    const messages = await readTopic(kafka, topic, 1500);
    expect(await topicSize(kafka, topic)).toBe(1500);
    const events = messages.map((m) => RoutedRequestEvent.parse(JSON.parse(m.value!.toString())));
    expect(new Set(events.map((e) => e.requestId)).size).toBe(1500);
    for (const [i, m] of messages.entries()) expect(m.key?.toString()).toBe(events[i]!.requestId);
    expect(events.every((e) => e.requestId.startsWith('sim-'))).toBe(true);

    const expected = simulatedTraffic({ prefix: 'x' }).snapshots.length;
    const snapshots = await readTopic(kafka, accounts, expected);
    expect(await topicSize(kafka, accounts)).toBe(expected);
    for (const m of snapshots) AccountSnapshot.parse(JSON.parse(m.value!.toString()));
  });

  it('waits for its topic, produces until SIGTERM, and says how many events the broker acknowledged', async () => {
    const topic = uniqueName('sim-requests');
    const run = nanobill(['--rate', '400', '--topic', topic, '--no-accounts']);
    const out = output(run);
    await waitFor('the wait for the topic', async () =>
      out().includes(`waiting for the topics ${topic}`) ? true : undefined,
    );
    await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
    await waitFor('production to start', async () =>
      out().includes('events/s to') ? true : undefined,
    );
    await waitFor('a hundred events on the topic', async () =>
      (await topicSize(kafka, topic)) > 100 ? true : undefined,
    );
    run.child.kill('SIGTERM');
    const { code, stdout, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    const sent = Number(/done, sent (\d+) events/.exec(stdout)?.[1]);
    expect(sent).toBeGreaterThan(100);
    expect(stdout).not.toContain('account snapshots');
    expect(await topicSize(kafka, topic)).toBe(sent);
  });

  it('refuses to run without KAFKA_BROKERS (exit 2)', async () => {
    const { KAFKA_BROKERS: _, ...without } = env;
    const run = spawnTs(NANOBILL, without, ['simulate', 'router', '--count', '1']);
    runs.push(run);
    const { code, stderr } = await run.exited;
    expect(code).toBe(2);
    expect(stderr).toContain('KAFKA_BROKERS is not set');
  });
});
