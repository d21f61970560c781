import { describe, expect, it } from 'vitest';
import { decodeAccountMessage, decodeOrgSettings, settingsKey } from '../src/index.js';

const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));
const settings = (fields: Record<string, unknown>) => ({
  schemaVersion: 1,
  source: 'admin',
  accountId: 'acme',
  effectiveAt: '2026-11-02T10:00:00.000Z',
  ...fields,
});

describe('OrgSettings on billing.accounts.v1', () => {
  it('tells settings (source "admin") from the hub snapshots', () => {
    const admin = decodeAccountMessage(bytes(settings({ spendingLimitNanoUsd: '5' })));
    expect(admin).toMatchObject({ ok: true, value: { type: 'settings' } });
    const hub = decodeAccountMessage(
      bytes({
        schemaVersion: 1,
        accountId: 'acme',
        kind: 'user',
        plan: 'pro',
        effectiveAt: '2026-11-02T10:00:00.000Z',
      }),
    );
    expect(hub).toMatchObject({ ok: true, value: { type: 'snapshot' } });
  });

  it('carries admin-owned fields only; null removes a setting', () => {
    for (const fields of [
      { spendingLimitNanoUsd: null },
      { spendingLimitNanoUsd: 9, alertWebhookUrl: null },
      { disabledProviders: [] },
      { alertWebhookUrl: 'https://hooks.acme.example/a' },
    ]) {
      expect(decodeOrgSettings(bytes(settings(fields))).ok, JSON.stringify(fields)).toBe(true);
    }
    for (const [fields, field] of [
      [{ spendingLimitNanoUsd: '1', members: ['mallory'] }, 'members'],
      [{ spendingLimitNanoUsd: '1', plan: 'enterprise' }, 'plan'],
      [{ spendingLimitNanoUsd: '1', seats: 100 }, 'seats'],
      [{ spendingLimitNanoUsd: '1', kind: 'org' }, 'kind'],
      [{}, 'at least one'],
      [{ spendingLimitNanoUsd: '-1' }, 'spendingLimitNanoUsd'],
      [{ alertWebhookUrl: 'http://hooks.acme.example/a' }, 'alertWebhookUrl'],
      [{ disabledProviders: ['groq', 'groq'] }, 'disabledProviders'],
    ] as const) {
      const decoded = decodeAccountMessage(bytes(settings(fields)));
      expect(decoded.ok, JSON.stringify(fields)).toBe(false);
      if (!decoded.ok) {
        expect(decoded.code).toBe('schema_violation');
        expect(decoded.reason).toContain(field);
      }
    }
  });

  it('is keyed per field, never like an account (whose key is its id)', () => {
    expect(settingsKey('acme', 'spendingLimitNanoUsd')).toBe('acme:spendingLimitNanoUsd');
  });
});
