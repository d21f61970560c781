import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { AccountSnapshot, AccountStatus, Alert, RoutedRequestEvent } from '@nanobill/contract';
import { openClickHouse } from '@nanobill/clickhouse';
import { ensureTopics } from '@nanobill/kafka';
import { startProviderSimulator } from '@nanobill/provider-simulator';
import { generateSecretsKey } from '@nanobill/webhooks';
import {
  collectTopic,
  produce,
  spawnTs,
  startReceiver,
  tempDir,
  testKafka,
  uniqueName,
  waitFor,
  type ChildRun,
} from '@nanobill/testkit';

const CHILD = fileURLToPath(new URL('./fixtures/limits-child.ts', import.meta.url));
const MODEL = 'meta-llama/Llama-3.3-70B-Instruct';
const THRESHOLDS = ['limit_50', 'limit_80', 'limit_100'];

function event(i: number, at: Date): RoutedRequestEvent {
  const requestId = `kill-${i}-${at.getTime()}`;
  return {
    schemaVersion: 1,
    requestId,
    timestamp: at.toISOString(),
    userId: 'alice',
    billTo: 'acme',
    provider: 'groq',
    model: MODEL,
    task: 'conversational',
    billingMode: 'routed',
    providerRequestId: `groq-${requestId}`,
    status: 200,
    usage: { inputTokens: 1_000, outputTokens: 500 }, // $0.00125 at the published price
  };
}

/** Waits for the child's 'ready'; returns the account's webhook secret it printed. */
async function ready(run: ChildRun): Promise<string> {
  let out = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(
    'the child to be ready',
    async () => {
      if (run.child.exitCode !== null) throw new Error((await run.exited).stderr);
      return out.includes('ready') ? true : undefined;
    },
    90_000,
  );
  const secret = /^webhook-secret (\S+)$/m.exec(out)?.[1];
  if (secret === undefined) throw new Error('the child printed no webhook secret');
  return secret;
}

