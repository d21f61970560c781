import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@nanobill/contract';
import { ensureTopics } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import {
  produce,
  quietLogger,
  startReceiver,
  testClickHouse,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startAlerts } from '@nanobill/alerts';

// Attack: an alert whose id the webhook sender refuses to put in a header (here a non-ASCII
// character). The delivery attempt was a fire-and-forget promise (`void attempt(job)`): its
// rejection was unhandled, which ends a Node process at once (and fails this test run). Now the
// refusal is an attempt like any other: recorded as abandoned with the reason, and the other
// alerts are delivered.

const SECRET = 'hostile-webhook-secret-0123456789';

function opsAlert(alertId: string): Alert {
  return {
    schemaVersion: 1,
    alertId,
    type: 'dlq_growth',
    severity: 'warning',
    message: 'a dead-letter topic grew',
    details: { topic: 'somewhere' },
    createdAt: new Date().toISOString(),
  };
}

describe('alerts: a delivery that cannot even be attempted stops nothing', () => {
  const kafka = testKafka();
  const topics = { alerts: uniqueName('it-alerts'), dlqs: [] as string[] };
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let service: { stop(): Promise<void> };

  beforeAll(async () => {
    await ensureTopics(kafka, [{ topic: topics.alerts, numPartitions: 1 }]);
    ch = await testClickHouse();
    receiver = await startReceiver(SECRET);
    service = await startAlerts({
      kafka,
      clickhouse: ch.client,
      logger: quietLogger(),
      metrics: createMetricsRegistry(),
      webhook: { secret: SECRET, ca: receiver.ca, timeoutMs: 2_000 },
      opsWebhookUrl: `${receiver.url}/ops`,
      topics,
      groupId: uniqueName('alerts'),
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 200 },
      pollMs: 50,
      dlqWatch: { intervalMs: 0, threshold: 1, windowMs: 60_000 },
    });
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    await ch?.client.close();
  });

  it('records the refused attempt as abandoned and delivers the next alert', async () => {
    const refused = opsAlert(`dlq_growth:topic-é:${Date.now()}`);
    const fine = opsAlert(`dlq_growth:topic-e:${Date.now()}`);
    await produce(kafka, topics.alerts, [
      { key: 'refused', value: JSON.stringify(refused) },
      { key: 'fine', value: JSON.stringify(fine) },
    ]);
    await waitFor('the next alert delivered', async () =>
      receiver.delivered(fine.alertId) ? true : undefined,
    );
    const attempts = await waitFor('the refused attempt recorded', async () => {
      const result = await ch.client.query({
        query: `SELECT attempt, outcome, error FROM billing.alert_deliveries
                WHERE alert_id = {id:String}`,
        query_params: { id: refused.alertId },
        format: 'JSONEachRow',
      });
      const rows = await result.json<{ attempt: number; outcome: string; error: string }>();
      return rows.length > 0 ? rows : undefined;
    });
    expect(attempts).toEqual([
      { attempt: 1, outcome: 'abandoned', error: expect.stringMatching(/^not sent: alertId/) },
    ]);
  });
});
