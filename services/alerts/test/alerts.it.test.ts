import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertIdPart, type AccountSnapshot, type Alert } from '@nanobill/contract';
import { snapshotRow } from '@nanobill/accounts';
import { ensureTopics } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import {
  collectTopic,
  LOCAL_WEBHOOK_NETWORKS,
  produce,
  queryValue,
  quietLogger,
  sendBarrier,
  startReceiver,
  testClickHouse,
  testKafka,
  testWebhookSecrets,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startAlerts } from '../src/index.js';

const OPS_SECRET = 'it-ops-webhook-secret-0123456789';

function orgWithWebhook(accountId: string, url: string): AccountSnapshot {
  return {
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: 'team',
    effectiveAt: '2026-01-01T00:00:00.000Z',
    seats: 1,
    members: ['someone'],
    alertWebhookUrl: url,
  };
}

function threshold(accountId: string, kind: string): Alert {
  return {
    schemaVersion: 1,
    alertId: `threshold:2026-11:${accountId}:${kind}`,
    type: 'spend_threshold',
    severity: 'warning',
    accountId,
    message: `Month-to-date spend reached 80% of the spending limit of ${accountId}`,
    details: { threshold: kind, month: '2026-11' },
    createdAt: new Date().toISOString(),
  };
}

interface Attempt {
  alert_id: string;
  attempt: number;
  outcome: string;
  http_status: number | null;
  error: string;
}

