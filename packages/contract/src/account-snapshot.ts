import { z } from 'zod';
import {
  UINT32_MAX,
  WELL_FORMED_ERROR,
  accountId,
  isWellFormed,
  text,
  utcInstant,
} from './bounds.js';
import { nanoUsdDigits } from './nano-usd.js';

/**
 * Larger snapshots are rejected before parsing. An org's member list makes a snapshot much larger
 * than a request event; 1 MiB is Kafka's default message size limit anyway.
 */
export const MAX_ACCOUNT_SNAPSHOT_BYTES = 1024 * 1024;

/** Plans per account kind (docs/contract.md §5). */
export const USER_PLANS = ['free', 'pro'] as const;
export const ORG_PLANS = ['free', 'team', 'enterprise'] as const;
export type UserPlan = (typeof USER_PLANS)[number];
export type OrgPlan = (typeof ORG_PLANS)[number];

/** Longest provider name in `disabledProviders`, as for the request event's tags. */
const MAX_PROVIDER_NAME_LENGTH = 64;

/** A list without repeated entries; the issue names the repeated value and its index. */
function uniqueList(item: z.ZodString, what: string) {
  const list = z.array(item).meta({ uniqueItems: true });
  return list.check((ctx) => {
    const seen = new Set<string>();
    ctx.value.forEach((value, index) => {
      if (seen.has(value)) {
        ctx.issues.push({
          code: 'custom',
          message: `${JSON.stringify(value)} is listed twice in ${what}`,
          path: [index],
          input: ctx.value,
        });
      }
      seen.add(value);
    });
  });
}

/**
 * Nano-USD as JSON carries it (docs/contract.md §1): a safe integer, or a decimal string of digits
 * (no sign, no leading zeros) for larger values; never more than 2^63 − 1.
 */
const nanoUsdJson = z
  .union([z.int().nonnegative(), nanoUsdDigits])
  .describe(
    'nano-USD: a non-negative safe integer, or a decimal string of digits at most 9223372036854775807',
  );

const httpsUrl = z
  .url({ protocol: /^https$/, error: 'must be an https URL' })
  .regex(/^https:\/\/[^/]/, { error: 'must be an https URL' })
  .max(2048)
  .refine(isWellFormed, { error: WELL_FORMED_ERROR })
  .meta({ format: 'uri' });

/** Rejects a field on user snapshots with a message saying it belongs to orgs. */
const orgOnly = (field: string) =>
  z.never({ error: `only org snapshots carry ${field}` }).optional();

const common = {
  schemaVersion: z.literal(1),
  accountId,
  effectiveAt: utcInstant,
  alertWebhookUrl: httpsUrl.optional(),
};

const UserSnapshot = z.looseObject({
  ...common,
  kind: z.literal('user'),
  plan: z.enum(USER_PLANS, { error: "a user's plan is one of free, pro" }),
  seats: orgOnly('seats'),
  members: orgOnly('members'),
  spendingLimitNanoUsd: orgOnly('a spending limit'),
  disabledProviders: orgOnly('disabled providers'),
});

/** An org's snapshot (one side of `AccountSnapshot`): its `.shape` lists exactly the contract's fields. */
export const OrgSnapshot = z.looseObject({
  ...common,
  kind: z.literal('org'),
  plan: z.enum(ORG_PLANS, { error: "an org's plan is one of free, team, enterprise" }),
  // billing.account_snapshots.seats is a UInt32.
  seats: z.int({ error: 'an org has a whole number of seats' }).min(1).max(UINT32_MAX),
  members: uniqueList(accountId, 'members'),
  spendingLimitNanoUsd: nanoUsdJson.optional(),
  disabledProviders: z.array(text(MAX_PROVIDER_NAME_LENGTH)).optional(),
});

/**
 * `AccountSnapshot` v1 exactly as docs/contract.md §5 lists it, on `billing.accounts.v1` (key: the
 * account id). Account ids and members are the hub's names (1–96 letters, digits, `-`, `_`,
 * `.`); every value fits its column in `billing.account_snapshots` (`bounds.ts`). A union on `kind`, so that the plan is checked against the kind and org-only
 * fields are refused on users. Unknown extra fields are kept (`loose`), like the request event.
 * `spendingLimitNanoUsd` keeps its JSON form; read it with `spendingLimitOf`.
 */
export const AccountSnapshot = z.discriminatedUnion('kind', [UserSnapshot, OrgSnapshot], {
  error: (issue) => (issue.code === 'invalid_union' ? 'kind must be "user" or "org"' : undefined),
});
export type AccountSnapshot = z.infer<typeof AccountSnapshot>;
export type UserSnapshot = Extract<AccountSnapshot, { kind: 'user' }>;
export type OrgSnapshot = Extract<AccountSnapshot, { kind: 'org' }>;

/** An org's monthly spending limit in nano-USD, or `undefined` when none is set (or a user). */
export function spendingLimitOf(snapshot: AccountSnapshot): bigint | undefined {
  if (snapshot.kind !== 'org' || snapshot.spendingLimitNanoUsd === undefined) return undefined;
  return BigInt(snapshot.spendingLimitNanoUsd);
}

/**
 * The fields the org admin owns (docs/contract.md §5 "Facts have owners"), set through nanobill's
 * API; the hub owns `kind`, `plan`, `seats` and `members`.
 */
export const ADMIN_FIELDS = [
  'spendingLimitNanoUsd',
  'disabledProviders',
  'alertWebhookUrl',
] as const;
export type AdminField = (typeof ADMIN_FIELDS)[number];

/** Rejects a hub-owned field on a settings message. */
const hubOwned = (field: string) =>
  z
    .never({ error: `${field} is the hub's: a settings message carries only admin-owned fields` })
    .optional();

/**
 * `OrgSettings` v1: what an org admin changed, on `billing.accounts.v1` next to the hub's
 * snapshots, told apart by `source: "admin"`. It carries one or more admin-owned fields and none
 * of the hub's: a field present sets it from `effectiveAt` on (`null`, or `[]` for the disabled
 * providers, removes it), a field absent leaves it as it was. nanobill's API publishes one
 * message per field, keyed `<org>:<field>`, so that compaction keeps each field's latest value
 * and never an account's latest snapshot (key: the account id).
 */
export const OrgSettings = z
  .looseObject({
    schemaVersion: z.literal(1),
    source: z.literal('admin'),
    accountId,
    effectiveAt: utcInstant,
    spendingLimitNanoUsd: nanoUsdJson.nullable().optional(),
    disabledProviders: uniqueList(text(MAX_PROVIDER_NAME_LENGTH), 'disabledProviders').optional(),
    alertWebhookUrl: httpsUrl.nullable().optional(),
    kind: hubOwned('kind'),
    plan: hubOwned('plan'),
    seats: hubOwned('seats'),
    members: hubOwned('members'),
  })
  .refine((s) => ADMIN_FIELDS.some((field) => s[field] !== undefined), {
    error: `a settings message sets at least one of ${ADMIN_FIELDS.join(', ')}`,
  });
export type OrgSettings = z.infer<typeof OrgSettings>;

/** A setting's value as the facts hold it: `null` and an empty list remove it (`undefined`). */
export function settingValue(value: unknown): unknown {
  return value === null || (Array.isArray(value) && value.length === 0) ? undefined : value;
}

/** The Kafka key of a settings message for one field: never an account id (no ':' in those). */
export function settingsKey(accountId: string, field: AdminField): string {
  return `${accountId}:${field}`;
}
