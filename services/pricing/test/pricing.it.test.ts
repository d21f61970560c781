import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { trueCostNanoUsd, type ProviderSimulator } from '@nanobill/provider-simulator';
import {
  produce,
  queryValue,
  quietLogger,
  readTopic,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { ensureTopics } from '@nanobill/kafka';
import { startPricing, type PricingService } from '../src/index.js';
import { asMessages, routedEvents, simulatedProviders } from './support.js';

// Real broker, real embedded ClickHouse, the provider simulator over HTTP.
describe('pricing: pending ids → cost endpoints → billing.ledger', () => {
  const DEADLINE_MS = 4_000;
  /** How far pricing's clock is ahead of the real one. */
  let skewMs = 0;
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let simulator: ProviderSimulator;
  let pricing: PricingService;
  const topics = { requests: uniqueName('it-requests'), alerts: uniqueName('it-alerts') };
  const faulty = {
    'sim-5xx': { faults: [{ kind: 'status', status: 503, times: 2 }] },
    'sim-429': { faults: [{ kind: 'rate-limit', retryAfterSeconds: 0, times: 1 }] },
    'sim-timeout': { faults: [{ kind: 'timeout', times: 1 }], timeoutMs: 300 },
    'sim-slow': { faults: [{ kind: 'slow', delayMs: 200 }] },
    'sim-drop-later': { faults: [{ kind: 'drop-ids', share: 0.3, until: 'later' }] },
    'sim-drop-never': { faults: [{ kind: 'drop-ids', share: 0.3, until: 'never' }] },
    'sim-duplicates': { faults: [{ kind: 'duplicate-ids', share: 0.3 }] },
    'sim-unknown': { faults: [{ kind: 'unknown-ids', count: 7 }] },
    'sim-negative': { faults: [{ kind: 'bad-cost', cost: 'negative', share: 0.2 }] },
    'sim-fractional': { faults: [{ kind: 'bad-cost', cost: 'fractional', share: 0.2 }] },
    'sim-string': { faults: [{ kind: 'bad-cost', cost: 'string', share: 0.2 }] },
    'sim-huge': { faults: [{ kind: 'bad-cost', cost: 'huge', share: 0.2 }] },
    'sim-malformed': { faults: [{ kind: 'malformed-json', times: 1 }] },
    'sim-content-type': { faults: [{ kind: 'wrong-content-type', times: 1 }] },
    'sim-oversized': { faults: [{ kind: 'oversized-body', bytes: 6 * 1024 * 1024, times: 1 }] },
    'sim-401': { wrongToken: true },
  } as const;
  const providers = { ...faulty, 'sim-big': { concurrency: 2 }, 'sim-small': {} };
  const registry = createMetricsRegistry();
  const ledger = async (provider: string) => {
    const rs = await clickhouse.query({
      query:
        'SELECT provider_request_id AS id, cost_nano_usd AS cost FROM billing.ledger WHERE provider = {p:String}',
      query_params: { p: provider },
      format: 'JSONEachRow',
    });
    return rs.json<{ id: string; cost: string }>();
  };
  const unpriced = async (provider: string) => {
    const rs = await clickhouse.query({
      query:
        'SELECT provider_request_id AS id, reason FROM billing.unpriced WHERE provider = {p:String}',
      query_params: { p: provider },
      format: 'JSONEachRow',
    });
    return rs.json<{ id: string; reason: string }>();
  };

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [
      { topic: topics.requests, numPartitions: 6 },
      { topic: topics.alerts, numPartitions: 1 },
    ]);
    ({ client: clickhouse } = await testClickHouse());
    const sim = await simulatedProviders(providers);
    simulator = sim.simulator;
    pricing = await startPricing({
      kafka,
      clickhouse,
      logger: quietLogger(),
      metrics: registry,
      providers: sim.registry,
      topics,
      groupId: uniqueName('pricing'),
      deadlineMs: DEADLINE_MS,
      now: () => new Date(Date.now() + skewMs),
      graceMs: 0, // no account snapshots here: users are billed as free users at once
      schedule: null,
      retry: { retries: 2, baseDelayMs: 20, maxDelayMs: 200 },
      maxWaitMs: 200,
    });
  });

  afterAll(async () => {
    await pricing?.stop();
    await simulator?.close();
    await clickhouse?.close();
  });

  it('25,000 pending ids for one provider and 3 for another → exactly 3 + 1 calls', async () => {
    const big = routedEvents('sim-big', 25_000);
    const small = routedEvents('sim-small', 3);
    await produce(kafka, topics.requests, asMessages([...big, ...small]));
    await waitFor('28,003 pending', async () =>
      pricing.pendingCount() === 25_003 ? true : undefined,
    );
    simulator.resetCalls();
    const report = await pricing.priceNow();
    const sizes = (p: string) =>
      simulator
        .calls()
        .filter((c) => c.provider === p)
        .map((c) => c.ids)
        .sort((a, b) => b - a);
    expect(sizes('sim-big')).toEqual([10_000, 10_000, 5_000]);
    expect(sizes('sim-small')).toEqual([3]);
    expect(report.calls).toBe(4);
    const total = [...big, ...small].reduce(
      (sum, e) => sum + trueCostNanoUsd(e.provider, e.providerRequestId!),
      0n,
    );
    expect(
      BigInt(
        await queryValue(clickhouse, 'SELECT sum(toInt128(cost_nano_usd)) FROM billing.ledger'),
      ),
    ).toBe(total);
    expect(pricing.pendingCount()).toBe(0);

    // The events' usage reaches the ledger and, through it, the hourly rollup.
    const tokens = (events: typeof big) =>
      events.reduce(
        (sum, e) => ({
          input: sum.input + BigInt(e.usage?.inputTokens ?? 0),
          output: sum.output + BigInt(e.usage?.outputTokens ?? 0),
          without: sum.without + (e.usage === undefined ? 1 : 0),
        }),
        { input: 0n, output: 0n, without: 0 },
      );
    const expected = tokens([...big, ...small]);
    expect(expected.input).toBeGreaterThan(0n);
    const [ledgerTokens] = await (
      await clickhouse.query({
        query: `SELECT sum(input_tokens) AS input, sum(output_tokens) AS output,
                       countIf(input_tokens IS NULL) AS without FROM billing.ledger`,
        format: 'JSONEachRow',
      })
    ).json<{ input: string; output: string; without: string }>();
    expect(ledgerTokens).toEqual({
      input: String(expected.input),
      output: String(expected.output),
      without: String(expected.without),
    });
    const rollup = await queryValue<[string, string, string, string]>(
      clickhouse,
      `SELECT (toString(sum(requests)), toString(sum(input_tokens)), toString(sum(output_tokens)),
               toString(sum(toInt128(cost_nano_usd)))) FROM billing.usage_hourly`,
    );
    expect(rollup).toEqual([
      '25003',
      String(expected.input),
      String(expected.output),
      String(total),
    ]);
  });

  it('each fault class: answered ids are in the ledger at their true cost, the rest unpriced after the deadline, nothing twice', async () => {
    const events = Object.keys(faulty).flatMap((provider, i) => routedEvents(provider, 40, i + 10));
    await produce(kafka, topics.requests, asMessages(events));
    await waitFor('all pending', async () =>
      pricing.pendingCount() === events.length ? true : undefined,
    );
    await pricing.priceNow(); // transient faults are retried within the round or asked again next round
    await pricing.priceNow();
    skewMs += DEADLINE_MS; // the deadline passes on pricing's clock, not by waiting for it
    await pricing.priceNow(); // past the deadline: what is still pending becomes unpriced
    expect(pricing.pendingCount()).toBe(0);

    for (const provider of Object.keys(faulty)) {
      const asked = new Set(
        events.filter((e) => e.provider === provider).map((e) => e.providerRequestId!),
      );
      const answered = new Set([...simulator.answeredIds(provider)].filter((id) => asked.has(id)));
      const priced = await ledger(provider);
      const refused = await unpriced(provider);
      const context = `${provider}: ${refused[0]?.reason ?? ''}`;
      expect(asked.size, context).toBeGreaterThan(0); // every id is then priced or unpriced
      expect(new Set(priced.map((r) => r.id)), context).toEqual(answered);
      expect(priced.length, context).toBe(answered.size); // no id twice
      for (const row of priced)
        expect(BigInt(row.cost), context).toBe(trueCostNanoUsd(provider, row.id));
      expect(new Set(refused.map((r) => r.id)), context).toEqual(
        new Set([...asked].filter((id) => !answered.has(id))),
      );
      expect(refused.every((r) => r.reason.length > 0)).toBe(true);
    }
    expect((await ledger('sim-drop-never')).length).toBeLessThan(40);
    expect((await unpriced('sim-negative'))[0]?.reason).toMatch(/invalid cost: negative/);
    expect((await unpriced('sim-401'))[0]?.reason).toMatch(/unauthorized/);
    expect((await unpriced('sim-401')).length).toBe(40);

    const alerts = await readTopic(kafka, topics.alerts, 1);
    const alert = JSON.parse(alerts[0]!.value!.toString()) as { type: string; provider: string };
    expect(alert.type).toBe('unpriced_requests');

    const rows = Number(await queryValue(clickhouse, 'SELECT count() FROM billing.ledger_entries'));
    const keys = Number(
      await queryValue(
        clickhouse,
        'SELECT uniqExact(provider, provider_request_id) FROM billing.ledger_entries',
      ),
    );
    expect(rows).toBe(keys);
  });

  it('prices hf-inference locally: 10 s on a $0.00012/s machine → 1,200,000 nano-USD', async () => {
    const [base] = routedEvents('hf-inference', 1);
    const event = { ...base!, computeTimeMs: 10_000, hardware: 'nvidia-a10g' };
    await produce(kafka, topics.requests, asMessages([event]));
    await waitFor('the hf-inference request pending', async () =>
      pricing.pendingCount() === 1 ? true : undefined,
    );
    await pricing.priceNow();
    const cost = await waitFor('the hf-inference ledger row', async () => {
      const rs = await clickhouse.query({
        query:
          'SELECT cost_nano_usd, cost_source FROM billing.ledger WHERE request_id = {id:String}',
        query_params: { id: event.requestId },
        format: 'JSONEachRow',
      });
      return (await rs.json<{ cost_nano_usd: string; cost_source: string }>())[0];
    });
    expect(cost).toEqual({ cost_nano_usd: '1200000', cost_source: 'hf_compute_time' });
  });

  it('never prices custom-key requests or requests that did not reach the provider', async () => {
    const [customKey, unreached, marker] = routedEvents('sim-small', 3, 99);
    const events = [
      { ...customKey!, billingMode: 'custom_key' as const },
      { ...unreached!, providerRequestId: undefined, status: 502 },
      marker!,
    ];
    simulator.resetCalls();
    await produce(kafka, topics.requests, asMessages(events));
    await waitFor('the marker pending', async () =>
      pricing.pendingCount() === 1 ? true : undefined,
    );
    await pricing.priceNow();
    expect(simulator.calls().map((c) => c.ids)).toEqual([1]);
    const ids = (await ledger('sim-small')).map((r) => r.id);
    expect(ids).toContain(marker!.providerRequestId);
    expect(ids).not.toContain(customKey!.providerRequestId);
  });

  it('a row written twice by two racing instances is still counted once by billing.ledger', async () => {
    const row = {
      provider: 'sim-race',
      provider_request_id: 'race-1',
      request_id: 'r-race-1',
      event_time: '2026-11-25T10:00:00.000Z',
      priced_at: '2026-11-25T10:01:00.000Z',
      user_id: 'u',
      billed_account: 'u',
      attribution: 'user',
      attribution_reason: '',
      bill_to: null,
      model: 'm',
      task: 't',
      cost_nano_usd: '123456789',
      cost_source: 'provider_api',
    };
    // Two separate inserts, as two instances would make them: two parts. A background merge of
    // the month's parts can fold them within milliseconds, and then the duplicate this test is
    // about would be gone before it is counted: merges wait until the assertions are done.
    await clickhouse.command({ query: 'SYSTEM STOP MERGES billing.ledger_entries' });
    try {
      await clickhouse.insert({
        table: 'billing.ledger_entries',
        values: [row],
        format: 'JSONEachRow',
      });
      await clickhouse.insert({
        table: 'billing.ledger_entries',
        values: [row],
        format: 'JSONEachRow',
      });
      const raw = "SELECT count() FROM billing.ledger_entries WHERE provider = 'sim-race'";
      expect(Number(await queryValue(clickhouse, raw))).toBe(2);
      const counted =
        "SELECT sum(toInt128(cost_nano_usd)) FROM billing.ledger WHERE provider = 'sim-race'";
      expect(await queryValue(clickhouse, counted)).toBe('123456789');
    } finally {
      await clickhouse.command({ query: 'SYSTEM START MERGES billing.ledger_entries' });
    }
  });
});
