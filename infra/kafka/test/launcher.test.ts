import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { freePortPair } from '@nanobill/testkit';
import { brokerStatus, startBroker, stopBroker, type BrokerOptions } from '../src/index.js';

const { Kafka, logLevel } = kafkajs;

// Free ports away from 9092/9093, where the suite's (or a developer's) broker runs.
const dataDir = mkdtempSync(join(tmpdir(), 'nanobill-kafka-launcher-'));
const port = await freePortPair();
const opts: BrokerOptions = { dataDir, port, controllerPort: port + 1, heapMb: 384 };
const pidFile = join(dataDir, 'kafka', 'broker.pid');
const metaFile = join(dataDir, 'kafka', 'data', 'meta.properties');
const TOPIC = 'launcher-smoke';
const TIMEOUT = 120_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function client(brokers: string[]) {
  return new Kafka({ clientId: 'launcher-test', brokers, logLevel: logLevel.NOTHING });
}

describe('kafka broker launcher', () => {
  let firstPid = 0;
  let firstMeta = '';

  afterAll(async () => {
    await stopBroker(opts);
    rmSync(dataDir, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'starts a broker that accepts clients',
    async () => {
      const r = await startBroker(opts);
      expect(r.alreadyRunning).toBe(false);
      expect(r.brokers).toEqual([`127.0.0.1:${port}`]);
      firstPid = r.pid;
      firstMeta = readFileSync(metaFile, 'utf8');

      const s = await brokerStatus(opts);
      expect(s).toMatchObject({ running: true, pid: firstPid, acceptsClients: true });

      const admin = client(r.brokers).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: 1 }],
        waitForLeaders: true,
      });
      await admin.disconnect();
    },
    TIMEOUT,
  );

  it(
    'is a no-op when started again',
    async () => {
      const r = await startBroker(opts);
      expect(r).toMatchObject({ alreadyRunning: true, pid: firstPid });
    },
    TIMEOUT,
  );

  it(
    'stops the broker process and removes the pid file',
    async () => {
      expect(await stopBroker(opts)).toBe(true);
      const s = await brokerStatus(opts);
      expect(s).toMatchObject({ running: false, acceptsClients: false });
      expect(s.pid).toBeUndefined();
      expect(() => process.kill(firstPid, 0)).toThrow();
      expect(existsSync(pidFile)).toBe(false);
      expect(await stopBroker(opts)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'starts again on the same storage, keeping topics',
    async () => {
      const r = await startBroker(opts);
      expect(r.alreadyRunning).toBe(false);
      expect(r.pid).not.toBe(firstPid);
      expect(readFileSync(metaFile, 'utf8')).toBe(firstMeta);

      const admin = client(r.brokers).admin();
      await admin.connect();
      expect(await admin.listTopics()).toContain(TOPIC);
      await admin.disconnect();
    },
    TIMEOUT,
  );

  it(
    'serves produce and consume',
    async () => {
      const kafka = client([`127.0.0.1:${port}`]);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: TOPIC, messages: [{ key: 'k', value: 'hello broker' }] });
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: 'launcher-test' });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      const received = new Promise<string>((resolveValue) => {
        void consumer.run({
          eachMessage: async ({ message }) => resolveValue(message.value?.toString() ?? ''),
        });
      });
      expect(await received).toBe('hello broker');
      await consumer.disconnect();
    },
    TIMEOUT,
  );

  it(
    'stops again',
    async () => {
      const { pid } = await brokerStatus(opts);
      expect(await stopBroker(opts)).toBe(true);
      expect(pid !== undefined && isAlive(pid)).toBe(false);
    },
    TIMEOUT,
  );
});
