import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Testcontainers from 'testcontainers';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@nanobill/config';
import {
  migrate,
  openClickHouse,
  readMigrations,
  type ClickHouseClient,
} from '@nanobill/clickhouse';
import { TOPICS, decideRequest, pricingKey } from '@nanobill/contract';
import {
  accountSnapshots,
  createEventGenerator,
  runRouterSimulator,
} from '@nanobill/router-simulator';
import { quietLogger, tempDir, uniqueName, waitFor } from '@nanobill/testkit';
import { SERVICES, startPipeline } from '@nanobill/pipeline';
import { publishAccounts } from '@nanobill/router-simulator';
import { providersWithTruth, trueCost } from './fixtures/ground-truth.js';

// The production shape under test where a Docker engine exists: Kafka and a ClickHouse server in
// containers (testcontainers), the schema applied by `migrate` over HTTP, every service of
// `nanobill run` started as `--only` would start it (waiting for the migrations), the provider
// simulator in this process, a few thousand router events; then billing.usage holds one row per
// event and the ledger equals the simulator's ground truth to the nano-USD.
//
// Without a Docker engine (the development machines and CI have none) the suite is skipped and
// says why in one line. testcontainers is loaded only here, lazily: a failure to load it is a
// reason to skip too, never a crash of the file.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * @testcontainers/kafka drives Confluent's images (it starts /etc/confluent/docker/run); images
 * from 8.0.0 run in KRaft mode, no ZooKeeper. The official apache/kafka image that
 * docker-compose.yml runs is not supported by this module.
 */
const KAFKA_IMAGE = 'confluentinc/cp-kafka:8.0.0';
/** The image docker-compose.yml runs. */
const CLICKHOUSE_IMAGE = 'clickhouse/clickhouse-server:25.8';
const KAFKA_PLAINTEXT_PORT = 9093; // the module's listener for clients outside the container
const CLICKHOUSE_HTTP_PORT = 8123;
const DETECT_TIMEOUT_MS = 20_000;
const EVENTS = 3_000;

const firstLine = (error: unknown) =>
  ((error as Error)?.message ?? String(error)).split('\n')[0]!.trim();

