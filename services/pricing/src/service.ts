import cron from 'node-cron';
import {
  DEFAULT_EVENT_WINDOW,
  type Alert,
  TOPICS,
  requestClassifier,
  requestLabel,
  type EventWindow,
  type RequestLabel,
} from '@nanobill/contract';
import { describeRefusal, type ClickHouseClient } from '@nanobill/clickhouse';
import {
  ALERTS_TOPIC,
  createProducer,
  onTopic,
  sendToDlq,
  storageRefusals,
  topicPublisher,
  startBatchConsumer,
  type Kafka,
  type KafkaMessage,
  type PartitionBatch,
  type Supervision,
} from '@nanobill/kafka';
import type { Logger, Registry } from '@nanobill/observability';
import type { ProviderRegistry } from '@nanobill/providers';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory, DEFAULT_GRACE_MS } from '@nanobill/attribution';
import type { BackoffPolicy } from '@nanobill/retry';
import { CostClient } from './cost-client.js';
import { DEFAULT_ENDPOINT_FAILING_AFTER_MS, EndpointHealth } from './endpoint-health.js';
import { createPricingMetrics } from './metrics.js';
import { MAX_PENDING_IN_MEMORY, PendingRequests, type PendingRef } from './pending.js';
import { PendingLoads } from './pending-loads.js';
import { runPricingRound, type RoundReport } from './round.js';
import { PENDING_TABLE, type PendingRow } from '@nanobill/tables';
import { pendingRow } from './rows.js';
import {
  duplicatesWriter,
  ledgerWriter,
  loadPending,
  pendingRows,
  pendingWriter,
  reuseSpanMs,
  unpricedWriter,
} from './writers.js';
import { unannouncedUnpricedAlerts } from './unannounced.js';

export const PRICING_GROUP_ID = 'nanobill-pricing';
export const DEFAULT_DEADLINE_MS = 24 * 60 * 60 * 1000;
/**
 * How far past the deadline a reload still looks for pending requests: a request is unpriced at
 * its deadline by the round that follows, so an older pending row is resolved unless pricing was
 * stopped for longer than this (`nanobill audit` names any such request).
 */
export const RELOAD_SLACK_MS = 7 * 24 * 60 * 60 * 1000;

/** The pending rows a reload reads: first seen within the deadline and its slack. */
export function reloadWindowMs(deadlineMs: number): number {
  return deadlineMs + RELOAD_SLACK_MS;
}

export interface PricingOptions {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  /**
   * A connection of its own for the round's reads of pending rows (default: `clickhouse`): on
   * embedded chdb a connection runs one operation at a time, and each chunk's read would wait
   * behind the round's own ledger inserts.
   */
  roundReads?: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  providers: ProviderRegistry;
  /** `dlq` (default `inference.requests.dlq.v1`): events whose pending row ClickHouse refuses. */
  topics?: { requests: string; alerts: string; dlq?: string };
  groupId?: string;
  /**
   * Accepted timestamps around each message's Kafka time, as ingest's (the same decoder): an
   * event ingest dead-letters is never priced. Default 35 days back, 5 minutes ahead.
   */
  eventWindow?: EventWindow;
  /** Counted from when nanobill first saw a request. */
  deadlineMs?: number;
  /** How long a priced request may wait for missing account facts (docs/contract.md §5). */
  graceMs?: number;
  /**
   * How long a provider's cost endpoint may fail (every call of every round without a usable
   * answer) before a `cost_endpoint_failing` alert; default 5 minutes.
   */
  endpointFailingAfterMs?: number;
  /** node-cron expression of the pricing round; `null`: only `priceNow()` (tests). */
  schedule?: string | null;
  now?: () => Date;
  /**
   * Backoff of cost-call retries (default 500 ms doubling, ±50 % jitter, at most 10 s); their number is each
   * provider's `retries` in the providers file unless `retries` is set here (tests).
   */
  retry?: BackoffPolicy & { retries?: number };
  maxRows?: number;
  maxWaitMs?: number;
  sessionTimeoutMs?: number;
  /**
   * Where a consumer being restarted, or a pending reload failing, is reported (the process's
   * `/readyz`), and the consumer's restart delays.
   */
  supervision?: Supervision;
  /**
   * How many pending requests are kept in memory (default `MAX_PENDING_IN_MEMORY`); the others
   * are only stored, and loaded as rounds make room.
   */
  maxPendingInMemory?: number;
  /** Retries of a failed pending reload: default `RELOAD_FIRST_DELAY_MS` doubling up to `RELOAD_MAX_DELAY_MS`. */
  reloadDelayMs?: { first: number; max: number };
}

