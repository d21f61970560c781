import { describe, expect, it } from 'vitest';
import { billedAccount } from '../src/index.js';

describe('billedAccount', () => {
  it('bills the org named in X-HF-Bill-To', () => {
    expect(billedAccount({ userId: 'u1', billTo: 'acme' })).toEqual({
      accountId: 'acme',
      attribution: 'org',
      reason: '',
    });
  });
  it('bills the user without X-HF-Bill-To', () => {
    expect(billedAccount({ userId: 'u1' })).toEqual({
      accountId: 'u1',
      attribution: 'user',
      reason: '',
    });
    expect(billedAccount({ userId: 'u1', billTo: null })).toEqual({
      accountId: 'u1',
      attribution: 'user',
      reason: '',
    });
  });
});
