import { HF_INFERENCE } from './providers.js';
import type { RoutedRequestEvent } from './request-event.js';

/** What pricing does with a request (docs/contract.md §3, §4). */
export type PricingRoute =
  | { route: 'skip'; reason: 'custom_key' | 'not_reached' }
  | { route: 'compute_time' }
  | { route: 'cost_endpoint' };

/** Which requests cost money, and how they are priced: the rule pricing and limits share. */
export function pricingRoute(event: RoutedRequestEvent): PricingRoute {
  // The provider bills the user directly; HF charges nothing (recorded in billing.usage only).
  if (event.billingMode === 'custom_key') return { route: 'skip', reason: 'custom_key' };
  // Never reached a provider: there is nothing to ask about and nothing to bill.
  if (event.providerRequestId === undefined) return { route: 'skip', reason: 'not_reached' };
  if (event.provider === HF_INFERENCE) return { route: 'compute_time' };
  return { route: 'cost_endpoint' };
}

/** A priced request's identity: the ledger's uniqueness rule, one row per provider request id. */
export function pricingKey(provider: string, providerRequestId: string): string {
  return `${provider}\u0000${providerRequestId}`;
}
