import { afterAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { startPricing, type PricingOptions, type PricingService } from '@nanobill/pricing';
import { trueCostNanoUsd } from '@nanobill/provider-simulator';
import { ComponentHealth, createMetricsRegistry, startOpsServer } from '@nanobill/observability';
import { produce, queryValue, testBed, uniqueName, waitFor } from '@nanobill/testkit';
import {
  asMessages,
  routedEvents,
  simulatedProviders,
} from '../../services/pricing/test/support.js';

// Attack: ClickHouse is unreachable for a moment just as pricing is assigned its partitions (a
// deploy, a rebalance while the server restarts). Before, the reload of those partitions' pending
// requests failed once, was logged, and was never tried again: their requests were silently not
// priced until the next rebalance, and `/readyz` said ready. Now: the reload is retried with
// capped backoff, `/readyz` names it meanwhile, a round prices nothing of a partition whose
// pending set is not loaded, and once ClickHouse answers every request is priced, once.

/** The query that reloads the pending requests of newly assigned partitions. */
const RELOAD = /FROM billing\.pricing_pending\s+WHERE source_partition IN/;
const COMPONENT = 'pricing pending requests';

/**
 * The real (embedded) ClickHouse, except that the pending reload fails while `away()` says so,
 * as a connection to a server that went away does.
 */
function failingReloads(client: ClickHouseClient, away: () => boolean, onRefused: () => void) {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') {
        return (params: Parameters<ClickHouseClient['query']>[0]) => {
          if (away() && RELOAD.test(params.query)) {
            onRefused();
            return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123 (test)'));
          }
          return target.query(params);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('pricing: the pending reload of assigned partitions fails (real broker, real chdb)', () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  it('/readyz names it while it fails, a round holds those partitions back, then every request is priced once', async () => {
    const {
      kafka,
      topics,
      clickhouse: client,
      logger,
      close,
    } = await testBed({
      requests: 3,
      alerts: 1,
    });
    stops.push(close);
    const { simulator, registry: providers } = await simulatedProviders({ 'sim-reload': {} });
    stops.push(() => simulator.close());
    const settings: Omit<PricingOptions, 'clickhouse' | 'metrics'> = {
      kafka,
      logger,
      providers,
      topics,
      groupId: uniqueName('pricing-reload'),
      graceMs: 0, // no account snapshots here: users are billed as free users at once
      schedule: null,
      retry: { retries: 1, baseDelayMs: 20, maxDelayMs: 100 },
      maxWaitMs: 200,
    };
    const started = async (
      options: Pick<PricingOptions, 'clickhouse'> & Partial<PricingOptions>,
    ) => {
      const service = await startPricing({
        ...settings,
        metrics: createMetricsRegistry(),
        ...options,
      });
      stops.push(() => service.stop());
      return service;
    };

    // An instance stores requests as pending (offsets committed) and stops before any round.
    const stored = routedEvents('sim-reload', 300, 1);
    const first = await started({ clickhouse: client });
    await produce(kafka, topics.requests, asMessages(stored));
    await waitFor('300 requests pending', async () =>
      first.pendingCount() === 300 ? true : undefined,
    );
    await first.stop();

    // The next instance is assigned the partitions while their reload cannot reach ClickHouse.
    let away = true;
    let refusedReloads = 0;
    const health = new ComponentHealth();
    const second: PricingService = await started({
      clickhouse: failingReloads(
        client,
        () => away,
        () => refusedReloads++,
      ),
      supervision: { health },
      reloadDelayMs: { first: 100, max: 400 },
    });
    const ops = await startOpsServer({
      port: 0,
      registry: createMetricsRegistry(),
      logger,
      readiness: {},
      components: health,
    });
    stops.push(() => ops.close());
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${ops.port}/readyz`);
      const body = (await response.json()) as { checks: Record<string, string> };
      return { status: response.status, checks: body.checks };
    };
    const failing = await waitFor(
      '/readyz to name the pending reload that fails',
      async () => {
        const { status, checks } = await readyz();
        return status === 503 && checks[COMPONENT] !== undefined ? checks[COMPONENT] : undefined;
      },
      30_000,
    );
    expect(failing).toMatch(
      /^pending requests of partitions 0, 1, 2 not loaded: attempt \d+ failed: Error: connect ECONNREFUSED 127\.0\.0\.1:8123 \(test\); retrying in [\d.]+ s$/,
    );

    // Requests arriving meanwhile are stored as pending, but held back with their partition: a
    // round on a partial set would price around a hole (its deadline and gauges on a part).
    const fresh = routedEvents('sim-reload', 30, 2);
    await produce(kafka, topics.requests, asMessages(fresh));
    await waitFor('the fresh requests stored as pending', async () =>
      Number(
        await queryValue(
          client,
          "SELECT uniqExact(provider_request_id) FROM billing.pricing_pending WHERE provider = 'sim-reload'",
        ),
      ) === 330
        ? true
        : undefined,
    );
    const during = await second.priceNow();
    expect(during.priced).toBe(0);
    expect(Number(await queryValue(client, 'SELECT count() FROM billing.ledger_entries'))).toBe(0);
    expect((await readyz()).status).toBe(503);

    // ClickHouse answers again: ready, and every request (reloaded or fresh) priced once.
    away = false;
    await waitFor('/readyz to be ready again', async () =>
      (await readyz()).status === 200 ? true : undefined,
    );
    expect(refusedReloads).toBeGreaterThan(1); // tried again, not once
    const after = await second.priceNow();
    expect(after.priced).toBe(330);
    expect(after.stillPending).toBe(0);
    const everything = [...stored, ...fresh];
    const total = everything.reduce(
      (sum, e) => sum + trueCostNanoUsd(e.provider, e.providerRequestId!),
      0n,
    );
    expect(
      await queryValue(
        client,
        'SELECT (count(), uniqExact(provider_request_id), toString(sum(toInt128(cost_nano_usd)))) FROM billing.ledger',
      ),
    ).toEqual([String(everything.length), String(everything.length), String(total)]);
  });
});
