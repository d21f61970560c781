import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deliveryFailing, DlqWatch } from '@nanobill/alerts';
import { ALERT_ID_PATTERN, Alert, alertIdPart, isValidAlertId } from '@nanobill/contract';
import { alertKey } from '@nanobill/enforcement';
import { endpointFailingAlertId, fallbackAlerts, unpricedAlertId } from '@nanobill/pricing';

// Every alert id builder, fed what a hostile or broken sender can put in its inputs: a router
// user's X-HF-Bill-To and user id (up to 256 characters of anything), account ids from upstream
// snapshots, provider names and topics from configuration, other alerts' ids. Each id must be a
// valid one (1-256 visible ASCII), or the alert cannot travel as a Kafka key and an HTTP header.

/** Anything a string can hold: control characters, lone surrogates, RTL overrides, emoji. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 256 }),
  fc.constantFrom(
    'acme\u0000corp',
    'acme\r\nX-Injected: 1',
    'acme\u202egnp.exe',
    '🏴‍☠️💸',
    'é'.repeat(256),
    `"acme'; DROP TABLE billing.ledger; --`,
    ' ',
    'a:b:c',
    '~0123456789abcdef0123456789abcdef',
    'x'.repeat(256),
  ),
);
const month = fc
  .tuple(fc.integer({ min: 2000, max: 2999 }), fc.integer({ min: 1, max: 12 }))
  .map(([y, m]) => `${y}-${String(m).padStart(2, '0')}`);
const KINDS = [
  'limit_50',
  'limit_80',
  'limit_100',
  'credits_exhausted',
  'pay_as_you_go_started',
  'spend_10_usd',
  'spend_100_usd',
  'spend_1000_usd',
] as const;
const AT = new Date('2026-11-05T10:00:00.000Z');

function ledgerRow(billTo: string, user: string) {
  return {
    provider: 'groq',
    provider_request_id: 'p1',
    request_id: 'r1',
    event_time: '2026-11-05T09:00:00.000Z',
    user_id: user,
    bill_to: billTo,
    model: 'm',
    task: 't',
    priced_at: AT.toISOString(),
    billed_account: user,
    attribution: 'user_fallback',
    attribution_reason: 'precise, for finance',
    cost_nano_usd: '1',
    cost_source: 'provider_api' as const,
    input_tokens: null,
    output_tokens: null,
  };
}

describe('alertIdPart', () => {
  it('keeps plain names, so ordinary ids stay readable', () => {
    for (const name of ['acme', 'alice', 'my-org_2.0', 'groq', 'inference.requests.dlq.v1']) {
      expect(alertIdPart(name)).toBe(name);
    }
  });

  it('turns anything else into ~ and 32 hex digits, never with a colon', () => {
    fc.assert(
      fc.property(anyText, (value) => {
        const part = alertIdPart(value);
        expect(part).toMatch(/^(?:[A-Za-z0-9._-]{1,96}|~[0-9a-f]{32})$/);
        return !part.includes(':');
      }),
    );
    expect(alertIdPart('a:b')).toMatch(/^~[0-9a-f]{32}$/);
    expect(alertIdPart('x'.repeat(97))).toMatch(/^~[0-9a-f]{32}$/);
  });

  it('keeps different values apart (a digest never equals a plain name)', () => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        fc.pre(a !== b);
        return alertIdPart(a) !== alertIdPart(b);
      }),
    );
    const digested = alertIdPart('a:b');
    expect(alertIdPart(digested)).not.toBe(digested); // '~…' is not plain: digested again
  });
});

describe('the Alert schema takes the sender’s rule for ids', () => {
  const alert = {
    schemaVersion: 1,
    alertId: 'threshold:2026-11:acme:limit_80',
    type: 'spend_threshold',
    severity: 'warning',
    accountId: 'acme',
    message: 'm',
    details: {},
    createdAt: AT.toISOString(),
  };

  it.each([
    ['empty', ''],
    ['a NUL', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['a space', 'a b'],
    ['DEL', 'a\u007fb'],
    ['non-ASCII', 'café'],
    ['an RTL override', 'a\u202eb'],
    ['257 characters', 'x'.repeat(257)],
  ])('refuses an id with %s', (_name, alertId) => {
    expect(Alert.safeParse({ ...alert, alertId }).success).toBe(false);
    expect(isValidAlertId(alertId)).toBe(false);
  });

  it('accepts 1 to 256 visible ASCII characters', () => {
    for (const alertId of ['x', '~', 'x'.repeat(256), 'a:b/c?d=e&f#g!"\'`']) {
      expect(Alert.safeParse({ ...alert, alertId }).success).toBe(true);
    }
  });
});

describe('every alert id builder gives a valid id, whatever its inputs', () => {
  it('threshold alerts (enforcement), any account id', () => {
    fc.assert(
      fc.property(anyText, month, fc.constantFrom(...KINDS), (account, m, kind) =>
        ALERT_ID_PATTERN.test(alertKey(account, m, kind)),
      ),
    );
    // Distinct accounts, distinct ids: one account's alert cannot silence another's.
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        fc.pre(a !== b);
        return alertKey(a, '2026-11', 'limit_80') !== alertKey(b, '2026-11', 'limit_80');
      }),
    );
  });

  it('attribution fallbacks (pricing), any X-HF-Bill-To and user id, to the user and the org', () => {
    fc.assert(
      fc.property(
        anyText,
        anyText,
        fc.constantFrom('unknown_org', 'free_org', 'not_member'),
        (billTo, user, cause) => {
          const alerts = fallbackAlerts([{ row: ledgerRow(billTo, user), cause }], AT);
          expect(alerts.length).toBe(cause === 'unknown_org' ? 1 : 2);
          for (const alert of alerts) Alert.parse(alert);
          return alerts.every((a) => ALERT_ID_PATTERN.test(a.alertId));
        },
      ),
    );
  });

  it('cost endpoint and unpriced alerts (pricing), any provider name', () => {
    fc.assert(
      fc.property(anyText, fc.array(anyText, { maxLength: 5 }), (provider, ids) => {
        const rows = ids.map((id) => ({ provider_request_id: id }));
        return (
          ALERT_ID_PATTERN.test(endpointFailingAlertId(provider, AT)) &&
          ALERT_ID_PATTERN.test(unpricedAlertId(provider, AT, rows))
        );
      }),
    );
  });

  it('DLQ growth (alerts), any topic name', () => {
    fc.assert(
      fc.property(anyText, (topic) => {
        const watch = new DlqWatch(1, 60_000);
        watch.observe(topic, 0n, 0);
        const growth = watch.observe(topic, 5n, 1_000);
        return growth !== undefined && ALERT_ID_PATTERN.test(growth.alertId);
      }),
    );
  });

  it('webhook delivery failing (alerts), any failed alert id, even an invalid stored one', () => {
    fc.assert(
      fc.property(anyText, (failedId) => {
        const alert = deliveryFailing(
          {
            alertId: failedId,
            accountId: 'acme',
            type: 'spend_threshold',
            url: 'https://hooks.example/secret-path?token=abc',
            body: '{}',
            attempt: 10,
            dueAtMs: 0,
          },
          'HTTP 503',
          AT,
        );
        Alert.parse(alert);
        expect(JSON.stringify(alert)).not.toContain('secret-path');
        return ALERT_ID_PATTERN.test(alert.alertId);
      }),
    );
  });
});

describe('attribution fallback alerts say nothing of the org to the user', () => {
  it('the user gets the same words whatever the cause; the org hears only of its own facts', () => {
    const alerts = (cause: 'unknown_org' | 'free_org' | 'not_member') =>
      fallbackAlerts([{ row: ledgerRow('acme', 'bob'), cause }], AT);
    const toUser = (['unknown_org', 'free_org', 'not_member'] as const).map((cause) =>
      alerts(cause).find((a) => a.accountId === 'bob')!,
    );
    expect(new Set(toUser.map((a) => a.message)).size).toBe(1);
    expect(new Set(toUser.map((a) => JSON.stringify(a.details))).size).toBe(1);
    expect(toUser[0]!.message).not.toMatch(/free|plan|member|known/);
    expect(toUser[0]!.message).not.toContain('precise, for finance');

    const toOrg = alerts('free_org').find((a) => a.accountId === 'acme')!;
    expect(toOrg.alertId).toBe('attribution_fallback:2026-11:acme:bob:org');
    expect(toOrg.message).toContain('free plan');
    expect(toOrg.details).toEqual({
      billTo: 'acme',
      userId: 'bob',
      month: '2026-11',
      cause: 'free_org',
    });
    expect(alerts('not_member').find((a) => a.accountId === 'acme')!.message).toContain(
      'not a member',
    );
    // An unknown name, or a user's account: nobody to tell.
    expect(alerts('unknown_org').map((a) => a.accountId)).toEqual(['bob']);
  });
});
