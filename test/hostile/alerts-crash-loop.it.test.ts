import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlerts } from '@nanobill/alerts';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { ALERT_ID_PATTERN, type Alert } from '@nanobill/contract';
import type { Kafka } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { startPricing, type PricingService } from '@nanobill/pricing';
import { parseProviders } from '@nanobill/providers';
import { startProviderSimulator, type ProviderSimulator } from '@nanobill/provider-simulator';
import {
  collectTopic,
  LOCAL_WEBHOOK_NETWORKS,
  produce,
  startReceiver,
  testBed,
  testWebhookSecrets,
  uniqueName,
  waitFor,
  type TestBed,
} from '@nanobill/testkit';
import { startBedAccounts } from '../fixtures/bed-services.js';
import { verifyWebhook, type WebhookSecretStore } from '@nanobill/webhooks';

// The attack: a router user puts anything (up to 256 characters) in X-HF-Bill-To. Pricing bills
// the user instead and raises an attribution_fallback alert whose id used to embed the header as
// is; the webhook sender refused such an id by throwing, nothing caught it, Node ended the
// alerts process, and the unfinished delivery was resumed at the next start: a crash loop that
// stopped every alert of every account. Here the whole path runs: event → pricing → alert →
// alerts service → the user's webhook.
const HOSTILE_BILL_TO: Record<string, string> = {
  nul: 'acme\u0000corp',
  newline: 'acme\r\nX-Injected: 1',
  rtl: 'acme\u202egnp.exe',
  emoji: '🏴‍☠️💸',
  nonAscii: 'é'.repeat(256),
  quotes: `"acme'; DROP TABLE billing.ledger; --`,
  spaces: ' ',
  colons: 'a:b:c',
  tilde: '~0123456789abcdef0123456789abcdef',
};
/**
 * A user id is the router's too, but the contract bounds it (1–96 of letters, digits, `-`, `_`,
 * `.`; anything else is dead-lettered before pricing): one case has the oddest valid one.
 */
const HOSTILE_USER = `..${'-_.'.repeat(31)}a`;

