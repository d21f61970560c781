import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotRow } from '@nanobill/accounts';
import { startAlerts } from '@nanobill/alerts';
import type { Alert } from '@nanobill/contract';
import { createMetricsRegistry } from '@nanobill/observability';
import {
  LOCAL_WEBHOOK_NETWORKS,
  produce,
  startReceiver,
  testBed,
  testWebhookSecrets,
  uniqueName,
  waitFor,
  type Received,
  type TestBed,
} from '@nanobill/testkit';
import { signatureHeader, verifyWebhook, type WebhookSecretStore } from '@nanobill/webhooks';

// The attacks: with one deployment-wide secret, any org admin (who receives signed alerts, and
// was given that secret to verify them) could sign a forged alert for another org's receiver;
// and with a signature over the body only, a captured delivery replayed forever. Each account
// now has its own secret, and the signature covers a timestamp.
const HOUR_MS = 60 * 60_000;

describe('each account signs with its own secret (real broker, real ClickHouse)', () => {
  let bed: TestBed<'alerts'>;
  let secrets: WebhookSecretStore;
  const receivers: Record<string, Awaited<ReturnType<typeof startReceiver>>> = {};
  const known: Record<string, string> = {};
  let service: { stop(): Promise<void> };
  // The store's clock: moved past a rotation's overlap in the last test.
  let clock = Date.now();
  let n = 0;

  const alertFor = (org: string): Alert => ({
    schemaVersion: 1,
    alertId: `threshold:2026-11:${org}:limit_${[50, 80, 100][n++ % 3]}-${n}`,
    type: 'spend_threshold',
    severity: 'warning',
    accountId: org,
    message: `${org} reached a threshold`,
    details: { n },
    createdAt: new Date().toISOString(),
  });
  const deliver = async (alert: Alert): Promise<Received> => {
    await produce(bed.kafka, bed.topics.alerts, [
      { key: alert.alertId, value: JSON.stringify(alert) },
    ]);
    const receiver = receivers[alert.accountId!]!;
    return waitFor(`${alert.alertId} delivered`, async () =>
      receiver.received.find((r) => r.alertId === alert.alertId),
    );
  };
  const verifies = (got: Received, withSecrets: string[], now?: Date) =>
    verifyWebhook({ header: got.signature, rawBody: got.body, secrets: withSecrets, now });

  beforeAll(async () => {
    bed = await testBed({ alerts: 1 });
    secrets = testWebhookSecrets(bed.clickhouse, { now: () => new Date(clock) });
    for (const org of ['org-a', 'org-b']) {
      receivers[org] = await startReceiver();
      // What each org's admin was shown when setting the webhook URL.
      known[org] = (await secrets.ensure(org)).secret;
    }
    await bed.clickhouse.insert({
      table: 'billing.account_snapshots',
      format: 'JSONEachRow',
      values: Object.entries(receivers).map(([org, receiver]) =>
        snapshotRow({
          schemaVersion: 1,
          accountId: org,
          kind: 'org',
          plan: 'team',
          effectiveAt: '2026-01-01T00:00:00.000Z',
          seats: 1,
          members: [],
          alertWebhookUrl: receiver.url,
        }),
      ),
    });
    service = await startAlerts({
      kafka: bed.kafka,
      clickhouse: bed.clickhouse,
      logger: bed.logger,
      metrics: createMetricsRegistry(),
      webhook: {
        ca: Object.values(receivers)
          .map((r) => r.ca)
          .join('\n'),
        timeoutMs: 2_000,
        allowNetworks: LOCAL_WEBHOOK_NETWORKS,
      },
      secrets,
      topics: { alerts: bed.topics.alerts, dlqs: [] },
      groupId: uniqueName('alerts'),
      pollMs: 50,
      dlqWatch: { intervalMs: 0, threshold: 1, windowMs: 60_000 },
    });
  });

  afterAll(async () => {
    await service?.stop();
    for (const receiver of Object.values(receivers)) await receiver.close();
    await bed?.close();
  });

  it("org A's secret cannot verify org B's alert, nor sign one B accepts", async () => {
    const got = await deliver(alertFor('org-b'));
    expect(known['org-a']).not.toBe(known['org-b']);
    expect(verifies(got, [known['org-b']!])).toBe(true);
    expect(verifies(got, [known['org-a']!])).toBe(false);
    // A forgery by org A: an alert body for B, signed now with the only secret A has.
    const body = JSON.stringify({ ...JSON.parse(got.body), message: 'pay this invoice: …' });
    const forged = signatureHeader({
      secrets: [known['org-a']!],
      rawBody: body,
      timestamp: Math.floor(Date.now() / 1000),
    });
    expect(verifyWebhook({ header: forged, rawBody: body, secrets: [known['org-b']!] })).toBe(
      false,
    );
  });

  it('a captured delivery replayed later than the tolerance is refused', async () => {
    const got = await deliver(alertFor('org-a'));
    const t = Number(/t=(\d+)/.exec(got.signature)![1]);
    expect(verifies(got, [known['org-a']!], new Date(t * 1000))).toBe(true);
    expect(verifies(got, [known['org-a']!], new Date((t + 301) * 1000))).toBe(false);
  });

  it('after a rotation both secrets verify during the overlap, then only the new one', async () => {
    const rotated = await secrets.rotate('org-b', HOUR_MS);
    const during = await deliver(alertFor('org-b'));
    expect(during.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifies(during, [known['org-b']!])).toBe(true); // a receiver not updated yet
    expect(verifies(during, [rotated.secret])).toBe(true); // an updated one
    expect(verifies(during, [known['org-a']!])).toBe(false);

    clock += HOUR_MS;
    const after = await deliver(alertFor('org-b'));
    expect(after.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifies(after, [rotated.secret])).toBe(true);
    expect(verifies(after, [known['org-b']!])).toBe(false);
  });
});
