import { describe, expect, it } from 'vitest';
import { INT64_MAX } from '@nanobill/money';
import type { StoredLine } from '@nanobill/statement-lines';
import { storableLines } from '../src/index.js';

function line(account: string, gross: bigint): StoredLine {
  return {
    month: '2026-11',
    account_id: account,
    account_kind: 'org',
    plan: 'team',
    gross,
    adjustment: 0n,
    credits_granted: 2_000_000_000n,
    credits_applied: gross < 2_000_000_000n ? gross : 2_000_000_000n,
    payable: gross < 2_000_000_000n ? 0n : gross - 2_000_000_000n,
    written_off: 0n,
    custom_key_requests: 0,
    status: 'draft',
  };
}

describe('storableLines: an account whose figure does not fit an Int64 column is left out', () => {
  it('keeps the others, and says which amount does not fit', () => {
    const fits = line('small', 5n);
    const edge = line('edge', INT64_MAX);
    const huge = line('huge', 4n * INT64_MAX);
    const { storable, refused } = storableLines([fits, huge, edge]);
    expect(storable).toEqual([fits, edge]);
    expect(refused).toEqual([
      {
        line: huge,
        reason: 'gross $36893488147.419103228 does not fit an Int64 column of nano-USD',
      },
    ]);
  });
});
