import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Alert, OrgSettings } from '@nanobill/contract';
import {
  ALERTS_TOPIC,
  ORG_SETTINGS_TOPIC,
  InvalidMessageError,
  PUBLISH_LIMITS,
  PartlyPublishedError,
  chunked,
  outgoing,
  outgoingBytes,
  publishOutgoing,
  tombstone,
  topicPublisher,
  type BatchSender,
  type Outgoing,
} from '../src/index.js';

const alert = (alertId: string, message = 'something happened'): Alert => ({
  schemaVersion: 1,
  alertId,
  type: 'dlq_growth',
  severity: 'warning',
  message,
  details: {},
  createdAt: '2026-11-26T08:00:00.000Z',
});

/** A producer that records each request and refuses the `failAt`-th (0-based), if any. */
function recordingProducer(failAt?: number) {
  const requests: Array<Parameters<BatchSender['sendBatch']>[0]> = [];
  const producer: BatchSender = {
    sendBatch: async (batch) => {
      if (requests.length === failAt) throw new Error('broker away');
      requests.push(batch);
      return [];
    },
  };
  return { producer, requests };
}

describe('chunked: bounded requests (issue 13)', () => {
  it('keeps the order and cuts by count and by bytes', () => {
    const limits = { maxMessages: 3, maxBytes: 10 };
    expect(chunked([1, 1, 1, 1, 1], (n) => n, limits)).toEqual([
      [1, 1, 1],
      [1, 1],
    ]);
    expect(chunked([4, 4, 4, 9, 12, 1], (n) => n, limits)).toEqual([[4, 4], [4], [9], [12], [1]]);
    expect(chunked([], (n: number) => n, limits)).toEqual([]);
  });

  it('property: every item once, in order; no chunk over a limit unless a lone item is', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 400_000 }), { maxLength: 3_000 }), (sizes) => {
        const chunks = chunked(sizes, (n) => n);
        expect(chunks.flat()).toEqual(sizes);
        for (const chunk of chunks) {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(PUBLISH_LIMITS.maxMessages);
          const bytes = chunk.reduce((a, b) => a + b, 0);
          if (chunk.length > 1) expect(bytes).toBeLessThanOrEqual(PUBLISH_LIMITS.maxBytes);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('the limits stay under the broker default message.max.bytes (1 MiB)', () => {
    expect(PUBLISH_LIMITS.maxBytes).toBeLessThan(1024 * 1024);
    expect(PUBLISH_LIMITS.maxMessageBytes).toBeLessThan(1024 * 1024);
    expect(PUBLISH_LIMITS.maxBytes).toBeLessThanOrEqual(PUBLISH_LIMITS.maxMessageBytes);
  });
});

describe('outgoing: validated, keyed, serialized', () => {
  it("keys a message by its topic's key and serializes what the schema accepted", () => {
    const message = outgoing(ALERTS_TOPIC, alert('dlq_growth:a:1'));
    expect(message).toEqual({
      topic: 'billing.alerts.v1',
      key: 'dlq_growth:a:1',
      value: JSON.stringify(alert('dlq_growth:a:1')),
    });
  });

  it('refuses an invalid message naming the topic and the field', () => {
    const bad = { ...alert('x'), severity: 'loud' } as unknown as Alert;
    expect(() => outgoing(ALERTS_TOPIC, bad)).toThrow(InvalidMessageError);
    expect(() => outgoing(ALERTS_TOPIC, bad)).toThrow(
      /^billing\.alerts\.v1: message is invalid: severity: /,
    );
  });

  it('keys settings <org>:<field>, and refuses a settings message without exactly one field', () => {
    const at = '2026-11-26T08:00:00.000Z';
    const base = { schemaVersion: 1, source: 'admin', accountId: 'acme', effectiveAt: at } as const;
    const limit: OrgSettings = { ...base, spendingLimitNanoUsd: '5000000000' };
    expect(outgoing(ORG_SETTINGS_TOPIC, limit).key).toBe('acme:spendingLimitNanoUsd');
    const two: OrgSettings = { ...limit, disabledProviders: ['groq'] };
    expect(() => outgoing(ORG_SETTINGS_TOPIC, two)).toThrow(
      /^billing\.accounts\.v1: message has no key: nanobill publishes one field per settings message, not 2/,
    );
  });

  it('counts key, value, headers and a record overhead as bytes', () => {
    const message: Outgoing = { topic: 't', key: 'k', value: 'vv', headers: { h: 'abc' } };
    expect(outgoingBytes(message)).toBe(1 + 2 + 1 + 3 + 64);
    expect(outgoingBytes(tombstone('t', 'key'))).toBe(3 + 64);
  });
});

