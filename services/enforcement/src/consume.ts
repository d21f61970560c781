import { pricingKey, pricingRoute, type requestEventDecoder } from '@nanobill/contract';
import { estimateCost, type PriceSources } from '@nanobill/enforcement';
import type { PartitionBatch } from '@nanobill/kafka';
import type { Decisions, Enforcer } from './enforcer.js';
import type { Isolated } from './isolated.js';
import type { EnforcementMetrics } from './metrics.js';

export interface EventHandlerDeps {
  decode: ReturnType<typeof requestEventDecoder>;
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
      const decoded = deps.decode(message);
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
      isolated('event', event.userId, () => {
        const estimate = estimateCost(event, deps.sources);
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
