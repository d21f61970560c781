import { describe, expect, it } from 'vitest';
import { booksOutOfBalance, outOfBalance, renderAudit, type AuditReport } from '../src/index.js';

const report: AuditReport = {
  month: '2026-11',
  at: '2026-11-26T06:00:00.000Z',
  violations: 12,
  results: [
    {
      check: 'usage',
      month: '2026-11',
      ok: false,
      violations: 12,
      examples: [
        { problem: 'pending past the pricing deadline', request_id: 'r1', pending_for_ms: 90_000 },
        { problem: 'in none of ledger, unpriced and pending', request_id: 'r22' },
      ],
      summary: '3 routed requests reached a provider',
    },
    { check: 'duplicates', month: '2026-11', ok: true, violations: 0, examples: [], summary: 's' },
    {
      check: 'enforcement',
      month: '2026-11',
      ok: false,
      violations: 0,
      examples: [],
      summary: '',
      skipped: 'enforcement not running here',
    },
  ],
};

describe('the audit as text', () => {
  it('shows per check ok, skipped or its violations, with the first examples as a table', () => {
    expect(renderAudit(report)).toBe(
      [
        'nanobill audit 2026-11 at 2026-11-26T06:00:00.000Z',
        '',
        'usage: 12 violations',
        '  3 routed requests reached a provider',
        '  problem                                  request_id  pending_for_ms',
        '  pending past the pricing deadline        r1          90000',
        '  in none of ledger, unpriced and pending  r22',
        '  … and 10 more',
        '',
        'duplicates: ok',
        '  s',
        '',
        'enforcement: skipped: enforcement not running here',
        '',
      ].join('\n'),
    );
  });

  it('is out of balance on a violation or a failed check, not on a skipped one', () => {
    expect(outOfBalance(report)).toBe(true);
    const skippedOnly = { ...report, results: report.results.slice(1) };
    expect(outOfBalance(skippedOnly)).toBe(false);
    const failed = {
      ...report,
      results: [{ ...report.results[1]!, ok: false, error: 'ClickHouse away' }],
    };
    expect(outOfBalance(failed)).toBe(true);
  });

  it('names the check and the month in the alert id, once per check and month', () => {
    const alert = booksOutOfBalance(report.results[0]!, new Date('2026-11-26T06:00:00Z'));
    expect(alert).toMatchObject({
      alertId: 'books_out_of_balance:usage:2026-11',
      type: 'books_out_of_balance',
      severity: 'critical',
      details: { check: 'usage', month: '2026-11', violations: 12 },
    });
    expect(alert.message).toContain('nanobill audit --month 2026-11');
  });
});
