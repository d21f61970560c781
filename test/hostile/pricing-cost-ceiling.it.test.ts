import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, RoutedRequestEvent } from '@nanobill/contract';
import { createMetricsRegistry } from '@nanobill/observability';
import { trueCostNanoUsd, type ProviderSimulator } from '@nanobill/provider-simulator';
import { parseProviders } from '@nanobill/providers';
import { startPricing, type PricingService } from '@nanobill/pricing';
import {
  collectTopic,
  produce,
  queryValue,
  testBed,
  uniqueName,
  waitFor,
  type TestBed,
} from '@nanobill/testkit';
import {
  asMessages,
  routedEvents,
  simulatedProviders,
} from '../../services/pricing/test/support.js';

// Attack: a cost endpoint that answers an absurd cost for some requests (a bug, a compromised
// provider, a unit mix-up): $150 for one request, the largest safe JSON integer ($9M), a number
// beyond 2^53; and hf-inference events claiming 2^53 ms of compute on a machine at $0.50/s
// (4.5·10^21 nano-USD: more than an Int64 column holds). Before, every one of them up to $9M
// was booked, and the compute-time cost was written into an Int64 column. Now each is unpriced
// at once with `cost $X above the ceiling $Y`, counted, and announced by an `unpriced_requests`
// alert; its neighbours are booked at their true cost; nothing is in both tables, and a later
// answer (another instance pricing the same events from scratch) cannot book it.

const CEILING = 100_000_000_000n; // the default: $100