describe('limits: SIGKILL between a threshold crossing and its webhook delivery', () => {
  it('delivers each threshold alert exactly once, signed, after the restart', async () => {
    const kafka = testKafka();
    const topics = Object.fromEntries(
      ['REQUESTS', 'REQUESTS_DLQ', 'ACCOUNTS', 'ACCOUNTS_DLQ', 'STATUS', 'ALERTS'].map((t) => [
        `TOPIC_${t}`,
        uniqueName(`it-${t.toLowerCase()}`),
      ]),
    );
    await ensureTopics(
      kafka,
      Object.values(topics).map((topic) => ({ topic, numPartitions: 2 })),
    );
    const receiver = await startReceiver();
    receiver.answerWith(503); // the org's receiver is failing when the limit is crossed
    const simulator = await startProviderSimulator({
      providers: {
        groq: {
          token: 'token-groq',
          models: [{ id: MODEL, pricing: { input: 0.5, output: 1.5 } }],
        },
      },
    });
    const dataDir = tempDir();
    const providersFile = join(dataDir, 'providers.json');
    writeFileSync(
      providersFile,
      JSON.stringify({
        groq: {
          costUrl: simulator.costUrl('groq'),
          modelsUrl: simulator.modelsUrl('groq'),
          tokenEnv: 'NANOBILL_KILL_TEST_TOKEN',
        },
      }),
    );
    const caFile = join(dataDir, 'receiver-ca.pem');
    writeFileSync(caFile, receiver.ca);
    const env = {
      ...process.env,
      ...topics,
      DATA_DIR: join(dataDir, 'clickhouse'),
      NANOBILL_PROVIDERS_FILE: providersFile,
      NANOBILL_KILL_TEST_TOKEN: 'token-groq',
      GROUP: uniqueName('limits-kill'),
      SECRETS_KEY: generateSecretsKey(),
      WEBHOOK_ACCOUNT: 'acme',
      WEBHOOK_CA_FILE: caFile,
      EXPECTED_SNAPSHOTS: '2',
    };
    const since = new Date(Date.now() - 60_000).toISOString();
    const snapshots: AccountSnapshot[] = [
      {
        schemaVersion: 1,
        accountId: 'acme',
        kind: 'org',
        plan: 'team',
        effectiveAt: since,
        seats: 1,
        members: ['alice'],
        spendingLimitNanoUsd: 1_000_000_000,
        alertWebhookUrl: receiver.url,
      },
      { schemaVersion: 1, accountId: 'alice', kind: 'user', plan: 'pro', effectiveAt: since },
    ];
    await produce(
      kafka,
      topics.TOPIC_ACCOUNTS!,
      snapshots.map((s) => ({ key: s.accountId, value: JSON.stringify(s) })),
    );
    const statuses = await collectTopic(kafka, topics.TOPIC_STATUS!);
    const alerts = await collectTopic(kafka, topics.TOPIC_ALERTS!);
    const ids = THRESHOLDS.map((t) => `threshold:${since.slice(0, 7)}:acme:${t}`);
    try {
      const first = spawnTs(CHILD, env);
      const secret = await ready(first);
      receiver.useSecrets([secret]);
      // $1.125 of requests: past 50 %, 80 % and 100 % of the $1.00 limit.
      const now = new Date();
      await produce(
        kafka,
        topics.TOPIC_REQUESTS!,
        Array.from({ length: 900 }, (_, i) => {
          const e = event(i, now);
          return { key: e.requestId, value: JSON.stringify(e) };
        }),
      );
      // Each alert was tried and refused twice: crossed, logged, not delivered. (A second attempt
      // comes only after the first is recorded, so the kill cannot fall before any record.)
      await waitFor('two attempts of each alert', async () =>
        ids.every((id) => receiver.received.filter((r) => r.alertId === id).length >= 2)
          ? true
          : undefined,
      );
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      expect(ids.map((id) => receiver.delivered(id))).toEqual([0, 0, 0]);

      receiver.answerWith(200);
      const second = spawnTs(CHILD, env);
      // Stored, so the same secret after the restart.
      expect(await ready(second)).toBe(secret);
      await waitFor('each alert delivered', async () =>
        ids.every((id) => receiver.delivered(id) > 0) ? true : undefined,
      );
      await sleep(3_000); // room for a duplicate to show up
      second.child.kill('SIGTERM');
      const stopped = await second.exited;
      expect(stopped.code, stopped.stderr).toBe(0);

      expect(ids.map((id) => receiver.delivered(id))).toEqual([1, 1, 1]);
      expect(receiver.received.every((r) => r.verified)).toBe(true);
      // Raised once each on billing.alerts.v1 too: the restart re-raised nothing.
      const raised = alerts.values<Alert>().filter((a) => a.accountId === 'acme');
      expect(raised.map((a) => a.alertId).sort()).toEqual([...ids].sort());
      const acme = statuses.values<AccountStatus>().filter((s) => s.accountId === 'acme');
      expect(acme.at(-1)?.status).toBe('blocked');
      expect(acme.filter((s) => s.status === 'blocked')).toHaveLength(1);

      const clickhouse = openClickHouse({ dataDir: env.DATA_DIR });
      try {
        const result = await clickhouse.query({
          query: `SELECT alert_id, countIf(outcome = 'delivered') AS delivered,
                         countIf(outcome = 'retrying') AS retried
                  FROM billing.alert_deliveries GROUP BY alert_id ORDER BY alert_id`,
          format: 'JSONEachRow',
        });
        const rows = await result.json<{ alert_id: string; delivered: string; retried: string }>();
        expect(rows.map((r) => [r.alert_id, r.delivered])).toEqual(
          [...ids].sort().map((id) => [id, '1']),
        );
        expect(rows.every((r) => Number(r.retried) >= 1)).toBe(true);
        console.log(
          `[limits-kill] attempts before delivery per alert: ${rows.map((r) => r.retried).join(', ')}; ` +
            `receiver saw ${receiver.received.length} requests, ${ids.length} answered 200`,
        );
      } finally {
        await clickhouse.close();
      }
    } finally {
      await statuses.stop();
      await alerts.stop();
      await receiver.close();
      await simulator.close();
    }
  }, 240_000);
});
