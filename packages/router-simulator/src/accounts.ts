import type { AccountSnapshot } from '@nanobill/contract';
import type { EventGenerator } from './generator.js';
import { createRng } from './prng.js';

/**
 * Account snapshots for the generator's users and orgs, as the hub would publish them on
 * `billing.accounts.v1`: about one user in five on PRO; most orgs on team or enterprise (some
 * on the free org plan, so attribution fallbacks happen), seats at least their member count.
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
    return {
      schemaVersion: 1,
      accountId,
      kind: 'org',
      plan: roll < 0.15 ? 'free' : roll < 0.7 ? 'team' : 'enterprise',
      effectiveAt: at,
      seats: Math.max(1, members.length + rng.int(3)),
      members: [...members],
    };
  });
  return [...users, ...orgs];
}
