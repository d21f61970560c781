import { rmSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadConfig } from '@nanobill/config';
import { TOPICS, type AccountStatus, type RoutedRequestEvent } from '@nanobill/contract';
import { createToken } from '@nanobill/api';
import { createLogger } from '@nanobill/observability';
import { startBroker, stopBroker } from '@nanobill/kafka-broker';
import {
  freePortPair,
  produce,
  queryValue,
  quietLogger,
  tempDir,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startPipeline, type Pipeline } from '@nanobill/pipeline';

// Attack: the broker goes away long enough that kafkajs gives up on the consumers (seen in
// production: "KafkaJSNonRetriableError: Failed to find group coordinator"; here kafkajs' own
// `restartOnFailure` answers no, which is that same "no restart" outcome on demand: the natural
// trigger is a race of a few ms in the broker's shutdown). Before supervision, those consumers
// stayed dead while the process kept serving (a stale status view, no ingestion) and `/readyz`
// said ready. Now: `/readyz` is 503 naming each stopped consumer with the reason, the consumers
// come back once the broker does (new events stored, new statuses served, enforcement rebuilt
// and deciding again), and the restarts are counted.

const { Kafka, logLevel } = kafkajs;

interface Readiness {
  status: string;
  checks: Record<string, string>;
}

function status(accountId: string, state: AccountStatus['status']): AccountStatus {
  return {
    schemaVersion: 1,
    accountId,
    kind: 'org',
    plan: 'team',
    month: new Date().toISOString().slice(0, 7),
    status: state,
    reason: `set by the test: ${state}`,
    basis: 'none',
    spendNanoUsd: '0',
    pricedNanoUsd: '0',
    estimatedNanoUsd: '0',
    disabledProviders: [],
    updatedAt: new Date().toISOString(),
  };
}

function event(userId: string): RoutedRequestEvent {
  const requestId = uniqueName('outage');
  return {
    schemaVersion: 1,
    requestId,
    timestamp: new Date().toISOString(),
    userId,
    provider: 'groq',
    model: 'meta-llama/Llama-3.3-70B-Instruct',
    task: 'conversational',
    billingMode: 'routed',
    providerRequestId: `groq-${requestId}`,
    status: 200,
    usage: { inputTokens: 1_000, outputTokens: 500 },
  };
}

