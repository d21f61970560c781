import { requestLabel, type requestClassifier } from '@nanobill/contract';
import { estimateCost, type PriceSources } from '@nanobill/enforcement';
import type { PartitionBatch } from '@nanobill/kafka';
import type { Decisions, Enforcer } from './enforcer.js';
import type { Isolated } from './isolated.js';
import type { EnforcementMetrics } from './metrics.js';

export interface EventHandlerDeps {
  /** The one classification step of request events (reject / skip / price with its key). */
  classify: ReturnType<typeof requestClassifier>;
  /** Where estimates go and decisions come from (the Enforcer). */
  enforcer: Pick<Enforcer, 'seen' | 'decide'>;
  sources: PriceSources;
  /** Publishes what the batch changed; `causedAt`: when its first estimated event was appended. */
  publish(decisions: Decisions, causedAt?: number): Promise<void>;
  isolated: Isolated;
  metrics: EnforcementMetrics;
  now: () => Date;
  /** Events older than this are not estimated (the ledger's memory of them may be gone). */
  priceMemoryMs: number;
}

/**
 * Each batch of request events: an estimate for each event that pricing will price, then the
 * statuses and alerts that changed, published before the batch's offsets are committed.
 */
export function eventHandler(deps: EventHandlerDeps): (batch: PartitionBatch) => Promise<void> {
  const { enforcer, metrics, isolated } = deps;
  return async (batch) => {
    const at = deps.now();
    const oldest = at.getTime() - deps.priceMemoryMs;
    const outcomes = new Map<string, number>();
    const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    const bySource = new Map<string, number>();
    let firstAppended: number | undefined;
    for (const message of batch.messages) {
      const classified = deps.classify(message);
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
        const estimate = estimateCost(event, deps.sources);
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
    await deps.publish(enforcer.decide(at), firstAppended);
  };
}
