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
  messages: Array<{ key?: string; value: Buffer | string }>,
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
export { groupState, sendBarrier } from './barrier.js';
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
