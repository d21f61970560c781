import { TOPICS, requestClassifier, type AccountStatus } from '@nanobill/contract';
import type { SpendBreakdown } from '@nanobill/enforcement';
import { createProducer, startBatchConsumer, supervise, type Life } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';
import { eventHandler } from './consume.js';
import type { Decisions } from './enforcer.js';
import { isolation } from './isolated.js';
import { createEnforcementMetrics, type EnforcementMetrics } from './metrics.js';
import type { EnforcementOptions } from './options.js';
import { rebuildState } from './rebuild.js';
import { StatusPublisher } from './status-publisher.js';
import { ticker } from './tick.js';

export const ENFORCEMENT_GROUP_ID = 'nanobill-enforcement';

export type { EnforcementOptions } from './options.js';

export interface EnforcementService {
  /** Follows facts, the ledger and the month now, and publishes what changed. */
  tick(): Promise<void>;
  /** The last status published for an account. */
  status(accountId: string): AccountStatus | undefined;
  /** The account's month-to-date spend now: priced, estimated, outstanding requests. */
  spend(accountId: string): SpendBreakdown;
  /**
   * The month's books as held now: every account with anything recorded this month, its priced
   * and estimated spend and outstanding requests (estimates still waiting for account facts are
   * in nobody's books yet, for at most the attribution grace). Read-only; for the audit.
   */
  books(): {
    month: string;
    accounts: Array<{ accountId: string; priced: bigint; estimated: bigint; outstanding: number }>;
  };
  stop(): Promise<void>;
}

/**
 * Spending limits (docs/contract.md §6, §7). Keeps every account's month-to-date spend live: an
 * estimate for each request as it streams in, replaced by its real cost when the ledger gets it.
 * Publishes each status change to the compacted `billing.account-status.v1` and each threshold
 * crossing to `billing.alerts.v1`, before the offsets of the events that caused them are
 * committed.
 *
 * One instance: an org's spend comes from all partitions, so the state is not partitioned.
 * A restart rebuilds it from ClickHouse (ledger sums, stored requests not priced yet, alerts
 * raised) and from the status topic.
 *
 * Supervised as a whole: when its consumer crashes (for any reason: even when kafkajs would
 * rejoin, events that waited out the crash may be too old to estimate, see `priceMemoryMs`),
 * the whole service stops and starts afresh with backoff, rebuilding its state as a process
 * restart does; `/readyz` names it meanwhile and `nanobill_kafka_consumer_restarts_total`
 * counts it. Its methods answer from the incarnation running (or the last one).
 */
export async function startEnforcement(options: EnforcementOptions): Promise<EnforcementService> {
  const logger = options.logger.child({ service: 'enforcement' });
  const metrics = createEnforcementMetrics(options.metrics);
  const groupId = options.groupId ?? ENFORCEMENT_GROUP_ID;
  const supervised = await supervise({
    component: 'enforcement',
    group: groupId,
    logger,
    supervision: { metrics: options.metrics, ...options.supervision },
    start: (life) => startIncarnation(options, { logger, metrics, groupId, life }),
  });
  return {
    tick: () => supervised.current().tick(),
    status: (accountId) => supervised.current().status(accountId),
    spend: (accountId) => supervised.current().spend(accountId),
    books: () => supervised.current().books(),
    stop: () => supervised.stop(),
  };
}

/** One life of the service: its state rebuilt, its consumer started (reporting to `life`). */
async function startIncarnation(
  options: EnforcementOptions,
  shared: { logger: Logger; metrics: EnforcementMetrics; groupId: string; life: Life },
): Promise<EnforcementService> {
  const { logger, metrics, life } = shared;
  const now = options.now ?? (() => new Date());
  const topics = options.topics ?? {
    requests: TOPICS.requests,
    accountStatus: TOPICS.accountStatus,
    alerts: TOPICS.alerts,
  };
  const priceMemoryMs = options.priceMemoryMs ?? 10 * 60_000;
  const isolated = isolation(metrics, logger);
  const { facts, enforcer, prices, followers } = await rebuildState(options, {
    logger,
    metrics,
    life,
    isolated,
    now,
    topics,
    priceMemoryMs,
    overlapMs: options.ledgerOverlapMs ?? 60_000,
  });

  const producer = createProducer(options.kafka);
  await producer.connect();
  const publisher = new StatusPublisher({
    producer,
    topics,
    unpublished: (decisions) => enforcer.unpublished(decisions),
    isolated,
    metrics,
    logger,
  });
  const publish = (decisions: Decisions, causedAt?: number) =>
    publisher.publish(decisions, causedAt);
  // A start that fails from here (e.g. the broker went away again) must not leave the
  // producer connected: the supervisor tries again, maybe many times.
  const disconnectOnFailure = async (error: unknown): Promise<never> => {
    await producer.disconnect().catch(() => undefined);
    throw error;
  };
  await publish((enforcer.reviewAll(), enforcer.decide(now()))).catch(disconnectOnFailure);

  const consumer = await startBatchConsumer({
    kafka: options.kafka,
    groupId: shared.groupId,
    topic: topics.requests,
    logger,
    handle: eventHandler({
      classify: requestClassifier({
        providers: options.providers.names,
        window: options.eventWindow,
      }),
      enforcer,
      sources: prices.sources,
      publish,
      isolated,
      metrics,
      now,
      priceMemoryMs,
    }),
    sessionTimeoutMs: options.sessionTimeoutMs,
    life,
  }).catch(disconnectOnFailure);

  const { tick, running } = ticker({
    enforcer,
    facts,
    followers,
    recent: prices.recent,
    publish,
    isolated,
    metrics,
    logger,
    now,
    priceMemoryMs,
  });
  const tickMs = options.tickMs ?? 1_000;
  const ticks =
    tickMs > 0
      ? setInterval(() => {
          tick().catch((err: unknown) => logger.error({ err }, 'enforcement tick failed'));
        }, tickMs)
      : undefined;
  const pricesTimer = setInterval(
    () => {
      prices.refresh().catch((err: unknown) => logger.error({ err }, 'price refresh failed'));
    },
    options.modelsRefreshMs ?? 10 * 60_000,
  );

  return {
    tick,
    status: (accountId) => enforcer.published(accountId),
    spend: (accountId) => enforcer.tracker.breakdown(accountId, enforcer.month),
    books: () => enforcer.books(),
    async stop() {
      clearInterval(ticks);
      clearInterval(pricesTimer);
      await running()?.catch(() => undefined);
      await consumer.stop();
      await publisher.drained();
      await producer.disconnect();
    },
  };
}
