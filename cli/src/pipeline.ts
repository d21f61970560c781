import { readFileSync } from 'node:fs';
import { TOPICS } from '@nanobill/contract';
import type { Config } from '@nanobill/config';
import {
  migrate,
  openClickHouse,
  waitForMigrations,
  type ClickHouseClient,
} from '@nanobill/clickhouse';
import { startAccounts } from '@nanobill/accounts-service';
import { startIngest } from '@nanobill/ingest';
import { startPricing } from '@nanobill/pricing';
import { startStatements } from '@nanobill/statements';
import { startEnforcement } from '@nanobill/enforcement-service';
import { startAlerts } from '@nanobill/alerts';
import { apiRoutes, startStatusView, TokenStore } from '@nanobill/api';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { loadProviders, type ProviderRegistry } from '@nanobill/providers';
import { createKafka, createProducer, ensureTopics, type Kafka } from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import {
  ComponentHealth,
  createMetricsRegistry,
  startOpsServer,
  type Logger,
  type Registry,
} from '@nanobill/observability';
import { startQueryServer } from './socket.js';
import { topicSpecs } from './topics.js';
import { kafkaSecurityOptions } from './kafka-security.js';
import { startSingleton } from './singleton.js';
import { webhookSecret } from './webhook-secret.js';