describe('alert delivery to webhooks (real broker, real ClickHouse, HTTPS receivers)', () => {
  const kafka = testKafka();
  const topics = { alerts: uniqueName('it-alerts'), dlqs: [uniqueName('it-dlq')] };
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let flaky: Awaited<ReturnType<typeof startReceiver>>;
  let service: { stop(): Promise<void> };
  let onTopic: Awaited<ReturnType<typeof collectTopic>>;
  let secrets: ReturnType<typeof testWebhookSecrets>;
  const publish = (alerts: Alert[]) =>
    produce(
      kafka,
      topics.alerts,
      alerts.map((a) => ({ key: a.alertId, value: JSON.stringify(a) })),
    );
  const attempts = async (alertId: string) => {
    const result = await ch.client.query({
      query: `SELECT alert_id, attempt, outcome, http_status, error FROM billing.alert_deliveries
              WHERE alert_id = {id:String} ORDER BY attempt`,
      query_params: { id: alertId },
      format: 'JSONEachRow',
    });
    return result.json<Attempt>();
  };

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic: topics.alerts, numPartitions: 2 },
      { topic: topics.dlqs[0]!, numPartitions: 1 },
    ]);
    ch = await testClickHouse();
    // Each account's secret made as the settings API makes it (the first webhook URL); the
    // operations webhook has its own. The receivers verify with them.
    secrets = testWebhookSecrets(ch.client);
    const of = async (account: string) => (await secrets.ensure(account)).secret;
    receiver = await startReceiver([await of('acme'), await of('initech'), OPS_SECRET]);
    flaky = await startReceiver(await of('umbrella'));
    await ch.client.insert({
      table: 'billing.account_snapshots',
      format: 'JSONEachRow',
      values: [
        orgWithWebhook('acme', receiver.url),
        orgWithWebhook('umbrella', flaky.url),
        orgWithWebhook('initech', `${receiver.url}/failing`),
      ].map(snapshotRow),
    });
    service = await startAlerts({
      kafka,
      clickhouse: ch.client,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      // Both receivers' self-signed certificates, as one PEM bundle.
      webhook: {
        ca: `${receiver.ca}\n${flaky.ca}`,
        timeoutMs: 2_000,
        allowNetworks: LOCAL_WEBHOOK_NETWORKS,
      },
      secrets,
      opsWebhook: { url: `${receiver.url}/ops`, secret: OPS_SECRET },
      topics,
      groupId: uniqueName('alerts'),
      retry: { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 400 },
      pollMs: 50,
      dlqWatch: { intervalMs: 300, threshold: 1, windowMs: 60 * 60_000 },
    });
    onTopic = await collectTopic(kafka, topics.alerts);
  }, 120_000);

  afterAll(async () => {
    await onTopic?.stop();
    await service?.stop();
    await receiver?.close();
    await flaky?.close();
    await ch?.client.close();
  });

  it('delivers an alert once, signed over the raw body, even when it is published twice', async () => {
    const alert = threshold('acme', 'limit_80');
    await publish([alert]);
    await publish([alert]); // a re-sent alert (same deterministic id)
    await waitFor('delivery', async () => (receiver.delivered(alert.alertId) ? true : undefined));
    await waitFor('recorded', async () =>
      (await attempts(alert.alertId)).length ? true : undefined,
    );
    // A barrier behind the re-sent alert on every partition: once it is delivered, a wrong
    // second delivery would have been made already.
    const barrier = await sendBarrier(kafka, topics.alerts, (p) => {
      const a = threshold('acme', `barrier-${p}`);
      return { key: a.alertId, value: JSON.stringify(a) };
    });
    await waitFor('the barrier delivered', async () =>
      barrier.every((m) => receiver.delivered(m.key) > 0) ? true : undefined,
    );
    const got = receiver.received.filter((r) => r.alertId === alert.alertId);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ verified: true, attempt: 1, body: JSON.stringify(alert) });
    expect(await attempts(alert.alertId)).toEqual([
      { alert_id: alert.alertId, attempt: 1, outcome: 'delivered', http_status: 200, error: '' },
    ]);
    expect(
      await queryValue(
        ch.client,
        `SELECT count() FROM billing.alerts WHERE alert_id = '${alert.alertId}'`,
      ),
    ).toBe('1');
  });

  it('retries while the receiver is down, then delivers once it is back', async () => {
    await flaky.down();
    const alert = threshold('umbrella', 'limit_100');
    await publish([alert]);
    await waitFor('two failed attempts', async () =>
      (await attempts(alert.alertId)).length >= 2 ? true : undefined,
    );
    await flaky.up();
    await waitFor(
      'delivered after the outage',
      async () => (flaky.delivered(alert.alertId) ? true : undefined),
      10_000,
    ).catch(async (e) => {
      console.log(JSON.stringify(await attempts(alert.alertId)), flaky.received.length);
      throw e;
    });
    const rows = await waitFor('delivery recorded', async () => {
      const all = await attempts(alert.alertId);
      return all.at(-1)?.outcome === 'delivered' ? all : undefined;
    });
    const failed = rows.slice(0, -1);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const row of failed) {
      expect(row).toMatchObject({
        outcome: 'retrying',
        http_status: null,
        error: 'connection refused',
      });
    }
    expect(rows.map((r) => r.attempt)).toEqual(rows.map((_, i) => i + 1));
    expect(flaky.received.filter((r) => r.alertId === alert.alertId)).toHaveLength(1);
    expect(flaky.received.every((r) => r.verified)).toBe(true);
  });

  it('records every failure of a receiver that always fails, raises an operations alert, and keeps going', async () => {
    receiver.answerWith(500);
    const alert = threshold('initech', 'limit_50');
    try {
      await publish([alert]);
      const rows = await waitFor('abandoned', async () => {
        const all = await attempts(alert.alertId);
        return all.at(-1)?.outcome === 'abandoned' ? all : undefined;
      });
      expect(rows.map((r) => [r.attempt, r.outcome, r.http_status])).toEqual([
        [1, 'retrying', 500],
        [2, 'retrying', 500],
        [3, 'retrying', 500],
        [4, 'retrying', 500],
        [5, 'retrying', 500],
        [6, 'abandoned', 500],
      ]);
    } finally {
      receiver.answerWith(200);
    }
    const failing = await waitFor('webhook_delivery_failing on the topic', async () =>
      onTopic
        .values<Alert>()
        .find((a) => a.alertId === `webhook_delivery_failing:${alertIdPart(alert.alertId)}`),
    );
    expect(failing).toMatchObject({ type: 'webhook_delivery_failing', accountId: 'initech' });
    // On-call learns the webhook's origin, never its path (often a secret of the org's).
    expect(failing.details).toMatchObject({ origin: new URL(receiver.url).origin });
    expect(JSON.stringify(failing)).not.toContain('/failing');
    // It goes to on-call's webhook, and the pipeline still delivers the next alert.
    await waitFor('operations webhook got it', async () =>
      receiver.delivered(failing.alertId) ? true : undefined,
    );
    const next = threshold('acme', 'limit_100');
    await publish([next]);
    await waitFor('next alert delivered', async () =>
      receiver.delivered(next.alertId) ? true : undefined,
    );
  });

  it('sends operations alerts to the operations webhook and alerts when a DLQ grows', async () => {
    const unpriced: Alert = {
      schemaVersion: 1,
      alertId: `unpriced_requests:groq:${uniqueName('t')}`,
      type: 'unpriced_requests',
      severity: 'critical',
      provider: 'groq',
      message: '3 requests of groq passed the pricing deadline without a cost',
      details: { count: 3 },
      createdAt: new Date().toISOString(),
    };
    await publish([unpriced]);
    await waitFor('ops delivery', async () =>
      receiver.delivered(unpriced.alertId) ? true : undefined,
    );
    // The log, which finance reads, keeps the operations webhook's origin only: its path can be
    // a credential. The delivery went to the configured URL.
    expect(
      await queryValue(
        ch.client,
        `SELECT webhook_url FROM billing.alerts WHERE alert_id = '${unpriced.alertId}'`,
      ),
    ).toBe(new URL(receiver.url).origin);

    await produce(kafka, topics.dlqs[0]!, [{ value: 'not json' }, { value: '{}' }]);
    const growth = await waitFor('dlq_growth alert', async () =>
      onTopic.values<Alert>().find((a) => a.type === 'dlq_growth'),
    );
    expect(growth.details).toMatchObject({ topic: topics.dlqs[0], grew: '2' });
    await waitFor('dlq alert delivered', async () =>
      receiver.delivered(growth.alertId) ? true : undefined,
    );
  });

  it('resumes an unfinished operations delivery to the configured URL, the log holding its origin only', async () => {
    const alertId = `unpriced_requests:groq:${uniqueName('resumed')}`;
    const alert: Alert = {
      schemaVersion: 1,
      alertId,
      type: 'unpriced_requests',
      severity: 'critical',
      provider: 'groq',
      message: 'logged by a process that died before delivering it',
      details: { count: 1 },
      createdAt: new Date().toISOString(),
    };
    await ch.client.insert({
      table: 'billing.alert_log',
      format: 'JSONEachRow',
      values: [
        {
          alert_id: alertId,
          type: alert.type,
          severity: alert.severity,
          account_id: null,
          provider: 'groq',
          message: alert.message,
          details: '{}',
          created_at: alert.createdAt,
          body: JSON.stringify(alert),
          webhook_url: new URL(receiver.url).origin,
        },
      ],
    });
    const restartTopic = uniqueName('it-alerts-restart');
    await ensureTopics(kafka, [{ topic: restartTopic, numPartitions: 1 }]);
    const restarted = await startAlerts({
      kafka,
      clickhouse: ch.client,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      webhook: { ca: receiver.ca, timeoutMs: 2_000, allowNetworks: LOCAL_WEBHOOK_NETWORKS },
      secrets,
      opsWebhook: { url: `${receiver.url}/ops`, secret: OPS_SECRET },
      topics: { alerts: restartTopic, dlqs: [] },
      groupId: uniqueName('alerts'),
      pollMs: 50,
      dlqWatch: { intervalMs: 0, threshold: 1, windowMs: 60_000 },
    });
    try {
      await waitFor('the resumed operations delivery', async () =>
        receiver.delivered(alertId) ? true : undefined,
      );
      expect(receiver.received.find((r) => r.alertId === alertId)).toMatchObject({
        verified: true,
        body: JSON.stringify(alert),
        path: new URL(`${receiver.url}/ops`).pathname,
      });
    } finally {
      await restarted.stop();
    }
  });
});