describe('hostile X-HF-Bill-To: the alerts pipeline does not crash', () => {
  const tag = uniqueName('hostile');
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);
  let bed: TestBed<'requests' | 'alerts' | 'accounts' | 'accountsDlq' | 'alertsRestart'>;
  let kafka: Kafka;
  let clickhouse: ClickHouseClient;
  let topics: typeof bed.topics;
  let simulator: ProviderSimulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let onTopic: Awaited<ReturnType<typeof collectTopic>>;
  let secrets: WebhookSecretStore;
  const stack: Array<{ stop(): Promise<void> }> = [];
  let pricing: PricingService;
  const hourAgo = new Date(Date.now() - 60 * 60_000).toISOString();
  const userOf = (name: string) => (name === 'hostileUser' ? HOSTILE_USER : `${tag}-${name}`);
  const freeOrg = `${tag}-nocredit`;

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    bed = await testBed({
      requests: 2,
      alerts: 2,
      accounts: { partitions: 1, compact: true },
      accountsDlq: 1,
      alertsRestart: 1,
    });
    ({ kafka, clickhouse, topics } = bed);
    receiver = await startReceiver();
    secrets = testWebhookSecrets(clickhouse);
    simulator = await startProviderSimulator({ providers: { 'sim-hostile': { token: 't' } } });
    process.env.NANOBILL_TEST_TOKEN_HOSTILE = 't';
    const providers = parseProviders({
      'sim-hostile': {
        costUrl: simulator.costUrl('sim-hostile'),
        tokenEnv: 'NANOBILL_TEST_TOKEN_HOSTILE',
      },
    });
    const { logger } = bed;
    stack.push(await startBedAccounts(bed));
    pricing = await startPricing({
      kafka,
      clickhouse,
      logger,
      metrics: createMetricsRegistry(),
      providers,
      topics: { requests: topics.requests, alerts: topics.alerts },
      groupId: uniqueName('pricing'),
      schedule: null,
      graceMs: 60_000,
    });
    stack.push(pricing);
    stack.push(
      await startAlerts({
        kafka,
        clickhouse,
        logger,
        metrics: createMetricsRegistry(),
        webhook: { ca: receiver.ca, timeoutMs: 2_000, allowNetworks: LOCAL_WEBHOOK_NETWORKS },
        secrets,
        topics: { alerts: topics.alerts, dlqs: [] },
        groupId: uniqueName('alerts'),
        retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 200 },
        pollMs: 50,
        dlqWatch: { intervalMs: 0, threshold: 1, windowMs: 60_000 },
      }),
    );
    onTopic = await collectTopic(kafka, topics.alerts);
  });

  afterAll(async () => {
    await onTopic?.stop();
    for (const part of stack.reverse()) await part.stop();
    await receiver?.close();
    await simulator?.close();
    await bed?.close();
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
  });

  it('logs and delivers the attribution_fallback alert of every hostile header, and goes on', async () => {
    const cases = [
      ...Object.entries(HOSTILE_BILL_TO),
      ['hostileUser', 'acme'],
      // A real org that does not accept it (free plan): the org is told too.
      ['namesOrg', freeOrg],
    ] as const;
    // Each case is a user of its own with a webhook, so every alert has a delivery to record.
    const snapshots = [
      ...cases.map(([name]) => ({
        schemaVersion: 1,
        accountId: userOf(name),
        kind: 'user',
        plan: 'pro',
        effectiveAt: hourAgo,
        alertWebhookUrl: receiver.url,
      })),
      {
        schemaVersion: 1,
        accountId: freeOrg,
        kind: 'org',
        plan: 'free',
        effectiveAt: hourAgo,
        seats: 1,
        members: [],
        alertWebhookUrl: `${receiver.url}/org`,
      },
    ];
    await produce(
      kafka,
      topics.accounts,
      snapshots.map((snapshot) => ({ key: snapshot.accountId, value: JSON.stringify(snapshot) })),
    );
    await waitFor('the snapshots stored', async () => {
      const result = await clickhouse.query({
        query: 'SELECT count() AS n FROM billing.account_snapshots',
        format: 'JSONEachRow',
      });
      const [row] = await result.json<{ n: string }>();
      return Number(row?.n) === snapshots.length ? true : undefined;
    });
    await produce(
      kafka,
      topics.requests,
      cases.map(([name, billTo]) => {
        const requestId = `${tag}-req-${name}`;
        return {
          key: requestId,
          value: JSON.stringify({
            schemaVersion: 1,
            requestId,
            timestamp: hourAgo,
            userId: userOf(name),
            billTo,
            provider: 'sim-hostile',
            model: 'openai/gpt-oss-120b',
            task: 'conversational',
            billingMode: 'routed',
            providerRequestId: `p-${requestId}`,
            status: 200,
          }),
        };
      }),
    );
    await waitFor('the requests pending', async () =>
      pricing.pendingCount() === cases.length ? true : undefined,
    );
    const report = await pricing.priceNow();
    expect(report.priced).toBe(cases.length);

    // One per user, and one more for the free org.
    const expected = cases.length + 1;
    const fallbacks = await waitFor('the attribution_fallback alerts', async () => {
      const alerts = onTopic.values<Alert>().filter((a) => a.type === 'attribution_fallback');
      return alerts.length >= expected ? alerts : undefined;
    });
    // Every alert logged once and delivered to its user's webhook, the attempt recorded.
    const deliveries = await waitFor(
      'every delivery recorded',
      async () => {
        const result = await clickhouse.query({
          query: `SELECT a.account_id AS account, d.outcome AS outcome, d.error AS error
                  FROM billing.alerts AS a
                  INNER JOIN billing.alert_deliveries AS d ON d.alert_id = a.alert_id
                  WHERE a.type = 'attribution_fallback'`,
          format: 'JSONEachRow',
        });
        const rows = await result.json<{ account: string; outcome: string; error: string }>();
        return rows.length >= expected ? rows : undefined;
      },
      30_000,
    );
    expect(crashes).toEqual([]);
    expect(new Set(deliveries.map((d) => d.account))).toEqual(
      new Set([...cases.map(([name]) => userOf(name)), freeOrg]),
    );
    expect(deliveries.every((d) => d.outcome === 'delivered')).toBe(true);
    for (const alert of fallbacks) {
      expect(alert.alertId).toMatch(ALERT_ID_PATTERN);
      expect(receiver.delivered(alert.alertId), alert.alertId).toBe(1);
      // Signed with the account's own secret, made on first use.
      const got = receiver.received.find((r) => r.alertId === alert.alertId)!;
      const own = (await secrets.read(alert.accountId!))!.current.secret;
      expect(verifyWebhook({ header: got.signature, rawBody: got.body, secrets: [own] })).toBe(
        true,
      );
    }

    // The user is not told the org's plan; the org is, about itself.
    const toUser = fallbacks.find((a) => a.accountId === userOf('namesOrg'))!;
    const toOrg = fallbacks.find((a) => a.accountId === freeOrg)!;
    expect(toUser.message).not.toMatch(/free|plan|member/);
    expect(toOrg.message).toMatch(/free plan/);
    expect(toOrg.details).not.toHaveProperty('requestId');
  });

  it('a delivery stored with a bad id before the upgrade is recorded as refused at restart, not a crash', async () => {
    // What the old code left behind: a logged alert whose id the sender refuses, unfinished.
    const badId = `attribution_fallback:2026-11:acme\u0000\r\n\u202e:${tag}`;
    const now = new Date().toISOString();
    await clickhouse.insert({
      table: 'billing.alert_log',
      format: 'JSONEachRow',
      values: [
        {
          alert_id: badId,
          type: 'attribution_fallback',
          severity: 'warning',
          account_id: userOf('nul'),
          provider: null,
          message: 'm',
          details: '{}',
          created_at: now,
          body: '{}',
          webhook_url: receiver.url,
        },
      ],
    });
    const restartTopic = topics.alertsRestart;
    const restarted = await startAlerts({
      kafka,
      clickhouse,
      logger: bed.logger,
      metrics: createMetricsRegistry(),
      webhook: { ca: receiver.ca, timeoutMs: 2_000, allowNetworks: LOCAL_WEBHOOK_NETWORKS },
      secrets,
      topics: { alerts: restartTopic, dlqs: [] },
      groupId: uniqueName('alerts'),
      pollMs: 50,
      dlqWatch: { intervalMs: 0, threshold: 1, windowMs: 60_000 },
    });
    try {
      const [row] = await waitFor('the resumed delivery recorded', async () => {
        const result = await clickhouse.query({
          query: `SELECT attempt, outcome, error FROM billing.alert_deliveries
                  WHERE alert_id = {id:String}`,
          query_params: { id: badId },
          format: 'JSONEachRow',
        });
        const rows = await result.json<{ attempt: number; outcome: string; error: string }>();
        return rows.length > 0 ? rows : undefined;
      });
      expect(row).toEqual({ attempt: 1, outcome: 'abandoned', error: 'invalid alert id' });
      expect(receiver.received.some((r) => r.body === '{}')).toBe(false);
      expect(crashes).toEqual([]);
    } finally {
      await restarted.stop();
    }
  });
});