/** The workers `nanobill run` can start; `--only` picks among them. */
export const SERVICES = [
  'ingest',
  'accounts',
  'pricing',
  'statements',
  'enforcement',
  'alerts',
  'api',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/** How long a service started alone waits for `nanobill migrate` on a shared server. */
const MIGRATION_WAIT_MS = 5 * 60_000;

interface Stoppable {
  stop(): Promise<void>;
}

export interface Pipeline {
  brokers: string[];
  kafka: Kafka;
  registry: Registry;
  /** A connection of its own for readers in this process (progress lines, tests). */
  reader: ClickHouseClient;
  stop(): Promise<void>;
}

/**
 * Everything in one process: the broker when none is configured, migrations (or, for services
 * started alone on a ClickHouse server, waiting for `nanobill migrate`), topics, the chosen services, `/metrics` and health on PORT, and (embedded ClickHouse only) the query socket.
 */
export async function startPipeline(options: {
  config: Config;
  logger: Logger;
  only?: readonly ServiceName[];
  /** Default: the providers file of the configuration. */
  providers?: ProviderRegistry;
  /**
   * Default: a client for the configured brokers. Tests give their own, e.g. with kafkajs'
   * `retry.restartOnFailure` answering no, to see what happens when kafkajs gives up.
   */
  kafka?: Kafka;
}): Promise<Pipeline> {
  const { config, logger } = options;
  const providers = options.providers ?? loadProviders(config.providersFile);
  const stack: Array<[string, Stoppable]> = [];
  const clickhouse = () => {
    const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
    stack.push(['clickhouse connection', { stop: () => client.close() }]);
    return client;
  };
  const stop = async () => {
    for (const [name, part] of stack.reverse()) {
      await part.stop().catch((err: unknown) => logger.error({ err, part: name }, 'stop failed'));
    }
  };
  try {
    const brokers =
      config.kafkaBrokers ??
      (await startBroker({ dataDir: config.dataDir, port: config.localKafkaPort })).brokers;
    const kafka =
      options.kafka ??
      createKafka({
        brokers,
        clientId: 'nanobill',
        logger,
        ...kafkaSecurityOptions(config.kafkaSecurity),
      });
    const registry = createMetricsRegistry();
    // What the services report about their own parts (a consumer being restarted): /readyz.
    const health = new ComponentHealth();
    const supervision = {
      health,
      metrics: registry,
      restartDelayMs: config.consumerRestartDelayMs,
    };
    const admin = clickhouse();
    if (config.clickhouseUrl && options.only) {
      await waitForMigrations(admin, {
        timeoutMs: MIGRATION_WAIT_MS,
        onWait: (pending) =>
          logger.warn({ pending: pending.map((m) => m.name) }, 'waiting for nanobill migrate'),
      });
    } else {
      const applied = await migrate(admin);
      if (applied.length > 0)
        logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    }
    const created = await ensureTopics(kafka, topicSpecs(config.requestsPartitions));
    if (created.length > 0) logger.info({ topics: created }, 'topics created');

    const only = new Set(options.only ?? SERVICES);
    if (only.has('ingest')) {
      const ingest = await startIngest({
        kafka,
        clickhouse: clickhouse(),
        logger,
        metrics: registry,
        supervision,
        topics: { requests: TOPICS.requests, dlq: TOPICS.requestsDlq },
        providers: providers.names,
        maxRows: config.ingest.maxRows,
        maxWaitMs: config.ingest.maxWaitMs,
      });
      stack.push(['ingest', ingest]);
    }
    if (only.has('accounts')) {
      const accounts = await startAccounts({
        kafka,
        clickhouse: clickhouse(),
        logger,
        metrics: registry,
        supervision,
      });
      stack.push(['accounts', accounts]);
    }
    if (only.has('pricing')) {
      const pricing = await startPricing({
        kafka,
        clickhouse: clickhouse(),
        logger,
        metrics: registry,
        supervision,
        providers,
        deadlineMs: config.pricing.deadlineMs,
        schedule: config.pricing.schedule,
        endpointFailingAfterMs: config.pricing.endpointFailingAfterMs,
      });
      stack.push(['pricing', pricing]);
    }
    if (only.has('statements')) {
      const statements = await startStatements({
        clickhouse: clickhouse(),
        logger,
        deadlineMs: config.pricing.deadlineMs,
      });
      stack.push(['statements', statements]);
    }

    // One active instance across processes: with a ClickHouse server several processes may run
    // them, so each takes a lease first (embedded ClickHouse allows one process anyway).
    const singleton = async (name: ServiceName, start: () => Promise<Stoppable>) => {
      const service = config.clickhouseUrl
        ? await startSingleton({ name, kafka, logger, registry, supervision, start })
        : await start();
      stack.push([name, service]);
    };
    if (only.has('enforcement')) {
      const client = clickhouse();
      await singleton('enforcement', () =>
        startEnforcement({
          kafka,
          clickhouse: client,
          logger,
          metrics: registry,
          supervision,
          providers,
        }),
      );
    }
    if (only.has('alerts')) {
      const { caFile, opsUrl } = config.webhooks;
      const client = clickhouse();
      const webhook = {
        secret: webhookSecret(config),
        ca: caFile === undefined ? undefined : readFileSync(caFile),
      };
      await singleton('alerts', () =>
        startAlerts({
          kafka,
          clickhouse: client,
          logger,
          metrics: registry,
          supervision,
          webhook,
          opsWebhookUrl: opsUrl,
        }),
      );
    }
    const routes = [];
    if (only.has('api')) {
      const statuses = await startStatusView({
        kafka,
        topic: TOPICS.accountStatus,
        logger,
        supervision,
      });
      stack.push(['account status view', statuses]);
      const reader = clickhouse();
      const facts = new AccountFactsReader(reader, new AccountHistory());
      const producer = createProducer(kafka);
      await producer.connect();
      stack.push(['api producer', { stop: () => producer.disconnect() }]);
      routes.push(
        apiRoutes({
          clickhouse: reader,
          financeClickhouse: clickhouse(),
          statuses,
          facts,
          tokens: new TokenStore(reader),
          providers: providers.names,
          publishSnapshot: async (snapshot) => {
            await producer.send({
              topic: TOPICS.accounts,
              acks: -1,
              messages: [{ key: snapshot.accountId, value: JSON.stringify(snapshot) }],
            });
          },
        }),
      );
    }

    const ops = await startOpsServer({
      port: config.port,
      host: config.host,
      registry,
      logger,
      routes,
      components: health,
      readiness: {
        // ping() reports failure in its result, it does not throw.
        clickhouse: async () => {
          const ping = await admin.ping();
          if (!ping.success) throw ping.error;
        },
        kafka: async () => {
          const probe = kafka.admin();
          await probe.connect();
          await probe.disconnect();
        },
      },
    });
    stack.push(['ops server', { stop: () => ops.close() }]);
    if (!config.clickhouseUrl) {
      const socket = await startQueryServer({
        dataDir: config.dataDir,
        client: clickhouse(),
        writer: admin,
        logger,
      });
      stack.push(['query socket', { stop: socket.close }]);
    }
    logger.info({ services: [...only], brokers, port: config.port }, 'pipeline running');
    return { brokers, kafka, registry, reader: clickhouse(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
