import {
  AccountStatus,
  HF_INFERENCE,
  TOPICS,
  pricingKey,
  pricingRoute,
  requestEventDecoder,
  type EventWindow,
} from '@nanobill/contract';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory, DEFAULT_GRACE_MS } from '@nanobill/attribution';
import {
  RecentCosts,
  estimateCost,
  type PriceSources,
  type SpendBreakdown,
} from '@nanobill/enforcement';
import {
  createProducer,
  startBatchConsumer,
  startTopicView,
  supervise,
  type Kafka,
  type Life,
  type PartitionBatch,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
import { ModelPriceBook, type ProviderRegistry } from '@nanobill/providers';
import { hfInferenceCostNano } from '@nanobill/money';
import { Enforcer, type Decisions } from './enforcer.js';
import { LedgerFollower, pricedSums, recentCosts } from './ledger.js';
import { createEnforcementMetrics, type EnforcementMetrics } from './metrics.js';
import { alertedThresholds, unpricedUsage } from './startup.js';

export const ENFORCEMENT_GROUP_ID = 'nanobill-enforcement';

export interface EnforcementOptions {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  providers: ProviderRegistry;
  topics?: { requests: string; accountStatus: string; alerts: string };
  groupId?: string;
  /**
   * Accepted timestamps around each message's Kafka time, as ingest's (the same decoder): an
   * event ingest dead-letters is never estimated. Default 35 days back, 5 minutes ahead.
   */
  eventWindow?: EventWindow;
  /** Business time: months, attribution grace. Storage watermarks use the real clock. */
  now?: () => Date;
  graceMs?: number;
  /** How often facts, the ledger and the month are checked; 0: only `tick()` (tests). */
  tickMs?: number;
  /** How often the providers' `/v1/models` prices are fetched again. */
  modelsRefreshMs?: number;
  /** How long priced requests are remembered; requests older than this are not estimated. */
  priceMemoryMs?: number;
  /** At start-up, stored requests this recent without a cost get their estimate back. */
  estimateWindowMs?: number;
  /** Overlap of successive ledger reads (inserts become visible as a whole, late). */
  ledgerOverlapMs?: number;
  priceBook?: ModelPriceBook;
  sessionTimeoutMs?: number;
  /** Where enforcement restarting is reported (the process's `/readyz`), restart delays. */
  supervision?: Supervision;
}

export interface EnforcementService {
  /** Follows facts, the ledger and the month now, and publishes what changed. */
  tick(): Promise<void>;
  /** The last status published for an account. */
  status(accountId: string): AccountStatus | undefined;
  /** The account's month-to-date spend now: priced, estimated, outstanding requests. */
  spend(accountId: string): SpendBreakdown;
  /** What it holds for its month, per account: what `nanobill audit` compares with the ledger. */
  books(): {
    month: string;
    accounts: Array<{ accountId: string; priced: bigint; estimated: bigint; outstanding: number }>;
  };
  stop(): Promise<void>;
}

/**
 * Spending limits (PRODUCT.md §6, §7). Keeps every account's month-to-date spend live: an
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
  const overlapMs = options.ledgerOverlapMs ?? 60_000;
  const decode = requestEventDecoder({
    providers: options.providers.names,
    window: options.eventWindow,
  });
  const { clickhouse } = options;

  const facts = new AccountFactsReader(clickhouse, new AccountHistory());
  await facts.refresh();
  const enforcer = new Enforcer(now(), {
    history: facts.history,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
  });
  const recent = new RecentCosts();
  const priceBook = options.priceBook ?? new ModelPriceBook(options.providers);
  const refreshPrices = async () => {
    const report = await priceBook.refresh();
    const failed = Object.entries(report).filter(([, r]) => r.error !== undefined);
    if (failed.length > 0) {
      logger.warn(
        { providers: Object.fromEntries(failed.map(([name, r]) => [name, r.error])) },
        'published prices not refreshed; the last good ones (or the providers file) are used',
      );
    }
  };
  await refreshPrices();
  const sources: PriceSources = {
    hardwarePrice: (hardware) => options.providers.hardware.get(hardware),
    tokenPricing: (provider, model, providerModelId) =>
      priceBook.priceFor(provider, model, providerModelId),
    recent,
    ceiling: (request) => requestCeiling(options.providers, request),
  };

  // Start-up: statuses already published, alerts already raised, the ledger's sums up to a
  // cut, the follower from that cut on, and estimates of the stored requests not priced yet.
  const view = await startTopicView({
    kafka: options.kafka,
    topic: topics.accountStatus,
    logger,
    name: 'enforcement start-up status view',
    supervision: { metrics: options.metrics, ...options.supervision },
    onRecord: (_key, value) => {
      if (value === null) return;
      const parsed = AccountStatus.safeParse(JSON.parse(value.toString()));
      if (parsed.success) enforcer.loadPublished(parsed.data);
    },
  });
  // The view restarts on its own while the broker is away; a stop meanwhile ends the wait.
  const stopped = new Promise<never>((_, reject) => {
    const abort = () => reject(new Error('stopped before the status topic was read'));
    if (life.signal.aborted) abort();
    else life.signal.addEventListener('abort', abort, { once: true });
  });
  try {
    await Promise.race([view.ready, stopped]);
  } finally {
    await view.stop();
  }
  const month = enforcer.month;
  enforcer.loadAlerted(await alertedThresholds(clickhouse, month));
  const cut = Date.now() - overlapMs;
  for (const [account, sum] of await pricedSums(clickhouse, month, cut)) {
    enforcer.pricedSum(account, month, sum);
  }
  const ledger = new LedgerFollower(clickhouse, cut, overlapMs);
  for (const row of await recentCosts(clickhouse, Date.now() - 60 * 60_000, 200)) {
    recent.record(row.provider, row.model, row.cost);
  }
  const stored = await unpricedUsage(
    clickhouse,
    month,
    Date.now() - (options.estimateWindowMs ?? 2 * 60 * 60_000),
  );
  for (const request of stored) {
    const estimate = estimateCost(request, sources);
    enforcer.seen(
      {
        ...request,
        key: pricingKey(request.provider, request.providerRequestId),
        estimate: estimate.nano,
      },
      now(),
    );
  }
  logger.info(
    { month, accounts: enforcer.tracker.accounts(month).length, estimatesRestored: stored.length },
    'month-to-date spend rebuilt',
  );

  const producer = createProducer(options.kafka);
  await producer.connect();
  // One send at a time: two statuses of one account must reach the topic in decision order.
  let publishing: Promise<void> = Promise.resolve();
  const publish = (decisions: Decisions, causedAt?: number): Promise<void> => {
    const send = async () => {
      if (decisions.statuses.length === 0 && decisions.alerts.length === 0) return;
      try {
        await producer.sendBatch({
          acks: -1,
          topicMessages: [
            {
              topic: topics.accountStatus,
              messages: decisions.statuses.map((s) => ({
                key: s.accountId,
                value: JSON.stringify(s),
              })),
            },
            {
              topic: topics.alerts,
              messages: decisions.alerts.map((a) => ({ key: a.alertId, value: JSON.stringify(a) })),
            },
          ].filter((t) => t.messages.length > 0),
        });
      } catch (error) {
        metrics.publishFailures.inc();
        enforcer.unpublished(decisions);
        throw error;
      }
      for (const s of decisions.statuses) metrics.statusChanges.inc({ status: s.status });
      for (const a of decisions.alerts) {
        metrics.alerts.inc({ threshold: String(a.details.threshold) });
      }
      if (causedAt !== undefined && decisions.statuses.length > 0) {
        metrics.decisionSeconds.observe((Date.now() - causedAt) / 1000);
      }
      if (decisions.statuses.some((s) => s.status !== 'ok') || decisions.alerts.length > 0) {
        logger.info(
          {
            statuses: decisions.statuses
              .filter((s) => s.status !== 'ok')
              .map((s) => [s.accountId, s.status]),
            alerts: decisions.alerts.map((a) => a.alertId),
          },
          'account statuses and alerts published',
        );
      }
    };
    const next = publishing.then(send);
    publishing = next.catch(() => undefined);
    return next;
  };
  // A start that fails from here (e.g. the broker went away again) must not leave the
  // producer connected: the supervisor tries again, maybe many times.
  const disconnectOnFailure = async (error: unknown): Promise<never> => {
    await producer.disconnect().catch(() => undefined);
    throw error;
  };
  await publish((enforcer.reviewAll(), enforcer.decide(now()))).catch(disconnectOnFailure);

  async function handle(batch: PartitionBatch): Promise<void> {
    const at = now();
    const oldest = at.getTime() - priceMemoryMs;
    const outcomes = new Map<string, number>();
    const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    const bySource = new Map<string, number>();
    let firstAppended: number | undefined;
    for (const message of batch.messages) {
      const decoded = decode(message);
      if (!decoded.ok) {
        count(outcomes, 'invalid'); // the ingest service sends it to the DLQ
        continue;
      }
      const event = decoded.value;
      const route = pricingRoute(event);
      if (route.route === 'skip') {
        count(outcomes, `skip_${route.reason}`);
        continue;
      }
      // Older than what is remembered of the ledger: it may be priced and forgotten already.
      if (Date.parse(event.timestamp) < oldest) {
        count(outcomes, 'too_old');
        continue;
      }
      const estimate = estimateCost(event, sources);
      count(bySource, estimate.source);
      count(outcomes, 'estimated');
      firstAppended ??= Number(message.timestamp);
      enforcer.seen(
        {
          key: pricingKey(event.provider, event.providerRequestId!),
          userId: event.userId,
          billTo: event.billTo,
          timestamp: event.timestamp,
          estimate: estimate.nano,
        },
        at,
      );
    }
    for (const [outcome, n] of outcomes) metrics.events.inc({ outcome }, n);
    for (const [source, n] of bySource) metrics.estimates.inc({ source }, n);
    await publish(enforcer.decide(at), firstAppended);
  }

  const consumer = await startBatchConsumer({
    kafka: options.kafka,
    groupId: shared.groupId,
    topic: topics.requests,
    logger,
    handle,
    sessionTimeoutMs: options.sessionTimeoutMs,
    life,
  }).catch(disconnectOnFailure);

  let ticking: Promise<void> | undefined;
  const tick = () =>
    (ticking ??= (async () => {
      try {
        const at = now();
        if (enforcer.rollover(at)) logger.info({ month: enforcer.month }, 'month turned');
        enforcer.factsChanged(await facts.refresh());
        const rows = await ledger.next(enforcer.month);
        for (const row of rows) {
          recent.record(row.provider, row.model, row.cost);
          // Remembered by storage time, the clock the follower works in.
          enforcer.priced({ ...row, pricedAtMs: row.insertedAtMs });
        }
        metrics.ledgerRows.inc(rows.length);
        enforcer.tracker.forgetPriced(Date.now() - priceMemoryMs);
        metrics.outstanding.set(enforcer.tracker.remembered);
        await publish(enforcer.decide(at));
      } finally {
        ticking = undefined;
      }
    })());
  const tickMs = options.tickMs ?? 1_000;
  const ticker =
    tickMs > 0
      ? setInterval(() => {
          tick().catch((err: unknown) => logger.error({ err }, 'enforcement tick failed'));
        }, tickMs)
      : undefined;
  const pricesTimer = setInterval(
    () => {
      refreshPrices().catch((err: unknown) => logger.error({ err }, 'price refresh failed'));
    },
    options.modelsRefreshMs ?? 10 * 60_000,
  );

  return {
    tick,
    status: (accountId) => enforcer.published(accountId),
    spend: (accountId) => enforcer.tracker.breakdown(accountId, enforcer.month),
    books: () => {
      const month = enforcer.month;
      const accounts = enforcer.tracker.accounts(month).map((accountId) => {
        const { priced, estimated, outstanding } = enforcer.tracker.breakdown(accountId, month);
        return { accountId, priced, estimated, outstanding };
      });
      return { month, accounts };
    },
    async stop() {
      clearInterval(ticker);
      clearInterval(pricesTimer);
      await ticking?.catch(() => undefined);
      await consumer.stop();
      await publishing;
      await producer.disconnect();
    },
  };
}

/** The most pricing would book for a request (its provider's ceiling), as estimates are capped. */
function requestCeiling(
  providers: ProviderRegistry,
  request: { provider: string; hardware?: string },
): bigint | undefined {
  if (request.provider !== HF_INFERENCE)
    return providers.remote.get(request.provider)?.maxCostNanoUsd;
  const price =
    request.hardware === undefined ? undefined : providers.hardware.get(request.hardware);
  return price === undefined
    ? undefined
    : hfInferenceCostNano(providers.maxComputeSeconds * 1000, price);
}
