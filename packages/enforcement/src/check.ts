import { ORG_PLANS, USER_PLANS, type OrgPlan, type UserPlan } from '@nanobill/credits';
import type { NanoUsd } from '@nanobill/money';

// Runtime checks for inputs that may come from untyped JSON (account snapshots, events).

export type AccountKind = 'user' | 'org';

export type KnownAccount = { kind: 'user'; plan: UserPlan } | { kind: 'org'; plan: OrgPlan };

/** The kind and plan, checked against each other (the plans are @nanobill/credits'). */
export function checkAccount(kind: unknown, plan: unknown): KnownAccount {
  if (kind === 'user') {
    if (!USER_PLANS.includes(plan as UserPlan)) {
      throw new RangeError(`unknown user plan ${JSON.stringify(plan)}`);
    }
    return { kind, plan: plan as UserPlan };
  }
  if (kind === 'org') {
    if (!ORG_PLANS.includes(plan as OrgPlan)) {
      throw new RangeError(`unknown org plan ${JSON.stringify(plan)}`);
    }
    return { kind, plan: plan as OrgPlan };
  }
  throw new RangeError(`unknown account kind ${JSON.stringify(kind)}`);
}

/** Throws unless `value` is a non-negative bigint amount. */
export function checkAmount(name: string, value: unknown): NanoUsd {
  if (typeof value !== 'bigint') {
    throw new TypeError(`${name} must be a bigint nano-USD amount, got ${typeof value}`);
  }
  if (value < 0n) throw new RangeError(`${name} must not be negative, got ${value}`);
  return value;
}

/** A spending limit is an org setting (docs/contract.md §5): user snapshots cannot carry one. */
export function checkLimit(kind: AccountKind, limit: unknown): NanoUsd | undefined {
  if (limit === undefined) return undefined;
  if (kind !== 'org') throw new RangeError('only orgs have a spending limit');
  return checkAmount('limit', limit);
}

export function checkNonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string`);
  }
  return value;
}
