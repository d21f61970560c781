import fc from 'fast-check';
import type { KafkaMessage, ProducerBatch, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { Decoded } from '@nanobill/contract';
import {
  DLQ_HEADERS,
  MAX_REASON_CHARS,
  sendToDlq,
  splitValid,
  storageRefusals,
  type Rejection,
} from '../src/dlq.js';
import type { BatchSender } from '../src/publisher.js';

// The dead-letter helpers on their own: no broker, a producer that records what it was given.
function message(offset: number, value: string | null, key = `k${offset}`): KafkaMessage {
  return {
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    offset: String(offset),
    timestamp: '1767225600000',
    attributes: 0,
    headers: { traceparent: `trace-${offset}` },
  } as KafkaMessage;
}

/** Numbers are valid, anything else is a schema violation; null is a tombstone. */
function decodeNumber(bytes: Buffer | null): Decoded<number> {
  if (bytes === null) return { ok: false, code: 'empty', reason: 'no value' };
  const n = Number(bytes.toString());
  return Number.isInteger(n)
    ? { ok: true, value: n }
    : { ok: false, code: 'schema_violation', reason: `not an integer: ${bytes.toString()}` };
}

/** A producer that records each request, one record per topic of it, with the request's acks. */
function recordingProducer() {
  const sent: ProducerRecord[] = [];
  const producer: BatchSender = {
    sendBatch: async ({ acks, topicMessages = [] }: ProducerBatch) => {
      for (const { topic, messages } of topicMessages) sent.push({ topic, acks, messages });
      return [];
    },
  };
  return { producer, sent };
}

describe('splitValid', () => {
  it('keeps each valid value with its message and turns the rest into rejections', () => {
    const messages = [message(0, '1'), message(1, 'x'), message(2, null), message(3, '4')];
    const { valid, rejections } = splitValid(messages, decodeNumber);
    expect(valid).toEqual([
      { value: 1, message: messages[0] },
      { value: 4, message: messages[3] },
    ]);
    expect(rejections).toEqual([
      { message: messages[1], code: 'schema_violation', reason: 'not an integer: x' },
      { message: messages[2], code: 'empty', reason: 'no value' },
    ]);
  });

  it('hands the decoder the whole message', () => {
    const messages = [message(7, '1')];
    const seen: string[] = [];
    splitValid(messages, (_bytes, m) => {
      seen.push(m.offset);
      return { ok: true, value: m.timestamp };
    });
    expect(seen).toEqual(['7']);
  });

  it('loses no message and keeps the batch order on both sides', () => {
    const values = fc.array(fc.option(fc.oneof(fc.integer().map(String), fc.string())), {
      maxLength: 50,
    });
    fc.assert(
      fc.property(values, (raw) => {
        const messages = raw.map((v, i) => message(i, v));
        const { valid, rejections } = splitValid(messages, decodeNumber);
        const offsets = (list: { message: KafkaMessage }[]) =>
          list.map((x) => Number(x.message.offset));
        expect(valid.length + rejections.length).toBe(messages.length);
        const ordered = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
        expect(ordered(offsets(valid))).toBe(true);
        expect(ordered(offsets(rejections))).toBe(true);
        expect(new Set([...offsets(valid), ...offsets(rejections)]).size).toBe(messages.length);
      }),
    );
  });
});

describe('storageRefusals', () => {
  it('rejects exactly the rows the store refused, with the table and the store’s reason', () => {
    const valid = [0, 1, 2].map((i) => ({ message: message(i, String(i)) }));
    const reasons = new Map([[1, '469 VIOLATED_CONSTRAINT: cost_nano_usd >= 0']]);
    expect(storageRefusals('billing.usage', valid, (i) => reasons.get(i))).toEqual([
      {
        message: valid[1]!.message,
        code: 'storage_refused',
        reason: 'billing.usage refused the row: 469 VIOLATED_CONSTRAINT: cost_nano_usd >= 0',
      },
    ]);
  });

  it('rejects nothing when every row was stored', () => {
    const valid = [0, 1].map((i) => ({ message: message(i, String(i)) }));
    expect(storageRefusals('billing.usage', valid, () => undefined)).toEqual([]);
  });
});

describe('sendToDlq', () => {
  it('sends the original key, bytes and headers, with why and where from in headers', async () => {
    const { producer, sent } = recordingProducer();
    const rejections: Rejection[] = [
      { message: message(41, '{"bad":1}', 'req-1'), code: 'schema_violation', reason: 'no id' },
      { message: message(42, null, 'req-2'), code: 'empty', reason: 'no value' },
    ];
    const now = new Date('2026-11-26T08:00:00.000Z');
    await sendToDlq(producer, 'requests.dlq', { topic: 'requests', partition: 3 }, rejections, now);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('requests.dlq');
    expect(sent[0]!.acks).toBe(-1);
    // Each message as it was, plus why and where from.
    const dead = (
      offset: number,
      key: string,
      value: Buffer | null,
      code: string,
      reason: string,
    ) => ({
      key: Buffer.from(key),
      value,
      headers: {
        traceparent: `trace-${offset}`,
        [DLQ_HEADERS.code]: code,
        [DLQ_HEADERS.reason]: reason,
        [DLQ_HEADERS.sourceTopic]: 'requests',
        [DLQ_HEADERS.sourcePartition]: '3',
        [DLQ_HEADERS.sourceOffset]: String(offset),
        [DLQ_HEADERS.rejectedAt]: '2026-11-26T08:00:00.000Z',
      },
    });
    expect(sent[0]!.messages).toEqual([
      dead(41, 'req-1', Buffer.from('{"bad":1}'), 'schema_violation', 'no id'),
      dead(42, 'req-2', null, 'empty', 'no value'),
    ]);
  });

  it('caps a huge reason, so the dead letter can always be sent', async () => {
    const { producer, sent } = recordingProducer();
    const reason = 'members.3: invalid; '.repeat(50_000); // ~1 MB: thousands of schema issues
    const rejection = { message: message(7, '{}', 'acme'), code: 'schema_violation', reason };
    await sendToDlq(producer, 'accounts.dlq', { topic: 'accounts', partition: 0 }, [rejection]);
    const header = String(sent[0]!.messages[0]!.headers![DLQ_HEADERS.reason]);
    expect(header.length).toBeLessThan(MAX_REASON_CHARS + 100);
    expect(header.startsWith(reason.slice(0, MAX_REASON_CHARS))).toBe(true);
    expect(header).toMatch(/more characters\)$/);
  });

  it('sends a value too large to travel with its headers without it, saying its size (the partition goes on)', async () => {
    const { producer, sent } = recordingProducer();
    const bytes = 1_047_500; // the broker took it (1 MiB default); with the DLQ headers it would not fit
    const huge = message(9, 'x'.repeat(bytes), 'req-9');
    const small = message(10, 'nope', 'req-10');
    await sendToDlq(producer, 'requests.dlq', { topic: 'requests', partition: 1 }, [
      { message: huge, code: 'oversized', reason: `the message is ${bytes} bytes` },
      { message: small, code: 'not_json', reason: 'not JSON' },
    ]);
    const letters = sent.flatMap((r) => r.messages);
    expect(letters).toHaveLength(2);
    expect(letters[0]!.value).toBeNull();
    expect(letters[0]!.key).toEqual(Buffer.from('req-9'));
    expect(letters[0]!.headers).toMatchObject({
      [DLQ_HEADERS.valueDropped]: String(bytes),
      [DLQ_HEADERS.code]: 'oversized',
      [DLQ_HEADERS.sourceOffset]: '9',
    });
    expect(letters[1]!.value).toEqual(Buffer.from('nope'));
    expect(letters[1]!.headers![DLQ_HEADERS.valueDropped]).toBeUndefined();
  });

  it("drops the key and the message's own headers too when they alone are too large", async () => {
    const { producer, sent } = recordingProducer();
    const hostile = {
      ...message(3, 'v', 'k'.repeat(1_048_000)),
      headers: { big: 'h'.repeat(10) },
    } as KafkaMessage;
    await sendToDlq(producer, 'requests.dlq', { topic: 'requests', partition: 0 }, [
      { message: hostile, code: 'schema_violation', reason: 'no id' },
    ]);
    const letter = sent[0]!.messages[0]!;
    expect(letter.key).toBeNull();
    expect(letter.value).toBeNull();
    expect(letter.headers!.big).toBeUndefined();
    expect(letter.headers).toMatchObject({
      [DLQ_HEADERS.code]: 'schema_violation',
      [DLQ_HEADERS.sourceOffset]: '3',
      [DLQ_HEADERS.valueDropped]: '1',
    });
  });

  it('sends nothing for no rejections', async () => {
    const { producer, sent } = recordingProducer();
    await sendToDlq(producer, 'requests.dlq', { topic: 'requests', partition: 0 }, []);
    expect(sent).toEqual([]);
  });
});
