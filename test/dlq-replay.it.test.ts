import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProducer,
  DLQ_HEADERS,
  ensureTopics,
  sendToDlq,
  type KafkaMessage,
  type Rejection,
} from '@nanobill/kafka';
import {
  quietLogger,
  readTopic,
  spawnTs,
  testBrokers,
  testKafka,
  uniqueName,
} from '@nanobill/testkit';
import { REPLAY_HEADERS, replayDlq, type ReplayOptions } from '@nanobill/kafka';

const NANOBILL = fileURLToPath(new URL('../cli/bin/nanobill.js', import.meta.url));

const kafka = testKafka();
const topics = { requests: uniqueName('it-requests'), dlq: uniqueName('it-dlq') };
const groupId = uniqueName('it-dlq-replay');

/** Five rejected events, two codes interleaved, as ingest would have dead-lettered them. */
const ORIGINALS = [
  {
    key: 'k0',
    value: Buffer.from('{"schemaVersion":1,"requestId":"r0"}'),
    code: 'schema_violation',
  },
  { key: 'k1', value: Buffer.from([0xff, 0xfe, 0x00, 0x7b]), code: 'not_json' },
  {
    key: 'k2',
    value: Buffer.from('{"schemaVersion":1,"requestId":"r2"}'),
    code: 'schema_violation',
  },
  { key: 'k3', value: Buffer.from('{"requestId":'), code: 'not_json' },
  {
    key: 'k4',
    value: Buffer.from('{"schemaVersion":1,"requestId":"r4"}'),
    code: 'schema_violation',
  },
];

/** `nanobill dlq replay --dry-run` on the test's DLQ, in a child process with this environment. */
function dryRunCommand(env: NodeJS.ProcessEnv) {
  return spawnTs(NANOBILL, env, ['dlq', 'replay', '--dry-run', '--topic', topics.dlq]).exited;
}

function rejection(i: number): Rejection {
  const { key, value, code } = ORIGINALS[i]!;
  const message: KafkaMessage = {
    key: Buffer.from(key),
    value,
    offset: String(100 + i),
    timestamp: String(Date.now()),
    attributes: 0,
    headers: { 'trace-id': `trace-${i}` },
  };
  return { message, code, reason: `${code} in event ${i}` };
}

function replay(options: Partial<ReplayOptions> = {}) {
  return replayDlq({
    kafka,
    topic: topics.dlq,
    groupId,
    dryRun: false,
    logger: quietLogger(),
    idleTimeoutMs: 20_000,
    ...options,
  });
}

/** Messages on a topic, from its end offsets. */
async function size(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The test's group and topics, deleted (best effort) once it is done. */
async function removeAll(group: string, names: { requests: string; dlq: string }) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.deleteTopics({ topics: [names.requests, names.dlq] }).catch(() => undefined);
  await admin.disconnect();
}

function header(message: KafkaMessage, name: string): string | undefined {
  return message.headers?.[name]?.toString();
}