export interface PricingService {
  /** Runs a pricing round now (or waits for the one running) and reports it. */
  priceNow(): Promise<RoundReport>;
  pendingCount(): number;
  stop(): Promise<void>;
}

/**
 * Consumes routed-request events and stores those to price as pending (Kafka offsets are
 * committed after that); a round every minute asks each provider's cost endpoint for their
 * costs, prices hf-inference from compute time, and writes the ledger once the account facts
 * say who pays.
 */
export async function startPricing(options: PricingOptions): Promise<PricingService> {
  const logger = options.logger.child({ service: 'pricing' });
  const now = options.now ?? (() => new Date());
  const topics = options.topics ?? { requests: TOPICS.requests, alerts: TOPICS.alerts };
  const dlqTopic = topics.dlq ?? TOPICS.requestsDlq;
  const classify = requestClassifier({
    providers: options.providers.names,
    window: options.eventWindow,
  });
  const metrics = createPricingMetrics(options.metrics);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const pending = new PendingRequests(options.maxPendingInMemory ?? MAX_PENDING_IN_MEMORY);
  metrics.cap.set(pending.cap);
  const countInMemory = () => metrics.inMemory.set(pending.size());
  const writerSettings = {
    clickhouse: options.clickhouse,
    maxRows: options.maxRows ?? 20_000,
    maxWaitMs: options.maxWaitMs ?? 1_000,
    onError: (err: unknown, rows: number) => logger.error({ err, rows }, 'pricing write failed'),
  };
  const pendingOut = pendingWriter(writerSettings);
  // A round writes up to a million rows in a few seconds: fewer, larger ledger inserts (each
  // also checks what is stored) make it several times faster than the consumer's batch size.
  // A reused provider request id is looked for in the months it can span (`reuseSpanMs`).
  const onceSettings = {
    ...writerSettings,
    reuseSpanMs: reuseSpanMs(options.eventWindow ?? DEFAULT_EVENT_WINDOW, deadlineMs),
  };
  const ledger = ledgerWriter({ ...onceSettings, maxRows: 100_000 }, (rows) => {
    const fromApi = rows.filter((row) => row.cost_source === 'provider_api').length;
    metrics.ledgerRows.inc({ source: 'provider_api' }, fromApi);
    metrics.ledgerRows.inc({ source: 'hf_compute_time' }, rows.length - fromApi);
  });
  const unpriced = unpricedWriter(onceSettings);
  const duplicates = duplicatesWriter(writerSettings);
  const clients = new Map(
    [...options.providers.remote].map(([name, p]) => [name, new CostClient(p)]),
  );
  // In memory, per process: a restart re-detects an ongoing outage from its first failed
  // round and may alert it again (see EndpointHealth).
  const endpointHealth = new EndpointHealth(
    options.endpointFailingAfterMs ?? DEFAULT_ENDPOINT_FAILING_AFTER_MS,
  );
  for (const name of clients.keys()) metrics.endpointFailing.set({ provider: name }, 0);
  const producer = createProducer(options.kafka);
  await producer.connect();
  const alertsOut = topicPublisher(producer, onTopic(ALERTS_TOPIC, topics.alerts));

  // Rounds and pending loads take turns: a load never lands in the middle of a round.
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const result = turn.then(work);
    turn = result.catch(() => undefined);
    return result;
  };
  // Partitions this instance owns: their pending requests are loaded from ClickHouse on
  // assignment (retried until it works), so a restart or a rebalance loses nothing.
  const loads = new PendingLoads({
    pending,
    // Bounded by the deadline (docs/architecture.md "How pricing stays exact"): older requests were
    // unpriced.
    load: (partitions, page) =>
      loadPending(options.clickhouse, partitions, {
        since: new Date(now().getTime() - reloadWindowMs(deadlineMs)),
        ...page,
      }),
    inTurn,
    health: options.supervision?.health,
    logger,
    delayMs: options.reloadDelayMs,
    onFailure: () => metrics.reloadFailures.inc(),
    onHeld: (held) => {
      metrics.heldRequests.set(held);
      countInMemory();
    },
    onUnloaded: (partitions) => metrics.unloadedPartitions.set(partitions),
  });

  async function handle(batch: PartitionBatch): Promise<void> {
    const seenAt = now();
    const waiting: PendingRow[] = [];
    const offered: Array<{ message: KafkaMessage }> = [];
    // Counted per batch: a labelled increment per event is measurable at this rate.
    const routes = new Map<RequestLabel, number>();
    for (const message of batch.messages) {
      const classified = classify(message);
      const route = requestLabel(classified);
      routes.set(route, (routes.get(route) ?? 0) + 1);
      // An invalid event is the ingest service's to dead-letter; a skipped one costs nothing.
      if (!classified.ok || classified.value.action === 'skip') continue;
      waiting.push(pendingRow(classified.value.event, seenAt, batch.partition));
      offered.push({ message });
    }
    for (const [route, n] of routes) metrics.events.inc({ route }, n);
    const { refused } = await pendingOut.write(waiting);
    for (const row of waiting) if (!refused.has(row)) loads.accept(row);
    countInMemory();
    const dead = storageRefusals(PENDING_TABLE, offered, (i) => {
      const refusal = refused.get(waiting[i]!);
      return refusal && describeRefusal(refusal);
    });
    if (dead.length === 0) return;
    // Not storable as pending, so not priceable durably: dead-lettered with the reason (a replay
    // once the table accepts it prices it; ingest drops the request id it already stored).
    await sendToDlq(producer, dlqTopic, { topic: batch.topic, partition: batch.partition }, dead);
    metrics.refusedRows.inc({ table: PENDING_TABLE }, dead.length);
    logger.error(
      { partition: batch.partition, refused: dead.length, first: dead[0]?.reason },
      'ClickHouse refused pending rows: events sent to the DLQ',
    );
  }

  const consumer = await startBatchConsumer({
    kafka: options.kafka,
    groupId: options.groupId ?? PRICING_GROUP_ID,
    topic: topics.requests,
    logger,
    handle,
    onAssigned: (partitions) => loads.assign(partitions),
    sessionTimeoutMs: options.sessionTimeoutMs,
    supervision: { metrics: options.metrics, ...options.supervision },
  });

  // Account facts for attribution: the whole history at start, what is new before each round.
  const accounts = new AccountFactsReader(options.clickhouse, new AccountHistory(), (reason) =>
    logger.warn({ reason }, 'a stored account snapshot no longer passes the schema: skipped'),
  );
  const refreshAccounts = () =>
    accounts
      .refresh()
      .catch((err: unknown) => logger.error({ err }, 'could not refresh account facts'));
  await refreshAccounts();

  const roundDeps = {
    pending,
    rows: (provider: string, refs: readonly PendingRef[]) =>
      pendingRows(options.roundReads ?? options.clickhouse, provider, refs),
    clients,
    hardwarePrices: options.providers.hardware,
    maxComputeSeconds: options.providers.maxComputeSeconds,
    accounts: accounts.history,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    ledger,
    unpriced,
    duplicates,
    metrics,
    logger,
    now,
    deadlineMs,
    retry: options.retry ?? { baseDelayMs: 500, maxDelayMs: 10_000 },
    endpointHealth,
    // One alert the schema refuses (a stored row gone odd) must not hold back the others.
    publishAlerts: async (alerts: Alert[]) => {
      for (const refusal of await alertsOut.publishEach(alerts)) {
        metrics.refusedAlerts.inc();
        logger.error({ err: refusal }, 'alert left out: its schema refuses it');
      }
    },
  };
  const announced = await unannouncedUnpricedAlerts(options.clickhouse, {
    now: now(),
    deadlineMs: roundDeps.deadlineMs,
  })
    .then(async (alerts) => {
      await roundDeps.publishAlerts(alerts);
      return alerts.length;
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'could not publish the unannounced unpriced alerts');
      return 0;
    });
  if (announced > 0) logger.warn({ alerts: announced }, 'unpriced alerts published again');

  let running: Promise<RoundReport> | undefined;
  const priceNow = () => {
    running ??= inTurn(async () => {
      const stop = metrics.roundSeconds.startTimer();
      try {
        await refreshAccounts();
        const report = await runPricingRound(roundDeps);
        logger.info(report, 'pricing round done');
        return report;
      } finally {
        stop();
        countInMemory();
        running = undefined;
        // Room made: what waits in ClickHouse for it is loaded (in its turn, after this round).
        loads.refill();
      }
    });
    return running;
  };
  const schedule = options.schedule === undefined ? '* * * * *' : options.schedule;
  const task =
    schedule === null
      ? undefined
      : cron.schedule(schedule, async () => {
          if (running) {
            metrics.skippedRounds.inc();
            return;
          }
          await priceNow().catch((err: unknown) => logger.error({ err }, 'pricing round failed'));
        });

  return {
    priceNow,
    pendingCount: () => pending.size(),
    async stop() {
      await task?.stop();
      await running?.catch(() => undefined);
      await loads.stop();
      await consumer.stop();
      await Promise.all([pendingOut.close(), ledger.close(), unpriced.close(), duplicates.close()]);
      await producer.disconnect();
      await Promise.all([...clients.values()].map((c) => c.close()));
    },
  };
}
