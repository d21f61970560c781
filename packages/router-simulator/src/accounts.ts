import type { AccountSnapshot } from '@nanobill/contract';
import type { EventGenerator } from './generator.js';
import { createRng } from './prng.js';

/**
 * Account snapshots for the generator's users and orgs, as the hub would publish them on
 * `billing.accounts.v1`: about one user in five on PRO; most orgs on team or enterprise (some
 * on the free org plan, so attribution fallbacks happen), seats at least their member count, and
 * one paying org in four with a monthly spending limit of $1 to $20 (so limits are reached).
 */
export function accountSnapshots(generator: EventGenerator, effectiveAt: Date): AccountSnapshot[] {
  const rng = createRng(generator.seed, 7);
  const at = effectiveAt.toISOString();
  const users: AccountSnapshot[] = generator.users().map((accountId) => ({
    schemaVersion: 1,
    accountId,
    kind: 'user',
    plan: rng.chance(0.2) ? 'pro' : 'free',
    effectiveAt: at,
  }));
  const orgs: AccountSnapshot[] = [...generator.orgMembers()].map(([accountId, members]) => {
    const roll = rng.float();
    const plan = roll < 0.15 ? 'free' : roll < 0.7 ? 'team' : 'enterprise';
    const seats = Math.max(1, members.length + rng.int(3));
    const limited = plan !== 'free' && rng.chance(0.25);
    return {
      schemaVersion: 1,
      accountId,
      kind: 'org',
      plan,
      effectiveAt: at,
      seats,
      members: [...members],
      ...(limited ? { spendingLimitNanoUsd: (1 + rng.int(20)) * 1_000_000_000 } : {}),
    };
  });
  return [...users, ...orgs];
}
