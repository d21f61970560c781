import { describe, expect, it } from 'vitest';
import { AccountHistory } from '@nanobill/attribution';
import type { Alert } from '@nanobill/contract';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger } from '@nanobill/testkit';
import type { CallOutcome } from '../src/cost-client.js';
import { EndpointHealth } from '../src/endpoint-health.js';
import { PendingRequests } from '../src/index.js';
import { createPricingMetrics } from '../src/metrics.js';
import {
  runPricingRound,
  type CostAsker,
  type RoundDeps,
  type WriteOnceTable,
} from '../src/round.js';
import type { PendingRow } from '@nanobill/tables';

const MINUTE = 60_000;
const T0 = new Date('2026-11-25T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);

describe('EndpointHealth', () => {
  it('alerts once the outage has lasted the threshold, not before', () => {
    const health = new EndpointHealth(5 * MINUTE);
    for (let m = 0; m < 5; m++) expect(health.record('groq', true, at(m))).toEqual({});
    expect(health.isFailing('groq')).toBe(true);
    expect(health.record('groq', true, at(5))).toEqual({
      alert: {
        provider: 'groq',
        failingSince: T0,
        failingForMs: 5 * MINUTE,
        alertId: 'cost_endpoint_failing:groq:2026-11-25T10:00:00.000Z',
      },
    });
  });

  it('alerts only once per outage, however many rounds it lasts', () => {
    const health = new EndpointHealth(5 * MINUTE);
    const alerts = Array.from({ length: 60 }, (_, m) => health.record('groq', true, at(m)).alert);
    expect(alerts.filter(Boolean).map((a) => a!.alertId)).toEqual([
      'cost_endpoint_failing:groq:2026-11-25T10:00:00.000Z',
    ]);
  });

  it('a round with a usable answer ends the outage and restarts the count', () => {
    const health = new EndpointHealth(5 * MINUTE);
    for (let m = 0; m < 4; m++) health.record('groq', true, at(m));
    expect(health.record('groq', false, at(4))).toEqual({
      recovered: { provider: 'groq', failingSince: T0, failedForMs: 4 * MINUTE, alerted: false },
    });
    expect(health.isFailing('groq')).toBe(false);
    // Failing again from minute 5: nothing of the first four minutes counts.
    for (let m = 5; m < 10; m++) expect(health.record('groq', true, at(m))).toEqual({});
    expect(health.record('groq', true, at(10)).alert?.failingSince).toEqual(at(5));
  });

  it('a healthy round of a healthy provider changes nothing', () => {
    const health = new EndpointHealth(5 * MINUTE);
    for (let m = 0; m < 10; m++) expect(health.record('groq', false, at(m))).toEqual({});
    expect(health.isFailing('groq')).toBe(false);
  });

  it('a second outage after a recovery alerts again, under its own id', () => {
    const health = new EndpointHealth(5 * MINUTE);
    for (let m = 0; m <= 5; m++) health.record('groq', true, at(m));
    expect(health.record('groq', false, at(6)).recovered).toMatchObject({ alerted: true });
    const second = Array.from({ length: 10 }, (_, i) => health.record('groq', true, at(7 + i)));
    expect(second.filter((c) => c.alert).map((c) => c.alert!.alertId)).toEqual([
      'cost_endpoint_failing:groq:2026-11-25T10:07:00.000Z',
    ]);
  });

  it('rounds without calls to the provider leave its state as it was', () => {
    const health = new EndpointHealth(5 * MINUTE);
    health.record('groq', true, at(0));
    // Minutes 1–5: nothing pending for groq, so nothing recorded; the outage still runs.
    expect(health.failingSince('groq')).toEqual(T0);
    expect(health.record('groq', true, at(6)).alert?.failingSince).toEqual(T0);
    // And a provider never called is not failing.
    expect(health.isFailing('together')).toBe(false);
  });

  it('keeps providers apart', () => {
    const health = new EndpointHealth(2 * MINUTE);
    for (let m = 0; m < 2; m++) {
      health.record('groq', true, at(m));
      health.record('together', false, at(m));
    }
    expect(health.record('groq', true, at(2)).alert?.provider).toBe('groq');
    expect(health.record('together', false, at(2))).toEqual({});
  });

  it('an alert that could not be sent is due again at the next failed round of the same outage', () => {
    const health = new EndpointHealth(MINUTE);
    health.record('groq', true, at(0));
    const alert = health.record('groq', true, at(1)).alert!;
    health.retryAlert(alert);
    expect(health.record('groq', true, at(2)).alert?.alertId).toBe(alert.alertId);
    expect(health.record('groq', true, at(3))).toEqual({});
    // Once the outage is over, a stale retry does not re-arm the next one.
    health.record('groq', false, at(4));
    health.record('groq', true, at(5));
    health.retryAlert(alert);
    expect(health.record('groq', true, at(6)).alert?.failingSince).toEqual(at(5));
    expect(health.record('groq', true, at(7))).toEqual({});
  });

  it('a zero threshold alerts at the first failed round', () => {
    expect(new EndpointHealth(0).record('groq', true, T0).alert?.failingSince).toEqual(T0);
  });

  it('refuses a negative threshold', () => {
    expect(() => new EndpointHealth(-1)).toThrow(/failingAfterMs/);
  });
});

// The round's verdict, without HTTP: one provider whose calls answer as told.
describe('runPricingRound: cost endpoint failing', () => {
  const pendingRow = (provider: string, id: string): PendingRow => ({
    provider,
    provider_request_id: id,
    request_id: `r-${id}`,
    event_time: T0.toISOString(),
    user_id: 'u1',
    bill_to: null,
    model: 'm',
    task: 'conversational',
    first_seen_at: T0.toISOString(),
    source_partition: 0,
    compute_time_ms: null,
    hardware: null,
    input_tokens: null,
    output_tokens: null,
  });
  const answer = (ids: readonly string[]): CallOutcome => ({
    outcome: 'ok',
    body: { requests: ids.map((requestId) => ({ requestId, costNanoUsd: 1 })) },
  });

  function setup(ask: (ids: readonly string[]) => CallOutcome) {
    let now = T0;
    const alerts: Alert[] = [];
    const pending = new PendingRequests();
    // What ClickHouse would hold: the rows the round reads back a chunk at a time.
    const stored = new Map<string, PendingRow>();
    const client: CostAsker = {
      provider: { name: 'groq', concurrency: 2, retries: 1, maxCostNanoUsd: 100_000_000_000n },
      ask: async (ids: readonly string[]) => ask(ids),
    };
    const discard = <Row>(table: string): WriteOnceTable<Row> => ({
      table,
      write: async () => ({ refused: new Map(), taken: new Map() }),
    });
    const registry = createMetricsRegistry();
    const deps: RoundDeps = {
      pending,
      rows: async (_provider, refs) => refs.flatMap((ref) => stored.get(ref.request_id) ?? []),
      clients: new Map([['groq', client]]),
      hardwarePrices: new Map(),
      maxComputeSeconds: 3_600,
      accounts: new AccountHistory(),
      graceMs: 0,
      ledger: discard('ledger'),
      unpriced: discard('unpriced'),
      duplicates: discard('duplicates'),
      metrics: createPricingMetrics(registry),
      logger: quietLogger(),
      now: () => now,
      deadlineMs: 24 * 60 * MINUTE,
      retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 },
      publishAlerts: async (sent) => void alerts.push(...sent),
      endpointHealth: new EndpointHealth(5 * MINUTE),
    };
    const add = (count: number) => {
      for (let i = 0; i < count; i++) {
        const row = pendingRow('groq', `groq-${i}`);
        stored.set(row.request_id, row);
        pending.add(row);
      }
    };
    const rounds = async (minutes: number[]) => {
      for (const m of minutes) {
        now = at(m);
        await runPricingRound(deps);
      }
    };
    const gauge = async () =>
      (await registry.getSingleMetric('nanobill_pricing_endpoint_failing')!.get()).values.find(
        (v) => v.labels.provider === 'groq',
      )?.value;
    return { alerts, add, rounds, gauge, pending };
  }

  it('every call failing for the threshold → one critical alert with the last error and the pending count', async () => {
    const t = setup(() => ({ outcome: 'server_error', detail: 'HTTP 503' }));
    t.add(10_001); // two calls
    await t.rounds([0, 1, 2, 3, 4]);
    expect(t.alerts).toEqual([]);
    expect(await t.gauge()).toBe(1);
    await t.rounds([5, 6, 7]);
    expect(t.alerts).toEqual([
      {
        schemaVersion: 1,
        alertId: 'cost_endpoint_failing:groq:2026-11-25T10:00:00.000Z',
        type: 'cost_endpoint_failing',
        severity: 'critical',
        provider: 'groq',
        message:
          'the groq cost endpoint has been failing for 5 min (since 2026-11-25T10:00:00.000Z); last error: cost endpoint server_error: HTTP 503',
        details: {
          failingSince: '2026-11-25T10:00:00.000Z',
          failingForMs: 5 * MINUTE,
          lastError: 'cost endpoint server_error: HTTP 503',
          pendingIds: 10_001,
        },
        createdAt: '2026-11-25T10:05:00.000Z',
      },
    ]);
  });

  it('a malformed answer is a failure too', async () => {
    const t = setup(() => ({ outcome: 'ok', body: { nope: true } }));
    t.add(3);
    await t.rounds([0, 5]);
    expect(t.alerts.map((a) => a.details.lastError)).toEqual([
      expect.stringMatching(/answer does not match/),
    ]);
  });

  it('one usable answer in a round is enough: the endpoint is not failing', async () => {
    // The 10,000-id call fails, the 1-id call is answered.
    const t = setup((ids) =>
      ids.length > 1 ? { outcome: 'timeout', detail: 'no answer within 2000 ms' } : answer(ids),
    );
    for (let m = 0; m <= 10; m++) {
      t.add(10_001);
      await t.rounds([m]);
    }
    expect(t.alerts).toEqual([]);
    expect(await t.gauge()).toBe(0);
  });

  it('a well-formed answer with rejected costs is usable: those ids have their own outcome', async () => {
    const t = setup((ids) => ({
      outcome: 'ok',
      body: { requests: ids.map((requestId) => ({ requestId, costNanoUsd: -1 })) },
    }));
    t.add(3);
    await t.rounds([0, 5, 10]);
    expect(t.alerts).toEqual([]);
    expect(t.pending.size()).toBe(3);
  });

  it('recovers when the endpoint answers again', async () => {
    let down = true;
    const t = setup((ids) =>
      down ? { outcome: 'client_error', detail: 'HTTP 400' } : answer(ids),
    );
    t.add(3);
    await t.rounds([0, 1]);
    expect(await t.gauge()).toBe(1);
    down = false;
    await t.rounds([2]);
    expect(await t.gauge()).toBe(0);
    expect(t.pending.size()).toBe(0);
    expect(t.alerts).toEqual([]);
  });
});