describe('nanobill dlq replay', () => {
  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic: topics.requests, numPartitions: 3 },
      { topic: topics.dlq, numPartitions: 1 },
    ]);
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      await sendToDlq(
        producer,
        topics.dlq,
        { topic: topics.requests, partition: 2 },
        ORIGINALS.map((_, i) => rejection(i)),
      );
      // A rejection that lost its source: it cannot be replayed anywhere.
      await producer.send({
        topic: topics.dlq,
        acks: -1,
        messages: [
          {
            key: 'orphan',
            value: '{}',
            headers: { [DLQ_HEADERS.code]: 'schema_violation', [DLQ_HEADERS.reason]: 'orphan' },
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
  });

  afterAll(() => removeAll(groupId, topics));

  it('a dry run reports what it would replay and produces and commits nothing', async () => {
    const summary = await replay({ dryRun: true });
    expect(summary).toMatchObject({
      dryRun: true,
      replayed: 5,
      skipped: 1,
      byCode: { schema_violation: 3, not_json: 2 },
      bySourceTopic: { [topics.requests]: 5 },
      complete: true,
    });
    expect(summary.firstReasons.map((r) => r.reason)).toEqual(
      ORIGINALS.map((o, i) => `${o.code} in event ${i}`),
    );
    expect(summary.refused).toEqual([
      { from: `${topics.dlq}:0:5`, code: 'schema_violation', reason: 'orphan' },
    ]);
    expect(await size(topics.requests)).toBe(0);
    // Nothing committed: a second dry run sees the same.
    expect(await replay({ dryRun: true })).toEqual(summary);
  });

  it('--code replays only the messages rejected with that code', async () => {
    const summary = await replay({ code: 'not_json' });
    expect(summary).toMatchObject({
      dryRun: false,
      replayed: 2,
      skipped: 0,
      byCode: { not_json: 2 },
      bySourceTopic: { [topics.requests]: 2 },
      complete: true,
    });
    const replayed = await readTopic(kafka, topics.requests, 2);
    expect(replayed.map((m) => m.key!.toString()).sort()).toEqual(['k1', 'k3']);
    expect(await size(topics.requests)).toBe(2);
  });

  it('a full replay re-produces the rest byte-identical, with the replay headers', async () => {
    const before = Date.now();
    const summary = await replay();
    expect(summary).toMatchObject({
      replayed: 3,
      skipped: 1,
      byCode: { schema_violation: 3 },
      bySourceTopic: { [topics.requests]: 3 },
      complete: true,
    });
    expect(summary.refused.map((r) => r.from)).toEqual([`${topics.dlq}:0:5`]);

    const messages = await readTopic(kafka, topics.requests, 5);
    expect(await size(topics.requests)).toBe(5);
    const byKey = new Map(messages.map((m) => [m.key!.toString(), m]));
    ORIGINALS.forEach((original, i) => {
      const message = byKey.get(original.key)!;
      expect(message, original.key).toBeDefined();
      expect(message.value!.equals(original.value), original.key).toBe(true);
      expect(header(message, REPLAY_HEADERS.from)).toBe(`${topics.dlq}:0:${i}`);
      const at = Date.parse(header(message, REPLAY_HEADERS.at)!);
      expect(at).toBeGreaterThanOrEqual(before - 60_000);
      expect(at).toBeLessThanOrEqual(Date.now());
      // The original's own headers travel back; the DLQ's do not.
      expect(header(message, 'trace-id')).toBe(`trace-${i}`);
      for (const name of Object.values(DLQ_HEADERS))
        expect(message.headers?.[name]).toBeUndefined();
    });
  });

  it('a second replay finds nothing: the offsets are committed', async () => {
    const summary = await replay();
    expect(summary).toMatchObject({ replayed: 0, skipped: 0, byCode: {}, complete: true });
    expect(await size(topics.requests)).toBe(5);
  });

  it('--limit stops early, and the next run continues where it stopped', async () => {
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      await sendToDlq(
        producer,
        topics.dlq,
        { topic: topics.requests, partition: 0 },
        [0, 2, 4].map((i) => rejection(i)),
      );
    } finally {
      await producer.disconnect();
    }
    const limited = await replay({ limit: 2 });
    expect(limited).toMatchObject({ replayed: 2, complete: false });
    expect(limited.stoppedEarly).toContain('limit of 2');
    expect(await replay()).toMatchObject({ replayed: 1, complete: true });
    expect(await replay()).toMatchObject({ replayed: 0, complete: true });
    expect(await size(topics.requests)).toBe(8);
  });

  it('the command prints the JSON summary of a dry run', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: testBrokers().join(',') };
    delete env.LOG_LEVEL;
    const { code, stdout, stderr } = await dryRunCommand(env);
    expect(code, stderr).toBe(0);
    // The command's own group has not read this topic yet: it would replay all of it.
    // stdout is the summary alone; the notes go to stderr.
    const summary = JSON.parse(stdout) as Record<string, unknown>;
    expect(stderr).toContain('dry run, nothing was produced or committed');
    expect(stderr).toContain('1 message(s) refused: without a source topic');
    expect(summary).toMatchObject({
      dryRun: true,
      replayed: 8,
      skipped: 1,
      byCode: { schema_violation: 6, not_json: 2 },
      bySourceTopic: { [topics.requests]: 8 },
      complete: true,
    });
    expect(await size(topics.requests)).toBe(8);
  });

  it('the command connects with the configured SASL: a broker without SASL refuses it', async () => {
    // The runbook replays from the production broker, which takes TLS and SASL; the command
    // must dial with the same settings as the pipeline. The test broker has no SASL listener,
    // so a command that sends the SASL handshake fails on it, and one that ignores it succeeds.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: testBrokers().join(','),
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'nanobill',
      KAFKA_SASL_PASSWORD: 'not-a-secret',
      KAFKA_SASL_ALLOW_CLEARTEXT: 'true',
    };
    const { code, stdout, stderr } = await dryRunCommand(env);
    expect(code, stdout).not.toBe(0);
    expect(stderr).toMatch(/SASL/);
  });

  it('the command exits 2 on bad usage', async () => {
    for (const args of [
      ['dlq'],
      ['dlq', 'replay', '--limit', '0'],
      ['dlq', 'replay', '--code', 'no_such_code'],
      ['dlq', 'replay', '--bogus'],
    ]) {
      const { code, stderr } = await spawnTs(NANOBILL, process.env, args).exited;
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toContain('usage: nanobill dlq replay');
    }
  });
});

describe('nanobill dlq replay: a dead letter sent without its value', () => {
  const own = { requests: uniqueName('it-requests'), dlq: uniqueName('it-dlq') };
  const ownGroup = uniqueName('it-dlq-replay');

  afterAll(() => removeAll(ownGroup, own));

  it('is refused with the reason (nothing to replay), and the others are replayed', async () => {
    await ensureTopics(kafka, [
      { topic: own.requests, numPartitions: 1 },
      { topic: own.dlq, numPartitions: 1 },
    ]);
    // A value the broker took but that cannot travel with the DLQ headers: sent without it.
    const huge: KafkaMessage = {
      ...rejection(0).message,
      key: Buffer.from('huge'),
      value: Buffer.alloc(1_047_500, 0x78),
      offset: '7',
    };
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      await sendToDlq(producer, own.dlq, { topic: own.requests, partition: 0 }, [
        { message: huge, code: 'oversized', reason: 'the message is 1047500 bytes' },
        rejection(1),
      ]);
    } finally {
      await producer.disconnect();
    }
    const summary = await replay({ topic: own.dlq, groupId: ownGroup });
    expect(summary).toMatchObject({ replayed: 1, skipped: 1, complete: true });
    expect(summary.refused).toEqual([
      { from: `${own.dlq}:0:0`, code: 'oversized', reason: 'the message is 1047500 bytes' },
    ]);
    const replayed = await readTopic(kafka, own.requests, 1);
    expect(replayed.map((m) => m.key!.toString())).toEqual(['k1']);
  });
});
