import {
  AccountStatus,
  HF_INFERENCE,
  type Alert,
  TOPICS,
  pricingKey,
  requestClassifier,
  requestLabel,
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
import {
  followed,
  ledgerRows,
  pricedSums,
  quarantinedRows,
  recentCosts,
  thresholdAlertIds,
  unpricedRows,
  unpricedUsage,
  type StoredRange,
} from '@nanobill/tables';
import { monthBounds } from '@nanobill/credits';
import { hfInferenceCostNano } from '@nanobill/money';
import { waitForAccountHistory, type AccountsFeed } from './catch-up.js';
import { RECORD_OVERHEAD_BYTES, chunked } from './chunks.js';
import { Enforcer, type Decisions } from './enforcer.js';
import { InsertionFollower } from './ledger.js';
import { createEnforcementMetrics, type EnforcementMetrics } from './metrics.js';

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
  /** How long attribution waits for account facts (NANOBILL_ATTRIBUTION_GRACE_MS). */
  graceMs?: number;
  /**
   * The account snapshots' topic and the accounts service's group: at start-up, nothing is
   * decided before that group has stored what the topic held (bounded by `factsCatchUpMs`,
   * default a minute; not ready meanwhile). Absent: no wait (tests that store snapshots
   * themselves).
   */
  accountsFeed?: AccountsFeed;
  factsCatchUpMs?: number;
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
  const overlapMs = options.ledgerOverlapMs ?? 60_000;
  const classify = requestClassifier({
    providers: options.providers.names,
    window: options.eventWindow,
  });
  const { clickhouse } = options;

  // One bad account, row or event never stops the others: reported, counted, skipped.
  const isolated = (stage: string, subject: string, work: () => void): void => {
    try {
      work();
    } catch (err) {
      metrics.failures.inc({ stage });
      logger.error({ err, stage, subject }, 'enforcement skipped one account, row or event');
    }
  };

  // Facts first: the account history must have caught up before anything is decided.
  // The stop signal ends the wait (and this start).
  if (options.accountsFeed !== undefined) {
    life.notReady(
      `waiting for ${options.accountsFeed.groupId} to store ${options.accountsFeed.topic}`,
    );
    const outcome = await waitForAccountHistory(options.kafka, options.accountsFeed, {
      timeoutMs: options.factsCatchUpMs ?? 60_000,
      signal: life.signal,
    });
    if (life.signal.aborted) throw new Error('stopped while waiting for the account history');
    if (outcome === 'timed_out') {
      logger.warn(
        { feed: options.accountsFeed },
        'the account history has not caught up with its topic: deciding with the facts stored so far',
      );
    }
  }
  const facts = new AccountFactsReader(clickhouse, new AccountHistory());
  await facts.refresh();
  const enforcer = new Enforcer(now(), {
    history: facts.history,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    onAccountFailure: (accountId, err) => {
      metrics.failures.inc({ stage: 'decide' });
      logger.error({ err, accountId }, 'account status not decided; the other accounts are');
    },
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
  // cut, the followers from that cut on, and estimates of the stored requests neither priced,
  // unpriced nor quarantined yet.
  const view = await startTopicView({
    kafka: options.kafka,
    topic: topics.accountStatus,
    logger,
    name: 'enforcement start-up status view',
    supervision: { metrics: options.metrics, ...options.supervision },
    onRecord: (key, value) => {
      // A tombstone: the account has no status (= ok, see README "Spending limits").
      if (value === null) return enforcer.loadRetired(key);
      isolated('status_record', key, () => {
        const parsed = AccountStatus.safeParse(JSON.parse(value.toString()));
        if (parsed.success) enforcer.loadPublished(parsed.data);
      });
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
  enforcer.loadAlerted(await thresholdAlertIds(clickhouse, month));
  // The ledger's sums of rows stored before the cut, the followers from the cut on: every row
  // counts once (their first read starts at the cut, not an overlap before it). Requests recent
  // enough to be estimated (an event redelivered after the start: enforcement was down while
  // pricing went on) are settled one by one instead, so that their keys are known as priced or
  // unpriced and their events get no estimate back.
  const cut = Date.now() - overlapMs;
  const recentFrom = Math.max(now().getTime() - priceMemoryMs, monthBounds(month).start.getTime());
  for (const [account, sum] of await pricedSums(clickhouse, month, cut, recentFrom)) {
    isolated('startup_sum', account, () => enforcer.pricedSum(account, month, sum));
  }
  const settledBefore = { beforeMs: cut, eventFromMs: recentFrom };
  for (const row of await ledgerRows(clickhouse, settledBefore)) {
    isolated('startup_row', row.key, () =>
      enforcer.priced({ ...row, pricedAtMs: row.insertedAtMs }),
    );
  }
  for (const row of await unpricedRows(clickhouse, settledBefore)) {
    isolated('startup_row', row.key, () =>
      enforcer.unpriced({ ...row, unpricedAtMs: row.insertedAtMs }),
    );
  }
  const follow = <Row extends { key: string; insertedAtMs: number }>(
    read: (client: ClickHouseClient, range: StoredRange) => Promise<Row[]>,
  ) => new InsertionFollower((since, m) => read(clickhouse, followed(since, m)), cut, overlapMs);
  const ledger = follow(ledgerRows);
  const unpriced = follow(unpricedRows);
  const quarantine = new InsertionFollower(
    (since, m) => quarantinedRows(clickhouse, since, m),
    cut,
    overlapMs,
  );
  for (const row of await recentCosts(clickhouse, Date.now() - 60 * 60_000, 200)) {
    recent.record(row.provider, row.model, row.cost);
  }
  const stored = await unpricedUsage(
    clickhouse,
    month,
    Date.now() - (options.estimateWindowMs ?? 2 * 60 * 60_000),
  );
  for (const request of stored) {
    isolated('startup_estimate', request.userId, () => {
      const estimate = estimateCost(request, sources);
      enforcer.seen(
        {
          ...request,
          key: pricingKey(request.provider, request.providerRequestId),
          estimate: estimate.nano,
        },
        now(),
      );
    });
  }
  logger.info(
    { month, accounts: enforcer.tracker.accounts(month).length, estimatesRestored: stored.length },
    'month-to-date spend rebuilt',
  );

  const producer = createProducer(options.kafka);
  await producer.connect();
  // One send at a time: two statuses of one account must reach the topic in decision order.
  // Each send is bounded (PUBLISH_CHUNK_LIMITS): a month turn republishes every account.
  let publishing: Promise<void> = Promise.resolve();
  const publish = (decisions: Decisions, causedAt?: number): Promise<void> => {
    const send = async () => {
      const outgoing = outgoingOf(decisions, topics);
      const chunks = chunked(outgoing, messageBytes);
      for (const [i, chunk] of chunks.entries()) {
        try {
          await producer.sendBatch({ acks: -1, topicMessages: byTopic(chunk) });
        } catch (error) {
          metrics.publishFailures.inc();
          // What was sent stays published; the rest is decided again and re-sent.
          enforcer.unpublished(decisionsOf(chunks.slice(i).flat()));
          throw error;
        }
      }
      reportPublished(decisions, causedAt);
    };
    const next = publishing.then(send);
    publishing = next.catch(() => undefined);
    return next;
  };
  const reportPublished = (decisions: Decisions, causedAt: number | undefined) => {
    for (const s of decisions.statuses) metrics.statusChanges.inc({ status: s.status });
    metrics.statusChanges.inc({ status: 'retired' }, decisions.retired.length);
    for (const a of decisions.alerts) {
      if (a.type === 'spend_threshold') {
        metrics.alerts.inc({ threshold: String(a.details.threshold) });
      }
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
    if (decisions.retired.length > 0) {
      logger.info({ retired: decisions.retired.length }, "idle accounts' statuses retired");
    }
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
      const classified = classify(message);
      if (!classified.ok || classified.value.action === 'skip') {
        // Invalid (the ingest service dead-letters it) or costing nothing.
        count(outcomes, requestLabel(classified));
        continue;
      }
      const { event, key } = classified.value;
      // Older than what is remembered of the ledger: it may be priced and forgotten already.
      if (Date.parse(event.timestamp) < oldest) {
        count(outcomes, 'too_old');
        continue;
      }
      isolated('event', event.userId, () => {
        const estimate = estimateCost(event, sources);
        enforcer.seen(
          {
            key,
            userId: event.userId,
            billTo: event.billTo,
            timestamp: event.timestamp,
            estimate: estimate.nano,
          },
          at,
        );
        count(bySource, estimate.source);
        count(outcomes, 'estimated');
        firstAppended ??= Number(message.timestamp);
      });
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
          isolated('ledger_row', row.billedAccount, () => {
            recent.record(row.provider, row.model, row.cost);
            // Remembered by storage time, the clock the follower works in.
            enforcer.priced({ ...row, pricedAtMs: row.insertedAtMs });
          });
        }
        metrics.ledgerRows.inc(rows.length);
        const gaveUp = await unpriced.next(enforcer.month);
        for (const row of gaveUp) {
          isolated('unpriced_row', row.key, () =>
            enforcer.unpriced({ ...row, unpricedAtMs: row.insertedAtMs }),
          );
        }
        metrics.unpricedRows.inc(gaveUp.length);
        // After the ledger and unpriced rows: a keeper's price is counted before its key's
        // estimate leaves; one stored between the reads counts at the next tick (a price after
        // an unpriced request counts).
        const reuses = await quarantine.next(enforcer.month);
        for (const row of reuses) {
          isolated('quarantined_row', row.pricingKey, () =>
            enforcer.quarantined({
              key: row.pricingKey,
              month: row.month,
              unpricedAtMs: row.insertedAtMs,
              keeperSettled: row.keeperSettled,
            }),
          );
        }
        metrics.quarantinedRows.inc(reuses.length);
        enforcer.tracker.forgetSettled(Date.now() - priceMemoryMs);
        metrics.outstanding.set(enforcer.tracker.remembered);
        metrics.waiting.set(enforcer.waiting);
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
    books: () => enforcer.books(),
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

interface Outgoing {
  topic: string;
  key: string;
  /** null: a tombstone (a retired status). */
  value: string | null;
  /** What it publishes, handed back to the enforcer if it could not be sent. */
  source:
    | { kind: 'status'; status: AccountStatus }
    | { kind: 'retired'; status: AccountStatus }
    | { kind: 'alert'; alert: Alert };
}

/** Every message of `decisions`, statuses and tombstones first, in decision order. */
function outgoingOf(
  decisions: Decisions,
  topics: { accountStatus: string; alerts: string },
): Outgoing[] {
  return [
    ...decisions.statuses.map((s) => ({
      topic: topics.accountStatus,
      key: s.accountId,
      value: JSON.stringify(s),
      source: { kind: 'status' as const, status: s },
    })),
    ...decisions.retired.map((s) => ({
      topic: topics.accountStatus,
      key: s.accountId,
      value: null,
      source: { kind: 'retired' as const, status: s },
    })),
    ...decisions.alerts.map((a) => ({
      topic: topics.alerts,
      key: a.alertId,
      value: JSON.stringify(a),
      source: { kind: 'alert' as const, alert: a },
    })),
  ];
}

function messageBytes(m: Outgoing): number {
  return (
    Buffer.byteLength(m.key) +
    (m.value === null ? 0 : Buffer.byteLength(m.value)) +
    RECORD_OVERHEAD_BYTES
  );
}

function byTopic(chunk: Outgoing[]) {
  const topics = new Map<string, Array<{ key: string; value: string | null }>>();
  for (const m of chunk) {
    let messages = topics.get(m.topic);
    if (messages === undefined) topics.set(m.topic, (messages = []));
    messages.push({ key: m.key, value: m.value });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

function decisionsOf(messages: Outgoing[]): Decisions {
  const decisions: Decisions = { statuses: [], retired: [], alerts: [] };
  for (const { source } of messages) {
    if (source.kind === 'status') decisions.statuses.push(source.status);
    else if (source.kind === 'retired') decisions.retired.push(source.status);
    else decisions.alerts.push(source.alert);
  }
  return decisions;
}