/** Why the suite cannot run here, or undefined when a Docker engine answers. */
async function whyNoContainers(): Promise<string | undefined> {
  let testcontainers: typeof Testcontainers;
  try {
    testcontainers = await import('testcontainers');
  } catch (error) {
    const pkg = join(ROOT, 'node_modules/testcontainers/package.json');
    const { version, engines } = existsSync(pkg)
      ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string; engines?: { node?: string } })
      : {};
    const docker =
      process.env.DOCKER_HOST || existsSync('/var/run/docker.sock')
        ? ''
        : 'no Docker engine (DOCKER_HOST unset, no /var/run/docker.sock); ';
    return (
      `${docker}testcontainers ${version ?? '(not installed)'} does not load on Node ${process.versions.node}` +
      `${engines?.node ? ` (it needs node ${engines.node})` : ''}: ${firstLine(error)}`
    );
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      testcontainers.getContainerRuntimeClient(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${DETECT_TIMEOUT_MS / 1000} s`)),
          DETECT_TIMEOUT_MS,
        );
        timer.unref();
      }),
    ]);
    return undefined;
  } catch (error) {
    return `no Docker engine (${firstLine(error)})`;
  } finally {
    clearTimeout(timer);
  }
}

const skipReason = await whyNoContainers();
if (skipReason !== undefined) console.log(`containers suite skipped: ${skipReason}`);

async function rows<T>(clickhouse: ClickHouseClient, query: string): Promise<T[]> {
  const result = await clickhouse.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

async function count(clickhouse: ClickHouseClient, query: string): Promise<number> {
  return Number((await rows<{ n: string }>(clickhouse, query))[0]?.n ?? 0);
}

describe.skipIf(skipReason !== undefined)(
  'the pipeline against Kafka and a ClickHouse server in containers',
  () => {
    const cleanup: Array<() => Promise<unknown>> = [];
    afterAll(async () => {
      for (const step of cleanup.reverse())
        await step().catch((err: unknown) => console.error(err));
    });

    it('stores one usage row per event and a ledger equal to the simulator’s truth', async () => {
      const started = Date.now();
      const kafkaModule = await import('@testcontainers/kafka');
      const clickhouseModule = await import('@testcontainers/clickhouse');
      // CommonJS modules: their names, whether Node exposed them as named exports or not.
      const KafkaContainer = kafkaModule.KafkaContainer ?? kafkaModule.default.KafkaContainer;
      const ClickHouseContainer =
        clickhouseModule.ClickHouseContainer ?? clickhouseModule.default.ClickHouseContainer;
      const [kafkaStart, clickhouseStart] = await Promise.allSettled([
        new KafkaContainer(KAFKA_IMAGE).start(),
        new ClickHouseContainer(CLICKHOUSE_IMAGE)
          .withUsername('nanobill')
          .withPassword('nanobill')
          .start(),
      ]);
      for (const start of [kafkaStart, clickhouseStart]) {
        if (start.status === 'fulfilled') cleanup.push(() => start.value.stop());
      }
      if (kafkaStart.status === 'rejected') throw kafkaStart.reason;
      if (clickhouseStart.status === 'rejected') throw clickhouseStart.reason;
      const kafka = kafkaStart.value;
      const clickhouse = clickhouseStart.value;
      const brokers = `${kafka.getHost()}:${kafka.getMappedPort(KAFKA_PLAINTEXT_PORT)}`;
      const url = `http://nanobill:nanobill@${clickhouse.getHost()}:${clickhouse.getMappedPort(CLICKHOUSE_HTTP_PORT)}`;
      const dataDir = tempDir('nanobill-containers-');
      cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));

      // `nanobill migrate`'s step: every migration, once, on the server.
      const admin = openClickHouse({ url, dataDir });
      cleanup.push(() => admin.close());
      expect((await migrate(admin)).length).toBe(readMigrations().length);
      expect(await migrate(admin)).toEqual([]);

      // The cost endpoints of every provider, in this process, and the providers file pointing at
      // them (the chaos test's ground truth).
      const { simulator, providersFile } = await providersWithTruth(dataDir, { timeoutMs: 5_000 });
      cleanup.push(() => simulator.close());

      const config = loadConfig({
        KAFKA_BROKERS: brokers,
        CLICKHOUSE_URL: url,
        NANOBILL_DATA_DIR: dataDir,
        NANOBILL_PROVIDERS_FILE: providersFile,
        PORT: '0',
        NANOBILL_OPS_PORT: '0',
        NANOBILL_PRICING_SCHEDULE: '*/2 * * * * *',
      });
      // Every service, each as `nanobill run --only <service>` starts it on a server.
      const pipeline = await startPipeline({ config, logger: quietLogger(), only: [...SERVICES] });
      cleanup.push(() => pipeline.stop());
      const ready = (Date.now() - started) / 1000;

      // A few thousand router events (their twin stream is the ground truth), after the accounts.
      const options = {
        seed: 20261125,
        requestIdPrefix: `${uniqueName('containers')}-`,
        startTime: new Date(Date.now() - 10 * 60_000),
        eventsPerSecondOfSimTime: 1_000,
      };
      const events = createEventGenerator(options).take(EVENTS);
      const snapshots = accountSnapshots(
        createEventGenerator(options),
        new Date(Date.now() - 3_600_000),
      );
      await publishAccounts(pipeline.kafka, snapshots);
      await waitFor('the account snapshots', async () =>
        (await count(pipeline.reader, 'SELECT count() AS n FROM billing.account_snapshots')) >=
        snapshots.length
          ? true
          : undefined,
      );
      const { sent } = await runRouterSimulator({
        kafka: pipeline.kafka,
        topic: TOPICS.requests,
        ratePerSecond: 2_000,
        total: EVENTS,
        generator: createEventGenerator(options),
      });
      expect(sent).toBe(EVENTS);

      const priced = events.filter((e) => decideRequest(e).action === 'price');
      await waitFor(
        'every event stored and every priced request in the ledger',
        async () =>
          (await count(pipeline.reader, 'SELECT count() AS n FROM billing.usage')) >= EVENTS &&
          (await count(pipeline.reader, 'SELECT count() AS n FROM billing.ledger')) >= priced.length
            ? true
            : undefined,
        180_000,
        500,
      );

      // billing.usage: one row per event, nothing else.
      const usage = await rows<{ request_id: string }>(
        pipeline.reader,
        'SELECT request_id FROM billing.usage',
      );
      expect(usage.length).toBe(EVENTS);
      expect(new Set(usage.map((r) => r.request_id))).toEqual(
        new Set(events.map((e) => e.requestId)),
      );

      // The ledger: one row per priced request, each at its true cost, written once.
      const byRequest = new Map(events.map((e) => [e.requestId, e]));
      const ledger = await rows<{
        provider: string;
        provider_request_id: string;
        request_id: string;
        cost_nano_usd: string;
      }>(
        pipeline.reader,
        'SELECT provider, provider_request_id, request_id, cost_nano_usd FROM billing.ledger',
      );
      expect(ledger.length).toBe(priced.length);
      expect(new Set(ledger.map((r) => pricingKey(r.provider, r.provider_request_id)))).toEqual(
        new Set(priced.map((e) => pricingKey(e.provider, e.providerRequestId!))),
      );
      const wrong = ledger.filter((r) => {
        const e = byRequest.get(r.request_id);
        return e === undefined || BigInt(r.cost_nano_usd) !== trueCost(e);
      });
      expect(wrong.slice(0, 10), `${wrong.length} ledger rows off the truth`).toEqual([]);
      const truthSum = priced.reduce((sum, e) => sum + trueCost(e), 0n);
      const [total] = await rows<{ s: string }>(
        pipeline.reader,
        'SELECT toString(sum(toInt128(cost_nano_usd))) AS s FROM billing.ledger',
      );
      expect(BigInt(total!.s), 'SELECT sum(toInt128(cost_nano_usd)) FROM billing.ledger').toBe(
        truthSum,
      );
      const [raw] = await rows<{ n: string; keys: string }>(
        pipeline.reader,
        'SELECT count() AS n, uniqExact(provider, provider_request_id) AS keys FROM billing.ledger_entries',
      );
      expect(raw!.n, 'raw ledger rows vs distinct keys').toBe(raw!.keys);

      console.log(
        `containers suite: ${KAFKA_IMAGE} + ${CLICKHOUSE_IMAGE}, ready in ${ready.toFixed(1)} s; ` +
          `${EVENTS} events → ${usage.length} usage rows, ${ledger.length} ledger rows, ` +
          `Σ ${truthSum} nano-USD = simulator truth; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }, 600_000);
  },
);
