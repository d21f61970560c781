import { readFileSync } from 'node:fs';
import type { Alert } from '@nanobill/contract';
import type { Config } from '@nanobill/config';
import {
  migrate,
  openClickHouse,
  openFinanceSql,
  privateDir,
  waitForMigrations,
  type ClickHouseClient,
} from '@nanobill/clickhouse';
import { ACCOUNTS_GROUP_ID, startAccounts, type AccountsOptions } from '@nanobill/accounts-service';
import { startIngest, type IngestOptions } from '@nanobill/ingest';
import { startPricing, type PricingOptions, type PricingService } from '@nanobill/pricing';
import { startStatements, type StatementsOptions } from '@nanobill/statements';
import {
  startEnforcement,
  type EnforcementOptions,
  type EnforcementService,
} from '@nanobill/enforcement-service';
import { readPublishedStatuses, startScheduledAudit, type AuditReport } from '@nanobill/audit';
import { startAlerts, type AlertsOptions } from '@nanobill/alerts';
import { startApiServer, startStatusView, TokenStore } from '@nanobill/api';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { loadProviders, type ProviderRegistry } from '@nanobill/providers';
import { WebhookSecretStore, type SecretsCipher } from '@nanobill/webhooks';
import {
  ALERTS_TOPIC,
  ORG_SETTINGS_TOPIC,
  kafkaFromConfig,
  createProducer,
  describeDrift,
  prepareTopics,
  onTopic,
  publishOnce,
  topicPublisher,
  topicSpecs,
  TOPIC_NAMES,
  type Kafka,
  type Stoppable,
  type TopicNames,
} from '@nanobill/kafka';
import { startBroker } from '@nanobill/kafka-broker';
import {
  ComponentHealth,
  createMetricsRegistry,
  startOpsServer,
  type Logger,
  type Registry,
} from '@nanobill/observability';
import { startQueryServer } from './socket.js';
import { auditBooks, type AuditRequest } from './audit.js';
import { startSingleton } from './singleton.js';
import { opsWebhookSecret, secretsCipher } from './webhook-secret.js';

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

/** The services that consume with a group of their own (the others read no topic, or by lease). */
export type ConsumingService = 'ingest' | 'accounts' | 'pricing' | 'enforcement' | 'alerts';

/** The services that run once across processes, each under a lease (with a ClickHouse server). */
export type SingletonService = 'statements' | 'enforcement' | 'alerts';

/**
 * What a test or a benchmark changes about the wiring, so that several pipelines share a broker:
 * every part of the pipeline uses the same names (what one service publishes, the next reads).
 */
export interface PipelineOverrides {
  /** Topic names; each default is the contract's (`TOPIC_NAMES`). */
  topics?: Partial<TopicNames>;
  /** Consumer group ids; each default is the service's own (`nanobill-<service>`). */
  groups?: Partial<Record<ConsumingService, string>>;
  /**
   * The lease groups of the services that run once across processes (statements, enforcement,
   * alerts); each default is `nanobill-<service>-lease`. Their topic is `topics.leases`.
   */
  leaseGroups?: Partial<Record<SingletonService, string>>;
  /**
   * Cron schedules (null: none, the rounds are driven by hand). Default: pricing's from the
   * configuration (NANOBILL_PRICING_SCHEDULE), the statements service's own.
   */
  schedules?: { pricing?: string | null; statements?: string | null };
  /**
   * Options merged over what the pipeline builds for each service, last (tests: shorter session
   * timeouts, polls and retries, a clock of their own). Whatever is not given stays as built.
   */
  services?: ServiceOverrides;
  /**
   * Every ClickHouse connection the pipeline opens goes through this first (tests: a connection
   * that SIGKILLs its process at an insert).
   */
  clickhouse?: (client: ClickHouseClient) => ClickHouseClient;
  /**
   * Awaited before each chosen service starts, in the order they start (ingest, accounts,
   * pricing, statements, enforcement, alerts, api). Tests: until the account snapshots they sent
   * are stored, before pricing attributes requests hours old.
   */
  beforeStart?: (service: ServiceName) => Promise<void>;
  /**
   * Test-only: `false` runs statements, enforcement and alerts directly, without their lease,
   * even on a ClickHouse server. For tests that keep one of each in processes they kill and
   * restart at will: a restarted one starts at once instead of waiting for the killed one's
   * lease to expire. Default: a lease whenever CLICKHOUSE_URL is set.
   */
  leases?: boolean;
}

