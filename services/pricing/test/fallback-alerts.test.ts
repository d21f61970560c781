import { describe, expect, it } from 'vitest';
import { Alert } from '@nanobill/contract';
import type { FallbackCause } from '@nanobill/attribution';
import { fallbackAlerts } from '../src/fallback-alerts.js';
import type { LedgerRow } from '@nanobill/tables';

const NOW = new Date('2026-11-20T12:00:00Z');

function row(billTo: string | null): LedgerRow {
  return {
    provider: 'groq',
    provider_request_id: 'p-1',
    request_id: 'r-1',
    event_time: '2026-11-20T11:00:00.000Z',
    user_id: 'alice',
    bill_to: billTo,
    model: 'm',
    task: 'conversational',
    priced_at: NOW.toISOString(),
    billed_account: 'alice',
    attribution: 'user_fallback',
    attribution_reason: 'precise reason for finance',
    cost_nano_usd: '1000',
    cost_source: 'provider_api',
    input_tokens: null,
    output_tokens: null,
  };
}

describe('attribution fallback alerts', () => {
  it.each<[FallbackCause, string, boolean]>([
    ['free_org', 'acme', true],
    ['not_member', 'acme', true],
    ['unknown_org', 'acme', false],
    // A header that cannot be an org's name: nobody to tell but the user.
    ['invalid_org_name', 'acme\u0000\n\u202e' + 'é'.repeat(200), false],
  ])('%s: the user is told, the org only when it is one', (cause, billTo, orgTold) => {
    const alerts = fallbackAlerts([{ row: row(billTo), cause }], NOW);
    expect(alerts.map((a) => a.accountId)).toEqual(orgTold ? ['alice', billTo] : ['alice']);
    for (const alert of alerts) expect(Alert.safeParse(alert).success, alert.alertId).toBe(true);
    // The user's alert is the same whatever the cause: it reveals nothing about the org.
    expect(alerts[0]!.message).not.toMatch(/plan|member|precise/);
    // The org learns who named it (the user id) and why, nothing else of the request.
    const toOrg = JSON.stringify(alerts[1] ?? {});
    for (const secret of ['r-1', 'p-1', 'groq', 'conversational', '1000', 'precise']) {
      expect(toOrg).not.toContain(secret);
    }
  });
});
