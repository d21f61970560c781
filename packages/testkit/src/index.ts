import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import { migrate, openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { createKafka, createProducer, ensureTopics, type Kafka } from '@nanobill/kafka';
import { createLogger, type Logger } from '@nanobill/observability';
import { partitionsOf } from './barrier.js';
import {
  generateSecretsKey,
  parseSecretsKey,
  SecretsCipher,
  WebhookSecretStore,
} from '@nanobill/webhooks';

/** The broker the test run was given (CI starts one on the default port). */
export function testBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function tempDir(prefix = 'nanobill-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function quietLogger(): Logger {
  return createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

export function testKafka(logger = quietLogger()): Kafka {
  return createKafka({ brokers: testBrokers(), clientId: uniqueName('test'), logger });
}

/** Topics of their own for one test file, so parallel files never see each other's events. */
export async function testTopics(kafka: Kafka, partitions = 6) {
  const topics = { requests: uniqueName('it-requests'), dlq: uniqueName('it-dlq') };
  await ensureTopics(kafka, [
    { topic: topics.requests, numPartitions: partitions },
    { topic: topics.dlq, numPartitions: 1 },
  ]);
  return topics;
}

/** A topic of a test bed: its partition count, or that and whether it is compacted. */
export type BedTopic = number | { partitions: number; compact: true };

export interface TestBed<Name extends string> {
  kafka: Kafka;
  /** Each topic asked for, by the name it was asked under: `it-<name>-<unique suffix>`. */
  topics: Record<Name, string>;
  clickhouse: ClickHouseClient;
  dataDir: string;
  logger: Logger;
  /** Closes the ClickHouse client (the broker is shared: nothing to stop there). */
  close(): Promise<void>;
}

/**
 * What an integration test starts from: a Kafka client on the shared broker with topics of its
 * own (name → partitions, or `{ partitions, compact: true }`), an embedded ClickHouse, migrated,
 * in a fresh directory, and a silent logger.
 */
export async function testBed<const Name extends string>(
  wanted: Record<Name, BedTopic>,
): Promise<TestBed<Name>> {
  const kafka = testKafka();
  const entries = Object.entries(wanted) as Array<[Name, BedTopic]>;
  const topics = Object.fromEntries(
    entries.map(([name]) => [name, uniqueName(`it-${name}`)]),
  ) as Record<Name, string>;
  await ensureTopics(
    kafka,
    entries.map(([name, topic]) =>
      typeof topic === 'number'
        ? { topic: topics[name], numPartitions: topic }
        : {
            topic: topics[name],
            numPartitions: topic.partitions,
            configs: { 'cleanup.policy': 'compact' },
          },
    ),
  );
  const { dataDir, client } = await testClickHouse();
  return {
    kafka,
    topics,
    clickhouse: client,
    dataDir,
    logger: quietLogger(),
    close: () => client.close(),
  };
}

/** A `billing.ledger_entries` row as pricing writes it. */
export interface LedgerEntryRow {
  provider: string;
  provider_request_id: string;
  request_id: string;
  event_time: string;
  priced_at: string;
  user_id: string;
  billed_account: string;
  attribution: 'user' | 'org';
  attribution_reason: string;
  bill_to: string | null;
  model: string;
  task: string;
  cost_nano_usd: string;
  cost_source: string;
  input_tokens: number | null;
  output_tokens: number | null;
}

let ledgerEntries = 0;

/**
 * One priced request for `billing.ledger_entries`, with ids of its own (`r-N`, `p-N`): billed to
 * `account` at `at` for `nano` nano-USD, used by `user` (default: the account itself, i.e. a
 * user's own request; another user makes it an org's). Other columns as given, or plain.
 */
export function ledgerEntry(
  entry: {
    account: string;
    nano: bigint | number | string;
    at: string;
    user?: string;
    pricedAt?: string;
  } & Partial<Omit<LedgerEntryRow, 'billed_account' | 'user_id' | 'event_time' | 'priced_at'>>,
): LedgerEntryRow {
  const { account, nano, at, user = account, pricedAt = at, ...columns } = entry;
  const n = ++ledgerEntries;
  const org = user !== account;
  return {
    provider: 'groq',
    provider_request_id: `p-${n}`,
    request_id: `r-${n}`,
    event_time: at,
    priced_at: pricedAt,
    user_id: user,
    billed_account: account,
    attribution: org ? 'org' : 'user',
    attribution_reason: '',
    bill_to: org ? account : null,
    model: 'm',
    task: 'conversational',
    cost_nano_usd: nano.toString(),
    cost_source: 'provider_api',
    input_tokens: null,
    output_tokens: null,
    ...columns,
  };
}

/** Stores ledger rows (see `ledgerEntry`) as pricing would. */
export async function insertLedgerEntries(
  client: ClickHouseClient,
  entries: readonly LedgerEntryRow[],
): Promise<void> {
  await client.insert({
    table: 'billing.ledger_entries',
    format: 'JSONEachRow',
    values: [...entries],
  });
}

/** Embedded ClickHouse in a fresh directory, migrated. */
export async function testClickHouse(
  dataDir = tempDir(),
): Promise<{ dataDir: string; client: ClickHouseClient }> {
  const client = openClickHouse({ dataDir });
  await migrate(client);
  return { dataDir, client };
}

export async function queryValue<T = string>(client: ClickHouseClient, query: string): Promise<T> {
  const result = await client.query({ query, format: 'JSONCompactEachRow' });
  const rows = await result.json<[T]>();
  if (rows[0] === undefined) throw new Error(`no row from: ${query}`);
  return rows[0][0];
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Reads every message of a topic from the beginning until `count` have arrived. */
export async function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs = 60_000) {
  const messages: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  try {
    await waitFor(
      `${count} messages on ${topic}`,
      async () => (messages.length >= count ? true : undefined),
      timeoutMs,
    );
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Collects every message of a topic from the beginning, as it arrives, until `stop`. */
export async function collectTopic(kafka: Kafka, topic: string) {
  const messages: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('collector'), maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  return {
    messages,
    /** The message values parsed as JSON, in arrival order. */
    values: <T>() => messages.map((m) => JSON.parse(m.value!.toString()) as T),
    stop: () => consumer.disconnect(),
  };
}

export async function produce(
  kafka: Kafka,
  topic: string,
  messages: Array<{ key?: string; value: Buffer | string; partition?: number }>,
): Promise<void> {
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5_000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5_000) });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * A barrier on `topic`: one message on each of its partitions, sent after whatever the test wants
 * to see ignored (a duplicate, a re-sent alert). Kafka keeps order within a partition, so once
 * the consumer has handled every barrier message it has handled everything sent before them:
 * the test then asserts that "nothing more happened" without sleeping for it.
 * `message(partition)` builds the message for one partition; returns them in partition order.
 */
export async function sendBarrier<M extends { key?: string; value: string | Buffer }>(
  kafka: Kafka,
  topic: string,
  message: (partition: number) => M,
): Promise<M[]> {
  const partitions = await partitionsOf(kafka, topic);
  const barrier = partitions.map(message);
  await produce(
    kafka,
    topic,
    barrier.map((m, i) => ({ ...m, partition: partitions[i]! })),
  );
  return barrier;
}

/** A port that is free on 127.0.0.1, and the next one too (a local broker's controller). */
export async function freePortPair(): Promise<number> {
  for (;;) {
    const port = randomInt(20_000, 40_000);
    if ((await isFree(port)) && (await isFree(port + 1))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface ChildRun {
  child: ChildProcess;
  exited: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Runs a TypeScript file (through tsx) in a child process, for tests that kill and restart. */
export function spawnTs(file: string, env: NodeJS.ProcessEnv, args: string[] = []): ChildRun {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Awaited<ChildRun['exited']>>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

/** An environment variable a child fixture cannot run without. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export { startReceiver, type Received } from './webhook-receiver.js';
export { groupState } from './barrier.js';
export { crashOnInsert, parseCrashPoint, type CrashPoint } from './crash.js';
export { testCa, testCertificate, type TestCertificate } from './certificates.js';

/**
 * Test receivers listen on 127.0.0.1, which webhooks reach only when allowed (the default
 * allows public addresses only).
 */
export const LOCAL_WEBHOOK_NETWORKS: readonly string[] = ['127.0.0.1/32'];

/** A webhook secrets store under a fresh random key (no cache unless asked). */
export function testWebhookSecrets(
  client: ClickHouseClient,
  options: { cacheMs?: number; now?: () => Date } = {},
): WebhookSecretStore {
  return new WebhookSecretStore(client, new SecretsCipher(parseSecretsKey(generateSecretsKey())), {
    cacheMs: 0,
    ...options,
  });
}
