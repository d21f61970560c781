import { HF_INFERENCE } from './providers.js';
import type { RoutedRequestEvent } from './request-event.js';

/** A request that reached a provider: it has the id its cost is asked by. */
export type ReachedEvent = RoutedRequestEvent & { providerRequestId: string };

/** Why a valid request costs nothing to HF (recorded in billing.usage only). */
export type SkipReason = 'custom_key' | 'not_reached';

/** How a request that costs money is priced: by HF's own rate card, or by the provider. */
export type PriceRoute = 'compute_time' | 'cost_endpoint';

/**
 * What nanobill does with a valid request event (docs/contract.md §3, §4): skip it, with the
 * reason, or price it by a route under its pricing key.
 */
export type RequestDecision =
  | { action: 'skip'; reason: SkipReason; event: RoutedRequestEvent }
  | { action: 'price'; route: PriceRoute; key: string; event: ReachedEvent };

/** Which requests cost money, and how they are priced: the rule pricing and limits share. */
export function decideRequest(event: RoutedRequestEvent): RequestDecision {
  // The provider bills the user directly; HF charges nothing (recorded in billing.usage only).
  if (event.billingMode === 'custom_key') return { action: 'skip', reason: 'custom_key', event };
  // Never reached a provider: there is nothing to ask about and nothing to bill.
  if (!reachedProvider(event)) return { action: 'skip', reason: 'not_reached', event };
  return {
    action: 'price',
    route: event.provider === HF_INFERENCE ? 'compute_time' : 'cost_endpoint',
    key: pricingKey(event.provider, event.providerRequestId),
    event,
  };
}

function reachedProvider(event: RoutedRequestEvent): event is ReachedEvent {
  return event.providerRequestId !== undefined;
}

/** A priced request's identity: the ledger's uniqueness rule, one row per provider request id. */
export function pricingKey(provider: string, providerRequestId: string): string {
  return `${provider}\u0000${providerRequestId}`;
}
