import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger, testClickHouse, testKafka, testTopics, uniqueName } from '@nanobill/testkit';
import { startIngest, type IngestService } from '@nanobill/ingest';
import {
  DAY_MS,
  MINUTE_MS,
  dlqByKey,
  endOffset,
  eventAt,
  produceRaw,
  readAll,
  storedIds,
  waitCommittedPast,
  type RawMessage,
} from './ingest-support.js';

// A hostile or broken router against the real ingest service: real broker, real ClickHouse
// (chdb), the default event window (35 days back, 5 minutes ahead of the message's Kafka time).
// Every case ends with a valid marker event on the same partition: the partition must advance
// past it (its offset committed), whatever came before.
describe('ingest under hostile events', () => {
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let topics: { requests: string; dlq: string };
  let ingest: IngestService | undefined;
  const groupId = uniqueName('ingest-hostile');

  beforeAll(async () => {
    kafka = testKafka();
    topics = await testTopics(kafka);
    ({ client: clickhouse } = await testClickHouse());
    ingest = await startIngest({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      topics,
      groupId,
      maxRows: 5_000,
      maxWaitMs: 300,
    });
  });

  afterAll(async () => {
    await ingest?.stop();
    await clickhouse?.close();
  });

  /**
   * Sends the cases and a marker in one produce call, waits until the partition is committed past
   * the marker, and returns which cases were stored and which went to the DLQ (code, reason).
   */
  async function run(cases: RawMessage[], partition: number) {
    const marker = eventAt(Date.now());
    const markerOffset =
      (await endOffset(kafka, topics.requests, partition)) + BigInt(cases.length);
    await produceRaw(
      kafka,
      topics.requests,
      [...cases, { key: marker.requestId, value: JSON.stringify(marker) }],
      partition,
    );
    await waitCommittedPast(kafka, groupId, topics.requests, markerOffset, partition);
    const keys = cases.map((c) => c.key);
    const stored = await storedIds(clickhouse, [...keys, marker.requestId]);
    expect(stored.has(marker.requestId)).toBe(true);
    const dlq = dlqByKey(await readAll(kafka, topics.dlq));
    // Nothing is lost: each case is stored or dead-lettered, never both.
    for (const key of keys) expect(stored.has(key) !== dlq.has(key), key).toBe(true);
    return { stored, dlq };
  }

  const json = (event: Record<string, unknown>): RawMessage => ({
    key: event.requestId as string,
    value: JSON.stringify(event),
  });

  it('101 events in 101 distinct months: the in-window ones stored, the others DLQd, the partition advances', async () => {
    const sentAt = Date.now();
    // 31-day steps back: every step lands in another month.
    const events = Array.from({ length: 101 }, (_, i) => eventAt(sentAt - i * 31 * DAY_MS));
    const { stored, dlq } = await run(
      events.map((e) => ({ ...json(e), timestamp: sentAt })),
      0,
    );
    expect(stored.has(events[0]!.requestId)).toBe(true); // now
    expect(stored.has(events[1]!.requestId)).toBe(true); // 31 days ago
    for (const e of events.slice(2)) {
      expect(dlq.get(e.requestId)?.code).toBe('out_of_window');
      expect(dlq.get(e.requestId)?.reason).toContain('timestamp');
    }
  });

  it('timestamps at and past the edges of the window, and out of any date column', async () => {
    const t = Date.now();
    const at = (ms: number, overrides: Record<string, unknown> = {}) => ({
      ...json(eventAt(ms, overrides)),
      timestamp: t, // the Kafka timestamp: the window's reference
    });
    const literal = (timestamp: string) => at(t, { timestamp });
    const cases = {
      aheadEdge: at(t + 5 * MINUTE_MS),
      aheadPlus1s: at(t + 5 * MINUTE_MS + 1000),
      farFuture: at(t + 365 * DAY_MS),
      backEdge: at(t - 35 * DAY_MS),
      backMinus1s: at(t - 35 * DAY_MS + 1000),
      backPlus1s: at(t - 35 * DAY_MS - 1000),
      year0000: literal('0000-01-01T00:00:00.000Z'),
      year9999: literal('9999-12-31T23:59:59.999Z'),
      year1899: literal('1899-12-31T23:59:59.999Z'),
      nanoseconds: at(t, { timestamp: new Date(t).toISOString().replace('Z', '999999Z') }),
    };
    const { stored, dlq } = await run(Object.values(cases), 1);
    for (const name of ['aheadEdge', 'backEdge', 'backMinus1s', 'nanoseconds'] as const) {
      expect(stored.has(cases[name].key), name).toBe(true);
    }
    for (const name of ['aheadPlus1s', 'farFuture', 'backPlus1s'] as const) {
      expect(dlq.get(cases[name].key)?.code, name).toBe('out_of_window');
      expect(dlq.get(cases[name].key)?.reason, name).toMatch(/timestamp.*window/);
    }
    for (const name of ['year0000', 'year9999', 'year1899'] as const) {
      expect(dlq.get(cases[name].key)?.code, name).toBe('schema_violation');
      expect(dlq.get(cases[name].key)?.reason, name).toContain('timestamp');
    }
  });

  it('numbers that do not fit their column: DLQd, naming the field', async () => {
    const t = Date.now();
    const withField = (field: string, value: unknown) => {
      const event = eventAt(t);
      if (field.startsWith('usage.')) {
        return { event: { ...event, usage: { ...event.usage, [field.slice(6)]: value } }, field };
      }
      if (field === 'computeTimeMs') {
        return { event: { ...event, computeTimeMs: value, hardware: 'nvidia-a10g' }, field };
      }
      return { event: { ...event, [field]: value }, field };
    };
    const bad = [
      withField('status', 70_000),
      withField('status', -1),
      withField('status', 1.5),
      withField('status', 600),
      withField('status', 1e21),
      withField('usage.inputTokens', 2 ** 64),
      withField('usage.inputTokens', -1),
      withField('usage.outputTokens', 0.5),
      withField('usage.outputTokens', 2 ** 53),
      // 2^32: more than any request's tokens, and sums of them could wrap (UInt64 rollups).
      withField('usage.inputTokens', 2 ** 32),
      withField('usage.outputTokens', '12'),
      withField('computeTimeMs', 2 ** 53),
      withField('computeTimeMs', -5),
      withField('computeTimeMs', 1.25),
      withField('schemaVersion', 1.5),
    ];
    // Raw JSON integers larger than any double, as a router in another language could write.
    const huge = eventAt(t);
    const hugeText = JSON.stringify(huge).replace(
      '"status":200',
      '"status":99999999999999999999999',
    );
    const good = eventAt(t, { usage: { inputTokens: 2 ** 32 - 1, outputTokens: 0 } });
    const { stored, dlq } = await run(
      [...bad.map((b) => json(b.event)), { key: huge.requestId, value: hugeText }, json(good)],
      2,
    );
    for (const { event, field } of bad) {
      expect(dlq.get(event.requestId)?.code, field).toBe('schema_violation');
      expect(dlq.get(event.requestId)?.reason, field).toContain(field);
    }
    expect(dlq.get(huge.requestId)?.reason).toContain('status');
    expect(stored.has(good.requestId)).toBe(true);
  });

  it('strings of 10,000 characters: DLQd, naming the field; an unknown field that long is kept; deep nesting refused', async () => {
    const t = Date.now();
    const long = 'x'.repeat(10_000);
    const fields = [
      'requestId',
      'userId',
      'billTo',
      'model',
      'providerModelId',
      'task',
      'providerRequestId',
    ];
    const bad = fields.map((field) => {
      const event = eventAt(t);
      return { key: event.requestId, field, event: { ...event, [field]: long } };
    });
    const hardware = eventAt(t, { computeTimeMs: 10, hardware: long });
    const extra = eventAt(t, { routerNote: long });
    // 30,000 levels of nesting fit in 64 KiB.
    const deep = eventAt(t);
    const deepText = `${JSON.stringify(deep).slice(0, -1)},"note":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const { stored, dlq } = await run(
      [
        ...bad.map((b) => ({ key: b.key, value: JSON.stringify(b.event) })),
        json(hardware),
        json(extra),
        { key: deep.requestId, value: deepText },
      ],
      3,
    );
    expect(dlq.get(deep.requestId)?.reason).toContain('deeper than 64');
    for (const { key, field } of bad) {
      expect(dlq.get(key)?.code, field).toBe('schema_violation');
      expect(dlq.get(key)?.reason, field).toContain(field);
    }
    expect(dlq.get(hardware.requestId)?.reason).toContain('hardware');
    expect(stored.has(extra.requestId)).toBe(true);
  });

  const charsetAttacks = {
    nul: 'user\u0000x',
    newline: 'user\nx',
    rtlOverride: 'user\u202Etxt.exe',
    emoji: 'user😀',
    sqlQuote: "user'; DROP TABLE billing.usage; --",
    dotDot: '../../etc/passwd',
    space: 'user x',
    tooLong: 'a'.repeat(97),
    empty: '',
  };

  it('user ids outside the account-id charset are DLQd; the same values as billTo are kept as sent', async () => {
    const t = Date.now();
    const asUser = Object.entries(charsetAttacks).map(([name, value]) => ({
      name,
      event: eventAt(t, { userId: value }),
    }));
    const asBillTo = Object.entries(charsetAttacks)
      .filter(([name]) => name !== 'empty')
      .map(([name, value]) => ({ name, value, event: eventAt(t, { billTo: value }) }));
    const longest = eventAt(t, { userId: 'A'.repeat(96) });
    const dotted = eventAt(t, { userId: 'Jane.Doe-2_x' });
    const { stored, dlq } = await run(
      [...asUser, ...asBillTo]
        .map(({ event }) => json(event))
        .concat([json(longest), json(dotted)]),
      4,
    );
    for (const { name, event } of asUser) {
      expect(dlq.get(event.requestId)?.code, name).toBe('schema_violation');
      expect(dlq.get(event.requestId)?.reason, name).toContain('userId');
    }
    expect(stored.has(longest.requestId)).toBe(true);
    expect(stored.has(dotted.requestId)).toBe(true);
    const rows = await clickhouse.query({
      query:
        'SELECT request_id, bill_to FROM billing.usage WHERE request_id IN {ids:Array(String)}',
      query_params: { ids: asBillTo.map((b) => b.event.requestId) },
      format: 'JSONEachRow',
    });
    const billTo = new Map(
      (await rows.json<{ request_id: string; bill_to: string }>()).map((r) => [
        r.request_id,
        r.bill_to,
      ]),
    );
    for (const { name, value, event } of asBillTo) {
      expect(billTo.get(event.requestId), name).toBe(value);
    }
  });

  it('strings ClickHouse cannot store (a lone UTF-16 surrogate) are DLQd, not retried forever', async () => {
    const t = Date.now();
    // JSON.stringify writes a lone surrogate as the escape \ud800: valid JSON, valid UTF-8 bytes.
    const cases = ['model', 'task', 'requestId', 'billTo', 'providerRequestId'].map((field) => {
      const event = eventAt(t);
      return { field, key: event.requestId, event: { ...event, [field]: 'bad\ud800' } };
    });
    // An unknown field is stored as JSON text, where the surrogate stays an escape: harmless.
    const extra = eventAt(t, { routerNote: 'bad\udfff' });
    const { stored, dlq } = await run(
      [...cases.map((c) => ({ key: c.key, value: JSON.stringify(c.event) })), json(extra)],
      5,
    );
    for (const { field, key } of cases) {
      expect(dlq.get(key)?.code, field).toBe('schema_violation');
      expect(dlq.get(key)?.reason, field).toContain(field);
    }
    expect(stored.has(extra.requestId)).toBe(true);
  });
});
