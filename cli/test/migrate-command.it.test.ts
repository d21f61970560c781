import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@nanobill/config';
import {
  ensureTopics,
  topicConfigDrift,
  topicSpecs,
  TOPIC_NAMES,
  type TopicNames,
  type TopicSpec,
} from '@nanobill/kafka';
import { spawnTs, tempDir, testBrokers, testKafka, uniqueName } from '@nanobill/testkit';
import { migrate } from '../src/migrate-command.js';

// A router may start before nanobill: the broker does not create topics on demand, so the one
// deployment step, `nanobill migrate`, creates them (docs/operations.md, "The `nanobill` command"),
// as `nanobill run` does.

const NANOBILL = fileURLToPath(new URL('../bin/nanobill.js', import.meta.url));
const dirs: string[] = [];

/** An environment for migrate: embedded ClickHouse in a fresh directory, the test broker. */
function migrateEnv(): NodeJS.ProcessEnv {
  const dataDir = tempDir('nanobill-migrate-');
  dirs.push(dataDir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NANOBILL_DATA_DIR: dataDir,
    KAFKA_BROKERS: testBrokers().join(','),
  };
  delete env.CLICKHOUSE_URL;
  return env;
}

function uniqueTopicNames(): TopicNames {
  const names = Object.fromEntries(
    Object.keys(TOPIC_NAMES).map((key) => [key, uniqueName(`it-migrate-${key}`)]),
  );
  return names as TopicNames;
}

/** Each topic of `specs` with its partition count, as the broker describes it. */
async function partitionsOnBroker(specs: TopicSpec[]): Promise<Record<string, number>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
    return Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
  } finally {
    await admin.disconnect();
  }
}

const wantedPartitions = (specs: TopicSpec[]) =>
  Object.fromEntries(specs.map((s) => [s.topic, s.numPartitions]));

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('nanobill migrate creates the topics (real broker)', () => {
  it('creates every topic with its partitions and configs, and a second run changes nothing', async () => {
    const names = uniqueTopicNames();
    const env = migrateEnv();
    expect(await migrate([], { env, topicNames: names })).toBe(0);

    const specs = topicSpecs(loadConfig(env).requestsPartitions, names);
    const kafka = testKafka();
    expect(await partitionsOnBroker(specs)).toEqual(wantedPartitions(specs));
    expect(await topicConfigDrift(kafka, specs)).toEqual([]);

    // Idempotent: the topics exist, nothing is created or changed.
    expect(await migrate([], { env, topicNames: names })).toBe(0);
    expect(await partitionsOnBroker(specs)).toEqual(wantedPartitions(specs));
  });

  it('leaves an existing topic as it is and names the config it lacks', async () => {
    const names = uniqueTopicNames();
    const kafka = testKafka();
    // A requests topic created by hand, without the broker's clock as the event time.
    await ensureTopics(kafka, [{ topic: names.requests, numPartitions: 2 }]);
    const errors: string[] = [];
    const code = await migrate([], {
      env: migrateEnv(),
      topicNames: names,
      report: { info: () => undefined, error: (line) => errors.push(line) },
    });
    expect(code).toBe(0);
    expect(errors).toEqual([
      expect.stringContaining(
        `--entity-name ${names.requests} --add-config message.timestamp.type=LogAppendTime`,
      ),
    ]);
    const [requests] = topicSpecs(2, names);
    expect(await partitionsOnBroker([requests!])).toEqual({ [names.requests]: 2 });
  });

  it('through the command line, on the default topics the router and the services use', async () => {
    const run = await spawnTs(NANOBILL, migrateEnv(), ['migrate']).exited;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^topics (up to date|created: )/m);
    const specs = topicSpecs(1);
    const onBroker = await partitionsOnBroker(specs);
    expect(Object.keys(onBroker).sort()).toEqual(Object.values(TOPIC_NAMES).sort());
  });
});
