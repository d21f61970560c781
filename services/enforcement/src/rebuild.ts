import { AccountStatus, pricingKey } from '@nanobill/contract';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory, DEFAULT_GRACE_MS } from '@nanobill/attribution';
import { estimateCost } from '@nanobill/enforcement';
import { startTopicView, type Life } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';
import { monthBounds } from '@nanobill/calendar';
import { waitForAccountHistory } from './catch-up.js';
import { Enforcer } from './enforcer.js';
import type { Isolated } from './isolated.js';
import {
  followed,
  ledgerRows,
  pricedSums,
  quarantinedRows,
  recentCosts,
  thresholdAlertIds,
  unpricedRows,
  unpricedUsage,
  type LedgerCost,
  type QuarantineMark,
  type StoredRange,
  type UnpricedMark,
} from '@nanobill/tables';
import { InsertionFollower } from './ledger.js';
import type { EnforcementMetrics } from './metrics.js';
import type { EnforcementOptions } from './options.js';
import { loadPrices, type Prices } from './prices.js';

/** What one life of the service works with, rebuilt at its start. */
export interface EnforcementState {
  facts: AccountFactsReader;
  enforcer: Enforcer;
  prices: Prices;
  /** The tables followed by insertion time from the start-up cut on. */
  followers: Followers;
}

export interface Followers {
  ledger: InsertionFollower<LedgerCost>;
  unpriced: InsertionFollower<UnpricedMark>;
  quarantine: InsertionFollower<QuarantineMark>;
}

export interface RebuildContext {
  logger: Logger;
  metrics: EnforcementMetrics;
  life: Life;
  isolated: Isolated;
  now: () => Date;
  topics: { accountStatus: string };
  priceMemoryMs: number;
  overlapMs: number;
}

/**
 * The month-to-date spend rebuilt as a process restart does: facts caught up first, then the
 * statuses already published, the alerts already raised, the ledger's sums up to a cut, the
 * followers from that cut on, and estimates of the stored requests neither priced, unpriced
 * nor quarantined yet.
 */
export async function rebuildState(
  options: EnforcementOptions,
  context: RebuildContext,
): Promise<EnforcementState> {
  const { logger, metrics, now } = context;
  await waitForFacts(options, context);
  const facts = new AccountFactsReader(options.clickhouse, new AccountHistory());
  await facts.refresh();
  const enforcer = new Enforcer(now(), {
    history: facts.history,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    onAccountFailure: (accountId, err) => {
      metrics.failures.inc({ stage: 'decide' });
      logger.error({ err, accountId }, 'account status not decided; the other accounts are');
    },
  });
  const prices = await loadPrices(options.providers, logger, options.priceBook);
  await loadPublishedStatuses(options, context, enforcer);
  const month = enforcer.month;
  enforcer.loadAlerted(await thresholdAlertIds(options.clickhouse, month));
  const followers = await restoreLedger(options.clickhouse, enforcer, prices, context);
  const restored = await restoreEstimates(options, enforcer, prices, context);
  logger.info(
    { month, accounts: enforcer.tracker.accounts(month).length, estimatesRestored: restored },
    'month-to-date spend rebuilt',
  );
  return { facts, enforcer, prices, followers };
}

/**
 * Facts first: the account history must have caught up before anything is decided. The stop
 * signal ends the wait (and this start).
 */
async function waitForFacts(options: EnforcementOptions, context: RebuildContext): Promise<void> {
  const feed = options.accountsFeed;
  if (feed === undefined) return;
  const { life, logger } = context;
  life.notReady(`waiting for ${feed.groupId} to store ${feed.topic}`);
  const outcome = await waitForAccountHistory(options.kafka, feed, {
    timeoutMs: options.factsCatchUpMs ?? 60_000,
    signal: life.signal,
  });
  if (life.signal.aborted) throw new Error('stopped while waiting for the account history');
  if (outcome === 'timed_out') {
    logger.warn(
      { feed },
      'the account history has not caught up with its topic: deciding with the facts stored so far',
    );
  }
}

/** The statuses already on the status topic, so that only changes are published again. */
async function loadPublishedStatuses(
  options: EnforcementOptions,
  context: RebuildContext,
  enforcer: Enforcer,
): Promise<void> {
  const { life, isolated } = context;
  const view = await startTopicView({
    kafka: options.kafka,
    topic: context.topics.accountStatus,
    logger: context.logger,
    name: 'enforcement start-up status view',
    supervision: { metrics: options.metrics, ...options.supervision },
    onRecord: (key, value) => {
      // A tombstone: the account has no status (= ok, see docs/architecture.md "Spending limits").
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
}

/**
 * The ledger's sums of rows stored before the cut, the followers from the cut on: every row
 * counts once (their first read starts at the cut, not an overlap before it). Requests recent
 * enough to be estimated (an event redelivered after the start: enforcement was down while
 * pricing went on) are settled one by one instead, so that their keys are known as priced or
 * unpriced and their events get no estimate back.
 */
async function restoreLedger(
  clickhouse: ClickHouseClient,
  enforcer: Enforcer,
  prices: Prices,
  context: RebuildContext,
): Promise<Followers> {
  const { isolated, now, overlapMs } = context;
  const month = enforcer.month;
  const cut = Date.now() - overlapMs;
  const recentFrom = Math.max(
    now().getTime() - context.priceMemoryMs,
    monthBounds(month).start.getTime(),
  );
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
  const followers = {
    ledger: follow(ledgerRows),
    unpriced: follow(unpricedRows),
    quarantine: new InsertionFollower(
      (since, m) => quarantinedRows(clickhouse, since, m),
      cut,
      overlapMs,
    ),
  };
  for (const row of await recentCosts(clickhouse, Date.now() - 60 * 60_000, 200)) {
    prices.recent.record(row.provider, row.model, row.cost);
  }
  return followers;
}

/** Estimates of the stored requests not settled yet, back (their offsets were committed). */
async function restoreEstimates(
  options: EnforcementOptions,
  enforcer: Enforcer,
  prices: Prices,
  context: RebuildContext,
): Promise<number> {
  const { isolated, now } = context;
  const stored = await unpricedUsage(
    options.clickhouse,
    enforcer.month,
    Date.now() - (options.estimateWindowMs ?? 2 * 60 * 60_000),
  );
  for (const request of stored) {
    isolated('startup_estimate', request.userId, () => {
      const estimate = estimateCost(request, prices.sources);
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
  return stored.length;
}
