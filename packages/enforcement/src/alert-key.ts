import { checkMonth } from '@nanobill/credits';
import { checkNonEmpty } from './check.js';
import { CROSSING_KINDS, type CrossingKind } from './thresholds.js';

/**
 * The key that makes a threshold alert fire once per account, threshold and month (PRODUCT.md
 * §7), usable as the alert's deterministic `alertId`: `threshold:${month}:${accountId}:${kind}`.
 * Unambiguous even if an account id contained ':' (the month has a fixed width and the kind,
 * last, has no ':').
 */
export function alertKey(accountId: string, month: string, kind: CrossingKind): string {
  checkNonEmpty('accountId', accountId);
  checkMonth(month);
  if (!CROSSING_KINDS.includes(kind)) {
    throw new RangeError(`unknown crossing kind ${JSON.stringify(kind)}`);
  }
  return `threshold:${month}:${accountId}:${kind}`;
}