describe('publishOutgoing and topicPublisher', () => {
  it('sends in order, in bounded requests, acks from every replica, topics grouped per request', async () => {
    const { producer, requests } = recordingProducer();
    const messages = [
      ...Array.from({ length: 4 }, (_, i) => outgoing(ALERTS_TOPIC, alert(`a:${i}`))),
      tombstone('billing.account-status.v1', 'acme'),
    ];
    await publishOutgoing(producer, messages, { ...PUBLISH_LIMITS, maxMessages: 2 });
    expect(requests.map((r) => r.acks)).toEqual([-1, -1, -1]);
    expect(
      requests.map((r) => r.topicMessages!.map((t) => [t.topic, t.messages.map((m) => m.key)])),
    ).toEqual([
      [['billing.alerts.v1', ['a:0', 'a:1']]],
      [['billing.alerts.v1', ['a:2', 'a:3']]],
      [['billing.account-status.v1', ['acme']]],
    ]);
  });

  it('sends nothing when one message is invalid', async () => {
    const { producer, requests } = recordingProducer();
    const publisher = topicPublisher(producer, ALERTS_TOPIC);
    const bad = { ...alert('b'), createdAt: 'yesterday' };
    await expect(publisher.publish([alert('a'), bad])).rejects.toThrow(/createdAt/);
    expect(requests).toEqual([]);
  });

  it('refuses a message larger than one request may carry before sending anything', async () => {
    const { producer, requests } = recordingProducer();
    const huge = outgoing(ALERTS_TOPIC, alert('huge', 'x'.repeat(PUBLISH_LIMITS.maxMessageBytes)));
    await expect(
      publishOutgoing(producer, [outgoing(ALERTS_TOPIC, alert('a')), huge]),
    ).rejects.toThrow(
      /^billing\.alerts\.v1: message "huge" is \d+ bytes, over the \d+ one message may take/,
    );
    expect(requests).toEqual([]);
  });

  it('a failed request says how many messages were acknowledged before it', async () => {
    const { producer } = recordingProducer(1);
    const messages = Array.from({ length: 5 }, (_, i) => outgoing(ALERTS_TOPIC, alert(`a:${i}`)));
    const failure = await publishOutgoing(producer, messages, {
      ...PUBLISH_LIMITS,
      maxMessages: 2,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PartlyPublishedError);
    expect(failure).toMatchObject({
      sent: 2,
      total: 5,
      message: 'published 2 of 5 messages: broker away',
    });
  });
});

describe('publishEach: one bad message never holds back the others', () => {
  it('sends the valid messages in order and hands back each refused one with its reason', async () => {
    const { producer, requests } = recordingProducer();
    const bad = { ...alert('dlq_growth:b:1'), severity: 'apocalyptic' } as unknown as Alert;
    const huge = alert('dlq_growth:c:1', 'x'.repeat(PUBLISH_LIMITS.maxMessageBytes));
    const refused = await topicPublisher(producer, ALERTS_TOPIC).publishEach([
      alert('dlq_growth:a:1'),
      bad,
      huge,
      alert('dlq_growth:d:1'),
    ]);
    const keys = requests.flatMap((r) => r.topicMessages!.flatMap((t) => t.messages));
    expect(keys.map((m) => m.key)).toEqual(['dlq_growth:a:1', 'dlq_growth:d:1']);
    expect(refused).toHaveLength(2);
    expect(refused.every((e) => e instanceof InvalidMessageError)).toBe(true);
    expect(refused[0]!.message).toMatch(/severity/);
    expect(refused[1]!.message).toMatch(/bytes, over the/);
  });

  it('still throws when the broker refuses a request (the caller retries)', async () => {
    const { producer } = recordingProducer(0);
    await expect(
      topicPublisher(producer, ALERTS_TOPIC).publishEach([alert('dlq_growth:a:1')]),
    ).rejects.toBeInstanceOf(PartlyPublishedError);
  });
});
