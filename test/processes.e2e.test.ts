import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '@nanobill/audit';
import { openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { TOPICS } from '@nanobill/contract';
import { createKafka, createProducer, type Kafka, type Producer } from '@nanobill/kafka';
import { startBroker, stopBroker } from '@nanobill/kafka-broker';
import {
  accountSnapshots,
  createEventGenerator,
  publishAccounts,
} from '@nanobill/router-simulator';
import { freePortPair, quietLogger, spawnTs, tempDir, waitFor } from '@nanobill/testkit';
import { ClickHouseServer } from './fixtures/chdb-server.js';
import { providersWithTruth, trueCost } from './fixtures/ground-truth.js';

// Issue 7 §1: every service as its own `nanobill run --only <service>` process, configured by
// the environment alone, on a ClickHouse server (the chdb server) and a broker of the test's own.
// The schema comes from `nanobill migrate` (services wait for it); readiness follows ClickHouse
// and Kafka; SIGTERM stops each cleanly.

const NANOBILL = fileURLToPath(new URL('../cli/bin/nanobill.js', import.meta.url));
const SERVICES = ['ingest', 'accounts', 'pricing', 'statements', 'enforcement', 'alerts', 'api'];
const EVENTS = 3_000;

const dataDir = tempDir('nanobill-processes-');
const brokerDir = tempDir('nanobill-processes-kafka-');
const broker = { dataDir: brokerDir, port: await freePortPair() };
const chServer = new ClickHouseServer(dataDir);
const children = new Set<ChildProcess>();
const cleanup: Array<() => Promise<unknown>> = [];

interface Running {
  name: string;
  /** NANOBILL_OPS_PORT: /metrics, /healthz, /readyz. */
  opsPort: number;
  /** PORT: the API, listened on by the api service only. */
  port: number;
  run: ReturnType<typeof spawnTs>;
}

describe('each service alone: nanobill run --only <service> on a ClickHouse server', () => {
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => console.error(err));
    for (const dir of [dataDir, brokerDir]) rmSync(dir, { recursive: true, force: true });
  });

  let env: NodeJS.ProcessEnv;
  let clickhouse: ClickHouseClient;
  let clickhouseUrl: string;
  let kafka: Kafka;
  let producer: Producer;
  let routerToken: string;
  const running: Running[] = [];
  const nanobill = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const run = spawnTs(NANOBILL, { ...env, ...extra }, args);
    children.add(run.child);
    return run;
  };
  /** `nanobill run --only <name>`, with ports of its own (PORT is listened on by api alone). */
  const runOnly = async (name: string): Promise<Running> => {
    const port = await freePortPair();
    let opsPort = await freePortPair();
    while (opsPort === port) opsPort = await freePortPair();
    const extra = { PORT: String(port), NANOBILL_OPS_PORT: String(opsPort) };
    return { name, port, opsPort, run: nanobill(['run', '--only', name], extra) };
  };
  const readyz = async (port: number) => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    return response && { status: response.status, body: (await response.json()) as ReadyBody };
  };

  it('services started before the schema wait for nanobill migrate, then all become ready', async () => {
    const { brokers } = await startBroker(broker);
    cleanup.push(() => stopBroker(broker));
    clickhouseUrl = await chServer.start();
    cleanup.push(() => chServer.stop('SIGTERM'));
    clickhouse = openClickHouse({ url: clickhouseUrl, dataDir });
    cleanup.push(() => clickhouse.close());
    const { simulator, providersFile } = await providersWithTruth(dataDir, { timeoutMs: 2_000 });
    cleanup.push(() => simulator.close());
    env = {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      CLICKHOUSE_URL: clickhouseUrl,
      NANOBILL_DATA_DIR: dataDir,
      NANOBILL_PROVIDERS_FILE: providersFile,
      NANOBILL_PRICING_SCHEDULE: '*/2 * * * * *',
      LOG_LEVEL: 'warn',
    };

    for (const name of SERVICES) running.push(await runOnly(name));
    // Nothing listens while the schema is missing: each service logs that it waits.
    let firstLog = '';
    running[0]!.run.child.stdout!.on('data', (chunk: Buffer) => (firstLog += chunk.toString()));
    await waitFor('a service waiting for the schema', async () =>
      firstLog.includes('waiting for nanobill migrate') ? true : undefined,
    );
    expect(await readyz(running[0]!.opsPort)).toBeUndefined();

    const migrated = await nanobill(['migrate']).exited;
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(
      /^applied 0001_usage, .*0009_unpriced_alert_id, 0010_webhook_secrets, 0011_money_sums_int128(, \d{4}_[a-z0-9_]+)*\ntopics (created: [a-z0-9., -]+|up to date)\n$/,
    );
    expect((await nanobill(['migrate']).exited).stdout).toBe(
      'schema up to date\ntopics up to date\n',
    );

    for (const service of running) {
      await waitFor(
        `${service.name} to be ready`,
        async () => ((await readyz(service.opsPort))?.status === 200 ? true : undefined),
        90_000,
        200,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}: ${service.run.child.stderr?.read() ?? ''}`);
      });
    }
  });

  it('router traffic becomes usage rows and ledger rows at their true cost', async () => {
    kafka = createKafka({
      brokers: env.KAFKA_BROKERS!.split(','),
      clientId: 'processes-test',
      logger: quietLogger(),
    });
    producer = createProducer(kafka);
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    // An hour ago: past the attribution grace period, so pricing does not wait.
    const start = Date.now() - 3_600_000;
    const generator = createEventGenerator({
      seed: 7,
      users: 200,
      orgs: 20,
      startTime: new Date(start),
      eventsPerSecondOfSimTime: EVENTS / 600,
    });
    const events = generator.take(EVENTS);
    const snapshots = accountSnapshots(generator, new Date(start - 86_400_000));
    await publishAccounts(kafka, snapshots);
    await waitFor('the snapshots stored', async () =>
      Number(await value('SELECT count() FROM billing.account_snapshots')) >= snapshots.length
        ? true
        : undefined,
    );
    await producer.send({
      topic: TOPICS.requests,
      acks: -1,
      messages: events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
    });
    const reachable = events.filter(
      (e) => e.billingMode === 'routed' && e.providerRequestId !== undefined,
    );
    await waitFor(
      'every event stored and every reachable one priced',
      async () =>
        Number(await value('SELECT count() FROM billing.usage')) === EVENTS &&
        Number(await value('SELECT count() FROM billing.ledger')) === reachable.length
          ? true
          : undefined,
      120_000,
      500,
    );
    const byRequest = new Map(events.map((e) => [e.requestId, e]));
    const ledger = await rows<{ request_id: string; cost_nano_usd: string }>(
      'SELECT request_id, cost_nano_usd FROM billing.ledger',
    );
    const wrong = ledger.filter(
      (r) => BigInt(r.cost_nano_usd) !== trueCost(byRequest.get(r.request_id)!),
    );
    expect(wrong.slice(0, 5), `${wrong.length} ledger rows off`).toEqual([]);
    const total = ledger.reduce((sum, r) => sum + BigInt(r.cost_nano_usd), 0n);
    const truth = reachable.reduce((sum, e) => sum + trueCost(e), 0n);
    expect(total).toBe(truth);
    console.log(
      `processes: ${SERVICES.length} services, ${EVENTS} events, ${ledger.length} priced, Σ ${total} nano-USD = truth`,
    );

    // And the books agree with themselves: `nanobill audit` on the same server, here without the
    // enforcement service (it runs in a process of its own), which it says.
    const month = new Date(start).toISOString().slice(0, 7);
    const audited = await nanobill(['audit', '--month', month, '--format', 'json']).exited;
    const report = JSON.parse(audited.stdout) as AuditReport;
    expect(
      report.results.filter((r) => !r.ok && r.check !== 'enforcement'),
      audited.stdout,
    ).toEqual([]);
    expect(report.results.find((r) => r.check === 'enforcement')?.skipped).toBe(
      'enforcement not running here',
    );
    expect(audited.code, audited.stderr).toBe(0);
  });

  it('each service exposes its own metrics on its ops port, the API alone listens on PORT, with a token from nanobill tokens', async () => {
    const families: Record<string, string> = {
      ingest: 'nanobill_ingest_rows_written_total',
      pricing: 'nanobill_pricing_ledger_rows_total',
      enforcement: 'nanobill_enforcement_events_total',
      alerts: 'nanobill_alerts_total',
    };
    for (const service of running) {
      const text = await (await fetch(`http://127.0.0.1:${service.opsPort}/metrics`)).text();
      expect(text, service.name).toContain('nanobill_process_resident_memory_bytes');
      const family = families[service.name];
      if (family) expect(text, service.name).toContain(`# TYPE ${family} `);
      for (const [other, otherFamily] of Object.entries(families)) {
        if (other !== service.name) expect(text, service.name).not.toContain(otherFamily);
      }
      // PORT: the API and nothing else in the api process; nothing at all in the others.
      const onPort = await fetch(`http://127.0.0.1:${service.port}/metrics`).catch(() => undefined);
      expect(onPort?.status, service.name).toBe(service.name === 'api' ? 404 : undefined);
    }
    const created = await nanobill(['tokens', 'create', '--router']).exited;
    expect(created.code, created.stderr).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    routerToken = token;
    const { account, status } = await freshRequestStatus(8);
    expect(status.accountId).toBe(account);
  });

  it('a second enforcement and alerts process stand by; killing the active enforcement hands over', async () => {
    const standbys = [await runOnly('enforcement'), await runOnly('alerts')];
    for (const s of standbys) {
      await waitFor(`the standby ${s.name} to be ready`, async () =>
        (await readyz(s.opsPort))?.status === 200 ? true : undefined,
      );
    }
    const metricsOf = async (port: number) =>
      (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const family = '# TYPE nanobill_enforcement_events_total ';
    const active = running.find((s) => s.name === 'enforcement')!;
    const standby = standbys[0]!;
    const held = (value: 0 | 1) => `nanobill_lease_held{service="enforcement"} ${value}\n`;
    expect(await metricsOf(active.opsPort)).toContain(family);
    expect(await metricsOf(active.opsPort)).toContain(held(1));
    expect(await metricsOf(standby.opsPort)).not.toContain(family);
    expect(await metricsOf(standby.opsPort)).toContain(held(0));

    active.run.child.kill('SIGKILL');
    await active.run.exited;
    running.splice(running.indexOf(active), 1, standby);
    running.push(standbys[1]!);
    // The standby takes the lease once the killed holder's session expires, then starts afresh.
    await waitFor(
      'the standby to become active',
      async () => {
        const text = await metricsOf(standby.opsPort);
        return text.includes(family) && text.includes(held(1)) ? true : undefined;
      },
      90_000,
      500,
    );
    const { account, status } = await freshRequestStatus(9);
    expect(status.accountId).toBe(account);
  });

  it('readiness follows ClickHouse and Kafka: 503 naming the one that is down, 200 once back', async () => {
    const ingest = running.find((s) => s.name === 'ingest')!;
    await chServer.stop('SIGKILL');
    const noClickHouse = await readyz(ingest.opsPort);
    expect(noClickHouse?.status).toBe(503);
    expect(noClickHouse?.body.checks.clickhouse).not.toBe('ok');
    expect(noClickHouse?.body.checks.kafka).toBe('ok');
    await chServer.start(Number(new URL(clickhouseUrl).port));
    await waitFor('ready again after ClickHouse returns', async () =>
      (await readyz(ingest.opsPort))?.status === 200 ? true : undefined,
    );

    await stopBroker(broker);
    const noKafka = await readyz(ingest.opsPort);
    expect(noKafka?.status).toBe(503);
    expect(noKafka?.body.checks.kafka).not.toBe('ok');
    expect(noKafka?.body.checks.clickhouse).toBe('ok');
    await startBroker(broker);
    await waitFor(
      'ready again after Kafka returns',
      async () => ((await readyz(ingest.opsPort))?.status === 200 ? true : undefined),
      60_000,
      500,
    );
  });

  it('SIGTERM stops every service cleanly', async () => {
    const started = Date.now();
    for (const service of running) service.run.child.kill('SIGTERM');
    const stops = await Promise.all(
      running.map(async (service) => {
        const { code, stderr } = await service.run.exited;
        expect(code, `${service.name}: ${stderr.slice(-2_000)}`).toBe(0);
        return `${service.name} ${((Date.now() - started) / 1000).toFixed(1)} s`;
      }),
    );
    console.log(`processes: stopped after SIGTERM: ${stops.join(', ')}`);
  });

  /**
   * Enforcement decides a status at an account's first request as it streams in (older traffic
   * is not estimated): fresh requests of users paying for themselves, then the first one's
   * status through the API.
   */
  async function freshRequestStatus(seed: number) {
    const fresh = createEventGenerator({ seed, users: 50, orgs: 5, startTime: new Date() })
      .take(200)
      .filter((e) => e.billingMode === 'routed' && e.billTo === undefined);
    await producer.send({
      topic: TOPICS.requests,
      acks: -1,
      messages: fresh.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
    });
    const account = fresh[0]!.userId;
    const api = running.find((s) => s.name === 'api')!;
    const status = await waitFor(`a status for ${account}`, async () => {
      const response = await fetch(
        `http://127.0.0.1:${api.port}/v1/accounts/${encodeURIComponent(account)}/status`,
        { headers: { authorization: `Bearer ${routerToken}` } },
      );
      return response.status === 200
        ? ((await response.json()) as { accountId: string })
        : undefined;
    });
    return { account, status };
  }

  async function rows<T>(query: string): Promise<T[]> {
    return (await clickhouse.query({ query, format: 'JSONEachRow' })).json<T>();
  }
  async function value(query: string): Promise<unknown> {
    const result = await clickhouse.query({ query, format: 'JSONCompactEachRow' });
    return (await result.json<[unknown]>())[0]?.[0];
  }
});

interface ReadyBody {
  status: string;
  checks: Record<string, string>;
}
