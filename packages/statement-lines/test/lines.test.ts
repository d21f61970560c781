import { describe, expect, it } from 'vitest';
import { AccountHistory } from '@nanobill/attribution';
import type { AccountSnapshot } from '@nanobill/contract';
import { FREE_USER_GRANT, PRO_USER_GRANT } from '@nanobill/credits';
import { statementLines, type MonthActivity } from '../src/index.js';

const pro: AccountSnapshot = {
  schemaVersion: 1,
  accountId: 'alice',
  kind: 'user',
  plan: 'pro',
  effectiveAt: '2026-10-01T00:00:00Z',
};
const history = new AccountHistory();
history.add(pro);

const activity = (parts: Partial<MonthActivity>): MonthActivity => ({
  gross: new Map(),
  adjustments: new Map(),
  customKeyRequests: new Map(),
  ...parts,
});

describe('statementLines (pure)', () => {
  it('one line per account with any activity, sorted, with its month’s grant and figures', () => {
    const { lines, failed } = statementLines(
      '2026-11',
      activity({
        gross: new Map([['alice', 3_000_000_000n]]),
        adjustments: new Map([['carol', 5n]]),
        customKeyRequests: new Map([['bob', 2]]),
      }),
      history,
      'draft',
    );
    expect(failed).toEqual([]);
    expect(lines.map((l) => l.account_id)).toEqual(['alice', 'bob', 'carol']);
    const [alice, bob, carol] = lines;
    expect(alice).toMatchObject({
      month: '2026-11',
      plan: 'pro',
      gross: 3_000_000_000n,
      credits_granted: PRO_USER_GRANT,
      status: 'draft',
    });
    // Accounts without a snapshot are free users; custom-key requests alone make a line.
    expect(bob).toMatchObject({
      gross: 0n,
      custom_key_requests: 2,
      credits_granted: FREE_USER_GRANT,
    });
    expect(carol).toMatchObject({ gross: 5n, custom_key_requests: 0 });
  });

  it('no activity: no line', () => {
    expect(statementLines('2026-11', activity({}), history, 'final')).toEqual({
      lines: [],
      failed: [],
    });
  });
});