describe('supervision: a broker outage that kafkajs gives up on', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }, 120_000);

  it('/readyz names each stopped consumer until it runs again; the consumers resume; restarts counted', async () => {
    const brokerDir = tempDir('nanobill-supervision-kafka-');
    const dataDir = tempDir('nanobill-supervision-data-');
    cleanup.push(async () => {
      for (const dir of [brokerDir, dataDir]) rmSync(dir, { recursive: true, force: true });
    });
    // A broker of the test's own: stopping it disturbs no other test.
    const broker = { dataDir: brokerDir, port: await freePortPair() };
    const { brokers } = await startBroker(broker);
    cleanup.push(() => stopBroker(broker));

    const gaveUp: string[] = [];
    const kafka = new Kafka({
      brokers,
      clientId: 'supervision-test',
      logLevel: logLevel.NOTHING,
      retry: {
        initialRetryTime: 200,
        retries: 8,
        restartOnFailure: async (error) => {
          gaveUp.push(error.message);
          return false;
        },
      },
    });
    const config = loadConfig({
      KAFKA_BROKERS: brokers.join(','),
      NANOBILL_DATA_DIR: dataDir,
      PORT: '0',
      NANOBILL_OPS_PORT: '0',
      NANOBILL_REQUESTS_PARTITIONS: '2',
      NANOBILL_CONSUMER_RESTART_FIRST_MS: '500',
      NANOBILL_CONSUMER_RESTART_MAX_MS: '2000',
      // Its users have no snapshot: free users at once, not after the attribution grace.
      NANOBILL_ATTRIBUTION_GRACE_MS: '0',
    });
    const pipeline: Pipeline = await startPipeline({
      config,
      logger: process.env.DEBUG_OUTAGE ? createLogger({ level: 'info' }) : quietLogger(),
      only: ['ingest', 'enforcement', 'api'],
      kafka,
    });
    cleanup.push(() => pipeline.stop());

    // The API on PORT, /readyz and /metrics on the ops port.
    const api = `http://127.0.0.1:${pipeline.ports.api}`;
    const ops = `http://127.0.0.1:${pipeline.ports.ops}`;
    const { token } = await createToken(pipeline.reader, { kind: 'router', label: 'test' });
    const statusOf = async (accountId: string) => {
      const response = await request(`${api}/v1/accounts/${accountId}/status`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await response.body.text();
      return response.statusCode === 200 ? (JSON.parse(body) as AccountStatus) : undefined;
    };
    const readiness = async (): Promise<Readiness & { code: number }> => {
      const response = await request(`${ops}/readyz`);
      return { code: response.statusCode, ...((await response.body.json()) as Readiness) };
    };
    const usageRows = async () =>
      Number(await queryValue(pipeline.reader, 'SELECT count() FROM billing.usage'));
    const restarts = async () => {
      const text = await (await request(`${ops}/metrics`)).body.text();
      const counts: Record<string, number> = {};
      for (const [, group, value] of text.matchAll(
        /^nanobill_kafka_consumer_restarts_total\{group="([^"]+)",by="supervisor"\} (\d+)$/gm,
      )) {
        counts[group!] = Number(value);
      }
      return counts;
    };

    // Before: everything works.
    await produce(kafka, TOPICS.accountStatus, [
      { key: 'acme', value: JSON.stringify(status('acme', 'ok')) },
    ]);
    await produce(kafka, TOPICS.requests, [{ value: JSON.stringify(event('before-user')) }]);
    await waitFor('the first status served', async () =>
      (await statusOf('acme'))?.status === 'ok' ? true : undefined,
    );
    await waitFor('the first event stored', async () =>
      (await usageRows()) === 1 ? true : undefined,
    );
    await waitFor('enforcement to decide on the first event', async () =>
      (await statusOf('before-user')) ? true : undefined,
    );
    expect((await readiness()).code).toBe(200);

    // The outage, until kafkajs has given up on each consumer and /readyz names them.
    await stopBroker(broker);
    const stopped = [
      'kafka consumer nanobill-ingest',
      'account status view',
      'enforcement',
    ] as const;
    // What /readyz said about each consumer during the outage (its reason changes as restart
    // attempts go: "stopped by <error>; restarting", "restart attempt N failed: …", "reading …").
    const seen = new Map<string, Set<string>>();
    await waitFor(
      '/readyz to name every consumer stopped, with its reason',
      async () => {
        const ready = await readiness();
        expect(ready.code).toBe(503);
        for (const [name, reason] of Object.entries(ready.checks)) {
          if (!seen.has(name)) seen.set(name, new Set());
          seen.get(name)!.add(reason);
        }
        const named = (c: string) => [...(seen.get(c) ?? [])].some((r) => /^stopped/.test(r));
        return stopped.every(named) ? true : undefined;
      },
      180_000,
      250,
    );
    // Each reason names what stopped it: the crash, or why the last restart attempt failed.
    for (const component of stopped) {
      const reasons = [...seen.get(component)!].join(' | ');
      // e.g. KafkaJSConnectionError, or KafkaJSNumberOfRetriesExceeded from a restart's first
      // Kafka call (enforcement's wait for the account history).
      expect(reasons, reasons).toMatch(/stopped.*KafkaJS\w+/);
    }
    expect(gaveUp.length).toBeGreaterThan(0);

    // The broker comes back; nothing else is done to the process.
    await startBroker(broker);
    const back = new Date().toISOString();
    await produce(kafka, TOPICS.accountStatus, [
      { key: 'acme', value: JSON.stringify(status('acme', 'blocked')) },
    ]);
    await produce(kafka, TOPICS.requests, [{ value: JSON.stringify(event('after-user')) }]);
    // Served: that status, or the restarted enforcement's own correction of it (enforcement
    // reviews every published status when it starts): either way a record of after the outage.
    await waitFor(
      'a status published after the outage to be served',
      async () => ((await statusOf('acme'))!.updatedAt > back ? true : undefined),
      180_000,
      500,
    );
    await waitFor(
      'the event sent after the outage to be stored',
      async () => ((await usageRows()) === 2 ? true : undefined),
      180_000,
      500,
    );
    // Enforcement restarted (state rebuilt) decides on the new request: its status is served.
    await waitFor(
      'the restarted enforcement to publish a status for the new request',
      async () => ((await statusOf('after-user')) ? true : undefined),
      180_000,
      500,
    );
    const after = await waitFor(
      '/readyz to be ready again',
      async () => {
        const ready = await readiness();
        return ready.code === 200 ? ready : undefined;
      },
      180_000,
      1_000,
    );
    expect(after.checks).toEqual({ clickhouse: 'ok', kafka: 'ok' });

    const counted = await restarts();
    expect(counted['nanobill-ingest']).toBeGreaterThanOrEqual(1);
    expect(counted['nanobill-enforcement']).toBeGreaterThanOrEqual(1);
    expect(counted[`nanobill-view-${TOPICS.accountStatus}`]).toBeGreaterThanOrEqual(1);
  }, 600_000);
});
