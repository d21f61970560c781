import { z } from 'zod';
import { nanoUsdDigits } from './nano-usd.js';

/** Nano-USD leaving the system: always a decimal string of digits (docs/contract.md §1). */
const nanoUsdString = nanoUsdDigits.describe(
  'nano-USD as a decimal string of digits, at most 9223372036854775807',
);

/**
 * `AccountStatus` v1 on the compacted topic `billing.account-status.v1` (key: the account id) and
 * the body of `GET /v1/accounts/{id}/status` (docs/contract.md §6). The router refuses requests of
 * a `blocked` account and routes an org's requests around its disabled providers.
 *
 * Amounts are decimal strings (never JSON numbers), so a router in any language reads them exactly.
 */
export const AccountStatus = z.object({
  schemaVersion: z.literal(1),
  accountId: z.string().min(1).max(256),
  kind: z.enum(['user', 'org']),
  plan: z.string().min(1),
  /** The calendar month (UTC) the spend belongs to. */
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, { error: 'must be YYYY-MM' }),
  status: z.enum(['ok', 'warning', 'blocked']),
  reason: z.string().min(1),
  /** What the status is measured against: the month's credits, the org's limit, or nothing. */
  basis: z.enum(['credits', 'spending_limit', 'none']),
  /** Month-to-date spend = priced + estimated. */
  spendNanoUsd: nanoUsdString,
  pricedNanoUsd: nanoUsdString,
  estimatedNanoUsd: nanoUsdString,
  /** The spending limit or the credits measured against; absent when basis is 'none'. */
  limitNanoUsd: nanoUsdString.optional(),
  disabledProviders: z.array(z.string().min(1)),
  /** When nanobill decided this status. */
  updatedAt: z.iso.datetime({ offset: false }),
});
export type AccountStatus = z.infer<typeof AccountStatus>;