describe('pricing: a cost above the ceiling is never booked', () => {
  let bed: TestBed<'requests' | 'alerts'>;
  let simulator: ProviderSimulator;
  let pricing: PricingService;
  let second: PricingService | undefined;
  let alerts: Awaited<ReturnType<typeof collectTopic>>;
  const registry = createMetricsRegistry();
  let providers: ReturnType<typeof parseProviders>;
  const absurd = {
    'sim-150-usd': '150000000000',
    'sim-9m-usd': String(Number.MAX_SAFE_INTEGER),
    'sim-beyond-2-53': '12345678901234567890123',
  };

  const rows = async (table: 'ledger' | 'unpriced', provider: string) => {
    const column = table === 'ledger' ? 'cost_nano_usd' : 'reason';
    const rs = await bed.clickhouse.query({
      query: `SELECT provider_request_id AS id, toString(${column}) AS value
              FROM billing.${table} WHERE provider = {p:String}`,
      query_params: { p: provider },
      format: 'JSONEachRow',
    });
    return new Map((await rs.json<{ id: string; value: string }>()).map((r) => [r.id, r.value]));
  };
  const start = (groupId: string) =>
    startPricing({
      kafka: bed.kafka,
      clickhouse: bed.clickhouse,
      logger: bed.logger,
      metrics: groupId === 'first' ? registry : createMetricsRegistry(),
      providers,
      topics: bed.topics,
      groupId: uniqueName(groupId),
      graceMs: 0,
      schedule: null,
      retry: { retries: 1, baseDelayMs: 20, maxDelayMs: 100 },
      maxWaitMs: 200,
    });

  beforeAll(async () => {
    bed = await testBed({ requests: 3, alerts: 1 });
    const sim = await simulatedProviders(
      Object.fromEntries(
        Object.entries(absurd).map(([name, cost]) => [
          name,
          { faults: [{ kind: 'fixed-cost', costNanoUsd: cost, share: 0.25 }] },
        ]),
      ) as never,
    );
    simulator = sim.simulator;
    const file = sim.file as Record<string, Record<string, unknown>>;
    file['hf-inference']!.hardware = { 'nvidia-a10g': '0.00012', h100x8: '0.5' };
    providers = parseProviders(file);
    expect(providers.remote.get('sim-150-usd')?.maxCostNanoUsd).toBe(CEILING);
    alerts = await collectTopic(bed.kafka, bed.topics.alerts);
    pricing = await start('first');
  });

  afterAll(async () => {
    await second?.stop();
    await pricing?.stop();
    await alerts?.stop();
    await simulator?.close();
    await bed?.close();
  });

  it('unpriced at once with the reason, alerted, counted; the neighbours booked; never both', async () => {
    const remote = Object.keys(absurd).flatMap((p, i) => routedEvents(p, 40, i + 1));
    const hf: RoutedRequestEvent[] = routedEvents('hf-inference', 6, 9).map((e, i) => ({
      ...e,
      computeTimeMs: i < 2 ? Number.MAX_SAFE_INTEGER : i === 2 ? 3_600_001 : 10_000,
      hardware: i % 2 === 0 ? 'h100x8' : 'nvidia-a10g',
    }));
    await produce(bed.kafka, bed.topics.requests, asMessages([...remote, ...hf]));
    await waitFor('all pending', async () =>
      pricing.pendingCount() === remote.length + hf.length ? true : undefined,
    );
    await pricing.priceNow();
    // Not "asked again next minute": decided in the first round.
    expect(pricing.pendingCount()).toBe(0);

    for (const [provider, cost] of Object.entries(absurd)) {
      const events = remote.filter((e) => e.provider === provider);
      const answered = simulator.answeredIds(provider);
      const ledger = await rows('ledger', provider);
      const unpriced = await rows('unpriced', provider);
      const refused = events.filter((e) => !answered.has(e.providerRequestId!));
      expect(refused.length, provider).toBeGreaterThan(0);
      expect(refused.length, provider).toBeLessThan(events.length);
      for (const e of events) {
        const id = e.providerRequestId!;
        if (answered.has(id)) {
          expect(ledger.get(id), provider).toBe(String(trueCostNanoUsd(provider, id)));
          expect(unpriced.has(id), provider).toBe(false);
        } else {
          expect(ledger.has(id), provider).toBe(false);
          // The cost as received, exactly (beyond 2^53: the integer the JSON number is).
          const shown = BigInt(Number(cost));
          expect(unpriced.get(id), provider).toBe(
            `cost $${shown / 1_000_000_000n}.${(shown % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '').padEnd(2, '0')} above the ceiling $100.00`,
          );
        }
      }
    }
    const hfLedger = await rows('ledger', 'hf-inference');
    const hfUnpriced = await rows('unpriced', 'hf-inference');
    const [huge1, huge2, justAbove, ok1, ok2, ok3] = hf.map((e) => e.providerRequestId!);
    expect(hfUnpriced.get(huge1!)).toBe(
      'cost $4503599627370.4955 above the ceiling $1800.00 (9007199254740991 ms of h100x8; at most 3600 s per request)',
    );
    expect(hfUnpriced.get(huge2!)).toMatch(
      /^cost \$1080863910\.56891892 above the ceiling \$0\.432 /,
    );
    expect(hfUnpriced.get(justAbove!)).toMatch(/^cost \$1800\.0005 above the ceiling \$1800\.00 /);
    expect([...hfLedger.keys()].sort()).toEqual([ok1, ok2, ok3].sort());
    expect(hfLedger.get(ok1!)).toBe('1200000'); // 10 s × $0.00012
    expect(hfLedger.get(ok2!)).toBe('5000000000'); // 10 s × $0.50

    // Each set of refusals is announced, with the reasons counted.
    const refusedRows = Number(
      await queryValue(
        bed.clickhouse,
        `SELECT count() FROM billing.unpriced WHERE reason LIKE 'cost $% above the ceiling $%'`,
      ),
    );
    const announced = await waitFor('the unpriced alerts', async () => {
      const sent = alerts.values<Alert>().filter((a) => a.type === 'unpriced_requests');
      const count = sent.reduce((n, a) => n + Number(a.details.count), 0);
      return count === refusedRows ? sent : undefined;
    });
    expect(announced.map((a) => a.provider).sort()).toEqual(
      [...Object.keys(absurd), 'hf-inference'].sort(),
    );
    for (const alert of announced) {
      expect(alert.message).toMatch(/request\(s\) not booked: cost above the ceiling$/);
      const stored = Number(
        await queryValue(
          bed.clickhouse,
          `SELECT count() FROM billing.unpriced_entries WHERE alert_id = '${alert.alertId}'`,
        ),
      );
      expect(stored).toBe(alert.details.count);
    }
    const metrics = await registry.getSingleMetric('nanobill_pricing_above_ceiling_total')!.get();
    expect(metrics.values.reduce((n, v) => n + v.value, 0)).toBe(refusedRows);

    // A later answer cannot book them: a second instance prices the same events from scratch
    // (its own group), with a provider that now answers every true cost.
    for (const provider of Object.keys(absurd)) simulator.setFaults(provider, []);
    second = await start('second');
    await waitFor('the second instance has them all pending', async () =>
      second!.pendingCount() === remote.length + hf.length ? true : undefined,
    );
    await second.priceNow();
    const both = Number(
      await queryValue(
        bed.clickhouse,
        `SELECT count() FROM billing.ledger_entries
         WHERE (provider, provider_request_id) IN
               (SELECT provider, provider_request_id FROM billing.unpriced_entries)`,
      ),
    );
    expect(both).toBe(0);
    const ledgerRows = Number(
      await queryValue(bed.clickhouse, 'SELECT count() FROM billing.ledger'),
    );
    expect(ledgerRows + refusedRows).toBe(remote.length + hf.length);
  });
});
