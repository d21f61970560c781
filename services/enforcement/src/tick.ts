import type { AccountFactsReader } from '@nanobill/accounts';
import type { RecentCosts } from '@nanobill/enforcement';
import type { Logger } from '@nanobill/observability';
import type { Decisions, Enforcer } from './enforcer.js';
import type { Isolated } from './isolated.js';
import type { EnforcementMetrics } from './metrics.js';
import type { Followers } from './rebuild.js';

export interface TickDeps {
  enforcer: Enforcer;
  facts: AccountFactsReader;
  followers: Followers;
  recent: RecentCosts;
  publish(decisions: Decisions): Promise<void>;
  isolated: Isolated;
  metrics: EnforcementMetrics;
  logger: Logger;
  now: () => Date;
  /** Settled requests older than this are forgotten. */
  priceMemoryMs: number;
}

/**
 * One check of what moved besides the events: the month, the account facts, the ledger, the
 * unpriced and quarantined requests; then the statuses and alerts that changed are published.
 * Calls while one runs share it.
 */
export function ticker(deps: TickDeps): {
  tick(): Promise<void>;
  running(): Promise<void> | undefined;
} {
  let ticking: Promise<void> | undefined;
  const tick = () =>
    (ticking ??= (async () => {
      try {
        await followOnce(deps);
      } finally {
        ticking = undefined;
      }
    })());
  return { tick, running: () => ticking };
}

async function followOnce(deps: TickDeps): Promise<void> {
  const { enforcer, followers, metrics, isolated } = deps;
  const at = deps.now();
  if (enforcer.rollover(at)) deps.logger.info({ month: enforcer.month }, 'month turned');
  enforcer.factsChanged(await deps.facts.refresh());
  const rows = await followers.ledger.next(enforcer.month);
  for (const row of rows) {
    isolated('ledger_row', row.billedAccount, () => {
      deps.recent.record(row.provider, row.model, row.cost);
      // Remembered by storage time, the clock the follower works in.
      enforcer.priced({ ...row, pricedAtMs: row.insertedAtMs });
    });
  }
  metrics.ledgerRows.inc(rows.length);
  const gaveUp = await followers.unpriced.next(enforcer.month);
  for (const row of gaveUp) {
    isolated('unpriced_row', row.key, () =>
      enforcer.unpriced({ ...row, unpricedAtMs: row.insertedAtMs }),
    );
  }
  metrics.unpricedRows.inc(gaveUp.length);
  // After the ledger and unpriced rows: a keeper's price is counted before its key's
  // estimate leaves; one stored between the reads counts at the next tick (a price after
  // an unpriced request counts).
  const reuses = await followers.quarantine.next(enforcer.month);
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
  enforcer.tracker.forgetSettled(Date.now() - deps.priceMemoryMs);
  metrics.outstanding.set(enforcer.tracker.remembered);
  metrics.waiting.set(enforcer.waiting);
  await deps.publish(enforcer.decide(at));
}
