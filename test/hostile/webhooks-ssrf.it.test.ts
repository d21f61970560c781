import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotRow } from '@nanobill/accounts';
import { startAlerts } from '@nanobill/alerts';
import type { Alert } from '@nanobill/contract';
import { createMetricsRegistry } from '@nanobill/observability';
import {
  collectTopic,
  produce,
  startReceiver,
  testBed,
  testWebhookSecrets,
  uniqueName,
  waitFor,
  type TestBed,
} from '@nanobill/testkit';
import type { Resolve } from '@nanobill/webhooks';

// The attack: a webhook URL that makes nanobill POST to its own network (SSRF). The settings API
// refused IP literals, but URLs also arrive in upstream account snapshots (never checked), and
// a name can resolve to anything, differently each time. Here an "internal service" listens on
// 127.0.0.1 and every way of pointing a webhook at it is tried, with the default policy (public
// addresses only): each delivery must be refused when connecting, recorded, and never reach it.
// Names resolve through a resolver of the test's own (no DNS here), as a hostile DNS would.
const INTERNAL_NAME = 'internal.test';
const resolve: Resolve = async (hostname) =>
  hostname === INTERNAL_NAME ? [{ address: '127.0.0.1', family: 4 }] : [];

describe('webhooks reach public addresses only (real broker, real ClickHouse)', () => {
  let bed: TestBed<'alerts'>;
  let internal: Awaited<ReturnType<typeof startReceiver>>;
  let service: { stop(): Promise<void> };
  let onTopic: Awaited<ReturnType<typeof collectTopic>>;
  let port: string;
  const registry = createMetricsRegistry();

  const targets = (): Record<string, string> => ({
    literal: `https://127.0.0.1:${port}/x`,
    name: `https://${INTERNAL_NAME}:${port}/x`,
    localhostDot: `https://localhost.:${port}/x`,
    decimal: `https://2130706433:${port}/x`,
    hex: `https://0x7f.1:${port}/x`,
    mapped: `https://[::ffff:127.0.0.1]:${port}/x`,
    v6Loopback: `https://[::1]:${port}/x`,
    metadata: 'https://169.254.169.254/latest/meta-data/',
  });

  beforeAll(async () => {
    bed = await testBed({ alerts: 1 });
    internal = await startReceiver();
    port = new URL(internal.url).port;
    // Straight into the snapshot history, as the accounts service stores the hub's snapshots:
    // no settings API in between.
    await bed.clickhouse.insert({
      table: 'billing.account_snapshots',
      format: 'JSONEachRow',
      values: Object.entries(targets()).map(([name, url]) =>
        snapshotRow({
          schemaVersion: 1,
          accountId: `ssrf-${name}`,
          kind: 'org',
          plan: 'team',
          effectiveAt: '2026-01-01T00:00:00.000Z',
          seats: 1,
          members: [],
          alertWebhookUrl: url,
        }),
      ),
    });
    service = await startAlerts({
      kafka: bed.kafka,
      clickhouse: bed.clickhouse,
      logger: bed.logger,
      metrics: registry,
      // The default: no network allowed besides public ones. The receiver's CA is trusted, so a
      // connection that went through would be delivered.
      webhook: { ca: internal.ca, timeoutMs: 2_000, resolve },
      secrets: testWebhookSecrets(bed.clickhouse),
      opsWebhook: { url: `https://${INTERNAL_NAME}:${port}/ops`, secret: 'ops-secret-0123456789' },
      topics: { alerts: bed.topics.alerts, dlqs: [] },
      groupId: uniqueName('alerts'),
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 100 },
      pollMs: 50,
      dlqWatch: { intervalMs: 0, threshold: 1, windowMs: 60_000 },
    });
    onTopic = await collectTopic(bed.kafka, bed.topics.alerts);
  });

  afterAll(async () => {
    await onTopic?.stop();
    await service?.stop();
    await internal?.close();
    await bed?.close();
  });

  it('refuses every non-public target when connecting, records it, and sends nothing', async () => {
    const names = Object.keys(targets());
    const alerts: Alert[] = names.map((name) => ({
      schemaVersion: 1,
      alertId: `threshold:2026-11:ssrf-${name}:limit_80`,
      type: 'spend_threshold',
      severity: 'warning',
      accountId: `ssrf-${name}`,
      message: 'reached 80 %',
      details: {},
      createdAt: new Date().toISOString(),
    }));
    await produce(
      bed.kafka,
      bed.topics.alerts,
      alerts.map((a) => ({ key: a.alertId, value: JSON.stringify(a) })),
    );
    const rows = await waitFor('every delivery recorded as abandoned', async () => {
      const result = await bed.clickhouse.query({
        query: `SELECT alert_id, attempt, outcome, error, url FROM billing.alert_deliveries
                WHERE alert_id IN {ids:Array(String)} ORDER BY alert_id, attempt`,
        query_params: { ids: alerts.map((a) => a.alertId) },
        format: 'JSONEachRow',
      });
      const all = await result.json<{
        alert_id: string;
        attempt: number;
        outcome: string;
        error: string;
        url: string;
      }>();
      return all.filter((r) => r.outcome === 'abandoned').length === alerts.length
        ? all
        : undefined;
    });
    // Refused for good at the first attempt (no retry can make an address public), with the
    // failure class only; the recorded URL is the origin.
    for (const row of rows) {
      expect(row, row.alert_id).toMatchObject({
        attempt: 1,
        outcome: 'abandoned',
        error: 'address not public',
      });
      expect(row.url).not.toContain('/x');
    }
    expect(internal.received).toEqual([]);

    // On-call hears of each, through the operations webhook, which is refused just the same.
    const failing = await waitFor('webhook_delivery_failing alerts', async () => {
      const found = onTopic.values<Alert>().filter((a) => a.type === 'webhook_delivery_failing');
      return found.length >= alerts.length ? found : undefined;
    });
    expect(new Set(failing.map((a) => a.details.lastError))).toEqual(
      new Set(['address not public']),
    );
    const opsAttempts = await waitFor('the operations deliveries refused', async () => {
      const result = await bed.clickhouse.query({
        query: `SELECT outcome, error FROM billing.alert_deliveries
                WHERE alert_id IN {ids:Array(String)}`,
        query_params: { ids: failing.map((a) => a.alertId) },
        format: 'JSONEachRow',
      });
      const all = await result.json<{ outcome: string; error: string }>();
      return all.length >= failing.length ? all : undefined;
    });
    expect(opsAttempts.every((r) => r.error === 'address not public')).toBe(true);
    expect(internal.received).toEqual([]);
    // Counted for on-call by failure class (counted just after each record is stored).
    await waitFor('the refusals counted', async () => {
      const text = await registry.metrics();
      const counted =
        /nanobill_alert_delivery_failures_total\{error="address not public"\} (\d+)/.exec(text);
      return Number(counted?.[1]) >= alerts.length + failing.length ? true : undefined;
    });
  });
});