/** What a test changes about each service's options (see `PipelineOverrides.services`). */
export interface ServiceOverrides {
  ingest?: Partial<IngestOptions>;
  accounts?: Partial<AccountsOptions>;
  pricing?: Partial<PricingOptions>;
  statements?: Partial<StatementsOptions>;
  enforcement?: Partial<EnforcementOptions>;
  alerts?: Partial<AlertsOptions>;
}

/** How long a service started alone waits for `nanobill migrate` on a shared server. */
const MIGRATION_WAIT_MS = 5 * 60_000;

export interface Pipeline {
  brokers: string[];
  kafka: Kafka;
  registry: Registry;
  /** A connection of its own for readers in this process (progress lines, tests). */
  reader: ClickHouseClient;
  /** The pricing service when this process runs it (what it holds in memory: `pendingCount`). */
  pricing: PricingService | undefined;
  /** The ports listened on: `api` only when the api service runs (PORT 0 picks a free one). */
  ports: { ops: number; api: number | undefined };
  /** `nanobill audit` here, with this process's enforcement service when it runs it. */
  audit(request: AuditRequest): Promise<AuditReport>;
  stop(): Promise<void>;
}

/**
 * Everything in one process: the broker when none is configured, migrations (or, for services
 * started alone on a ClickHouse server, waiting for `nanobill migrate`), topics, the chosen
 * services, `/metrics` and health on the ops port (NANOBILL_OPS_PORT), the API on PORT when the
 * api service runs, and (embedded ClickHouse only) the query socket.
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
  /** Topics, groups and schedules of its own (tests on a shared broker, benchmarks). */
  overrides?: PipelineOverrides;
}): Promise<Pipeline> {
  const { config, logger } = options;
  const topics: TopicNames = { ...TOPIC_NAMES, ...options.overrides?.topics };
  const groups = options.overrides?.groups ?? {};
  const schedules = options.overrides?.schedules ?? {};
  const overrides = options.overrides?.services ?? {};
  const beforeStart = options.overrides?.beforeStart ?? (async () => undefined);
  const useLeases = config.clickhouseUrl !== undefined && options.overrides?.leases !== false;
  const wrap = options.overrides?.clickhouse ?? ((client: ClickHouseClient) => client);
  const providers = options.providers ?? loadProviders(config.providersFile);
  // Before anything writes there (the local broker, chdb, the socket): 0700 when created here.
  privateDir(config.dataDir);
  const stack: Array<[string, Stoppable]> = [];
  const clickhouse = () => {
    const client = openClickHouse({ url: config.clickhouseUrl, dataDir: config.dataDir });
    stack.push(['clickhouse connection', { stop: () => client.close() }]);
    return wrap(client);
  };
  /** Finance SQL on a connection of its own: the finance user's server when configured. */
  const financeSql = (url: string | undefined) => {
    const finance = openFinanceSql({ url, dataDir: config.dataDir });
    stack.push(['finance connection', { stop: () => finance.close() }]);
    return finance;
  };
  // The secrets key is read (or, locally, created) only by the services that need it.
  let cipher: SecretsCipher | undefined;
  const webhookSecrets = (client: ClickHouseClient) =>
    new WebhookSecretStore(client, (cipher ??= secretsCipher(config)));
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
      options.kafka ?? kafkaFromConfig(config, { brokers, clientId: 'nanobill', logger });
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
    const { created, drift } = await prepareTopics(
      kafka,
      topicSpecs(config.requestsPartitions, topics),
    );
    for (const d of drift) logger.error(d, describeDrift(d));
    if (created.length > 0) logger.info({ topics: created }, 'topics created');

    const only = new Set(options.only ?? SERVICES);
    const chosen = async (service: ServiceName) => {
      if (!only.has(service)) return false;
      await beforeStart(service);
      return true;
    };
    if (await chosen('ingest')) {
      const ingest = await startIngest({
        kafka,
        clickhouse: clickhouse(),
        logger,
        metrics: registry,
        supervision,
        topics: { requests: topics.requests, dlq: topics.requestsDlq },
        groupId: groups.ingest,
        providers: providers.names,
        eventWindow: config.eventWindow,
        maxRows: config.ingest.maxRows,
        maxWaitMs: config.ingest.maxWaitMs,
        ...overrides.ingest,
      });
      stack.push(['ingest', ingest]);
    }
    if (await chosen('accounts')) {
      const accounts = await startAccounts({
        kafka,
        clickhouse: clickhouse(),
        logger,
        metrics: registry,
        supervision,
        topics: { accounts: topics.accounts, dlq: topics.accountsDlq },
        groupId: groups.accounts,
        ...overrides.accounts,
      });
      stack.push(['accounts', accounts]);
    }
    let pricing: PricingService | undefined;
    if (await chosen('pricing')) {
      pricing = await startPricing({
        kafka,
        clickhouse: clickhouse(),
        roundReads: clickhouse(),
        logger,
        metrics: registry,
        supervision,
        providers,
        topics: { requests: topics.requests, alerts: topics.alerts, dlq: topics.requestsDlq },
        groupId: groups.pricing,
        eventWindow: config.eventWindow,
        graceMs: config.attributionGraceMs,
        deadlineMs: config.pricing.deadlineMs,
        schedule: schedules.pricing === undefined ? config.pricing.schedule : schedules.pricing,
        endpointFailingAfterMs: config.pricing.endpointFailingAfterMs,
        ...overrides.pricing,
      });
      stack.push(['pricing', pricing]);
    }
    // One active instance across processes: with a ClickHouse server several processes may run
    // them, so each takes a lease first (embedded ClickHouse allows one process anyway; tests may
    // turn leases off, see `PipelineOverrides.leases`).
    const singleton = async (name: SingletonService, start: () => Promise<Stoppable>) => {
      const lease = { topic: topics.leases, groupId: options.overrides?.leaseGroups?.[name] };
      const service = useLeases
        ? await startSingleton({ name, ...lease, kafka, logger, registry, supervision, start })
        : await start();
      stack.push([name, service]);
    };
    if (await chosen('statements')) {
      const client = clickhouse();
      await singleton('statements', () =>
        startStatements({
          clickhouse: client,
          logger,
          metrics: registry,
          deadlineMs: config.pricing.deadlineMs,
          schedule: schedules.statements,
          ...overrides.statements,
        }),
      );
    }
    // The books are audited where enforcement runs (under its lease): its check needs it.
    let enforcement: EnforcementService | undefined;
    if (await chosen('enforcement')) {
      const client = clickhouse();
      await singleton('enforcement', async () => {
        const service = await startEnforcement({
          kafka,
          clickhouse: client,
          logger,
          metrics: registry,
          supervision,
          providers,
          topics: {
            requests: topics.requests,
            accountStatus: topics.accountStatus,
            alerts: topics.alerts,
          },
          groupId: groups.enforcement,
          eventWindow: config.eventWindow,
          graceMs: config.attributionGraceMs,
          // Nothing is decided before the accounts service has stored the snapshots on the topic.
          accountsFeed: { topic: topics.accounts, groupId: groups.accounts ?? ACCOUNTS_GROUP_ID },
          ...overrides.enforcement,
        });
        const audit = startScheduledAudit({
          clickhouse: client,
          logger,
          metrics: registry,
          intervalMs: config.audit.intervalMs,
          deadlineMs: config.pricing.deadlineMs,
          graceMs: config.attributionGraceMs,
          enforcement: service,
          publishedStatuses: () => readPublishedStatuses(kafka, topics.accountStatus, logger),
          raise: (alert) => publishAlert(kafka, topics.alerts, alert),
        });
        enforcement = service;
        return {
          stop: async () => {
            enforcement = undefined;
            await audit.stop();
            await service.stop();
          },
        };
      });
    }
    if (await chosen('alerts')) {
      const { caFile, opsUrl, allowNetworks } = config.webhooks;
      const client = clickhouse();
      const webhook = {
        ca: caFile === undefined ? undefined : readFileSync(caFile),
        allowNetworks,
      };
      const secrets = webhookSecrets(client);
      const opsWebhook =
        opsUrl === undefined ? undefined : { url: opsUrl, secret: opsWebhookSecret(config) };
      await singleton('alerts', () =>
        startAlerts({
          kafka,
          clickhouse: client,
          logger,
          metrics: registry,
          supervision,
          webhook,
          secrets,
          opsWebhook,
          topics: { alerts: topics.alerts, dlqs: [topics.requestsDlq, topics.accountsDlq] },
          groupId: groups.alerts,
          ...overrides.alerts,
        }),
      );
    }

    let apiPort: number | undefined;
    if (await chosen('api')) {
      const statuses = await startStatusView({
        kafka,
        topic: topics.accountStatus,
        logger,
        supervision,
      });
      stack.push(['account status view', statuses]);
      const reader = clickhouse();
      const facts = new AccountFactsReader(reader, new AccountHistory());
      const producer = createProducer(kafka);
      await producer.connect();
      stack.push(['api producer', { stop: () => producer.disconnect() }]);
      const api = await startApiServer({
        port: config.port,
        host: config.host,
        logger,
        trustProxy: config.api.trustProxy,
        rateLimit: { perAddress: config.api.ratePerAddress, perToken: config.api.ratePerToken },
        metrics: registry,
        clickhouse: reader,
        financeSql: financeSql(config.clickhouseFinanceUrl ?? config.clickhouseUrl),
        statuses,
        facts,
        tokens: new TokenStore(reader, { cacheTtlMs: config.api.tokenCacheTtlMs }),
        webhookSecrets: webhookSecrets(reader),
        webhookAllowNetworks: config.webhooks.allowNetworks,
        providers: providers.names,
        publishSettings: (messages) =>
          topicPublisher(producer, onTopic(ORG_SETTINGS_TOPIC, topics.accounts)).publish(
            messages.map((m) => m.settings),
          ),
      });
      stack.push(['api server', { stop: () => api.close() }]);
      apiPort = api.port;
    }
    // Last: ready means every part of this process, the API included, is up.
    const ops = await startOpsServer({
      port: config.ops.port,
      host: config.ops.host,
      registry,
      logger,
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

    const audit = (request: AuditRequest) =>
      auditBooks(admin, request, {
        deadlineMs: config.pricing.deadlineMs,
        graceMs: config.attributionGraceMs,
        enforcement,
        kafka,
        logger,
        statusTopic: topics.accountStatus,
      });
    if (!config.clickhouseUrl) {
      const socket = await startQueryServer({
        dataDir: config.dataDir,
        client: clickhouse(),
        finance: financeSql(undefined),
        writer: admin,
        webhookSecrets: () => webhookSecrets(admin),
        audit,
        logger,
      });
      stack.push(['query socket', { stop: socket.close }]);
    }
    const ports = { ops: ops.port, api: apiPort };
    logger.info({ services: [...only], brokers, ports }, 'pipeline running');
    return { brokers, kafka, registry, reader: clickhouse(), pricing, ports, audit, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An operations alert on billing.alerts.v1 (rare: a producer of its own each time). */
async function publishAlert(kafka: Kafka, topic: string, alert: Alert): Promise<void> {
  await publishOnce(kafka, onTopic(ALERTS_TOPIC, topic), [alert]);
}
