import { alertIdPart } from '@nanobill/contract';
import { checkMonth } from '@nanobill/calendar';
import { checkNonEmpty } from './check.js';
import { CROSSING_KINDS, type CrossingKind } from './thresholds.js';

/**
 * The key that makes a threshold alert fire once per account, threshold and month (docs/contract.md
 * §7), usable as the alert's deterministic `alertId`: `threshold:${month}:${account}:${kind}`,
 * where `account` is the account id when it is a plain name and a digest of it otherwise
 * (`alertIdPart`), so any account id gives a valid, unambiguous id.
 */
export function alertKey(accountId: string, month: string, kind: CrossingKind): string {
  checkNonEmpty('accountId', accountId);
  checkMonth(month);
  if (!CROSSING_KINDS.includes(kind)) {
    throw new RangeError(`unknown crossing kind ${JSON.stringify(kind)}`);
  }
  return `threshold:${month}:${alertIdPart(accountId)}:${kind}`;
}
