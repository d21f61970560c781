import { describe, expect, it } from 'vitest';
import type { Alert } from '@nanobill/contract';
import { readTopic, testKafka, uniqueName } from '@nanobill/testkit';
import {
  ALERTS_TOPIC,
  createProducer,
  ensureTopics,
  onTopic,
  readOffsets,
  topicPublisher,
} from '../src/index.js';

const alert = (alertId: string, n: number): Alert => ({
  schemaVersion: 1,
  alertId,
  type: 'dlq_growth',
  severity: 'warning',
  message: `reading ${n}`,
  details: { n },
  createdAt: '2026-11-26T08:00:00.000Z',
});

describe('topicPublisher (real broker)', () => {
  it('publishes more than one request carries: every message once, keyed, in order per key; offsets read back', async () => {
    const kafka = testKafka();
    const topic = uniqueName('it-publisher');
    await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
    // 2,500 messages: three requests of at most 1,000. Five keys, so each key's messages share
    // a partition and must come back in the order published.
    const alerts = Array.from({ length: 2_500 }, (_, n) => alert(`key-${n % 5}`, n));
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      await topicPublisher(producer, onTopic(ALERTS_TOPIC, topic)).publish(alerts);
    } finally {
      await producer.disconnect();
    }

    const messages = await readTopic(kafka, topic, alerts.length);
    expect(messages).toHaveLength(alerts.length);
    const byKey = new Map<string, number[]>();
    for (const m of messages) {
      const value = JSON.parse(m.value!.toString()) as Alert;
      expect(m.key!.toString()).toBe(value.alertId);
      byKey.set(value.alertId, [...(byKey.get(value.alertId) ?? []), value.details.n as number]);
    }
    expect([...byKey.keys()].sort()).toEqual(['key-0', 'key-1', 'key-2', 'key-3', 'key-4']);
    for (const [key, ns] of byKey) {
      const k = Number(key.slice('key-'.length));
      expect(ns).toEqual(Array.from({ length: 500 }, (_, i) => i * 5 + k));
    }

    const { ends, committed } = await readOffsets(kafka, async (offsets) => ({
      ends: await offsets.topicEnds(topic),
      committed: await offsets.committed(uniqueName('it-no-group'), topic),
    }));
    expect(ends.map((o) => o.partition).sort()).toEqual([0, 1, 2]);
    expect(ends.reduce((sum, o) => sum + o.high - o.low, 0n)).toBe(2_500n);
    // A group that never committed: no offset on any partition.
    expect([...committed].sort(([a], [b]) => a - b)).toEqual([
      [0, -1n],
      [1, -1n],
      [2, -1n],
    ]);
  });
});
