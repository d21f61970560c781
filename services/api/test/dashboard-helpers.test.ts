import { describe, expect, it } from 'vitest';
import { ApiError, describeError } from '../public/api.js';
import { count, usd, usdTick } from '../public/format.js';
import { controlForField, problemText, settingsBody } from '../public/settings-form.js';
import { spendMeter } from '../public/spend-meter.js';
import * as usage from '../public/usage.js';

// The dashboard's pure helpers (services/api/public/*.js without DOM): text, dates, chart rows,
// the month's meter and the settings form's rules. money.js has money-js.test.ts.

describe('format.js', () => {
  it('shows nano-USD exactly with thousands separators, and "—" for anything else', () => {
    expect(usd('1234500000000')).toBe('$1,234.50');
    expect(usd(7n)).toBe('$0.000000007');
    expect(usd('9223372036854775807')).toBe('$9,223,372,036.854775807');
    expect(usd('1.5')).toBe('—');
    expect(usd(undefined)).toBe('—');
  });

  it('counts with separators, and chart ticks through the nano path', () => {
    expect(count(1234567)).toBe('1,234,567');
    expect(count('12')).toBe('12');
    expect(count('x')).toBe('—');
    expect(usdTick(0.1)).toBe('$0.10');
    expect(usdTick(1234.5)).toBe('$1,234.50');
    expect(usdTick('nope')).toBe('');
  });
});

describe('usage.js: windows, buckets and dates (UTC)', () => {
  const now = new Date('2026-03-15T13:20:00.000Z');

  it('ends every window at the next whole hour and aligns its start to the buckets', () => {
    expect(usage.usageWindow('24h', now)).toEqual({
      from: new Date('2026-03-14T14:00:00.000Z'),
      to: new Date('2026-03-15T14:00:00.000Z'),
      granularity: 'hour',
    });
    expect(usage.usageWindow('7d', now).from).toEqual(new Date('2026-03-09T00:00:00.000Z'));
    expect(usage.usageWindow('30d', now)).toMatchObject({
      from: new Date('2026-02-14T00:00:00.000Z'),
      granularity: 'day',
    });
    expect(usage.usageWindow('12m', now)).toMatchObject({
      from: new Date('2025-04-01T00:00:00.000Z'),
      granularity: 'month',
    });
    expect(usage.usageWindow('unknown', now)).toEqual(usage.usageWindow('7d', now));
  });

  it('lists bucket starts by hour, day and calendar month', () => {
    const from = new Date('2026-01-31T00:00:00.000Z');
    expect(usage.bucketStarts(from, new Date('2026-01-31T03:00:00.000Z'), 'hour')).toEqual([
      '2026-01-31T00:00:00.000Z',
      '2026-01-31T01:00:00.000Z',
      '2026-01-31T02:00:00.000Z',
    ]);
    expect(usage.bucketStarts(from, new Date('2026-02-02T00:00:00.000Z'), 'day')).toHaveLength(2);
    expect(
      usage.bucketStarts(
        new Date('2026-01-01T00:00:00.000Z'),
        new Date('2026-04-01T00:00:00Z'),
        'month',
      ),
    ).toEqual(['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
  });

  it('reads zone-less ClickHouse times as UTC and formats them', () => {
    expect(usage.normalizeIso('2025-01-02 03:00:00')).toBe('2025-01-02T03:00:00.000Z');
    expect(usage.normalizeIso('2025-01-02')).toBe('2025-01-02T00:00:00.000Z');
    expect(usage.normalizeIso('garbage')).toBe('garbage');
    expect(usage.formatUtc('2025-03-04T12:34:56.789Z')).toBe('2025-03-04 12:34:56 UTC');
    expect(usage.formatUtc('')).toBe('—');
    expect(usage.formatUtc(null)).toBe('—');
    expect(usage.bucketLabel('2025-03-04T13:00:00.000Z', 'hour')).toBe('03-04 13:00');
    expect(usage.bucketLabel('2025-03-04T00:00:00.000Z', 'day')).toBe('2025-03-04');
    expect(usage.bucketLabel('2025-03-01T00:00:00.000Z', 'month')).toBe('2025-03');
  });

  it('computes exact percentages from bigints', () => {
    expect(usage.percentText(8437n, 10_000n)).toBe('84.37 %');
    expect(usage.percentText(1n, 0n)).toBe('');
    expect(usage.percentNumber(3n, 2n)).toBe(100);
    expect(usage.percentNumber(1n, 4n)).toBe(25);
    expect(usage.toNano('-12')).toBe(-12n);
    expect(usage.toNano('1e3')).toBe(0n);
  });
});

describe('usage.js: prepareUsage (the chart rows)', () => {
  const window_ = {
    from: new Date('2026-10-05T00:00:00.000Z'),
    to: new Date('2026-10-08T00:00:00.000Z'),
    granularity: 'day',
  };
  const point = (t: string, cost: string, requests = 1) => ({
    t,
    requests,
    inputTokens: 10,
    outputTokens: 5,
    costNanoUsd: cost,
  });

  it('fills every bucket of the window, keeps costs exact and sorts by cost', () => {
    const prepared = usage.prepareUsage(
      {
        granularity: 'day',
        from: '2026-10-05T00:00:00.000Z',
        to: '2026-10-08T00:00:00.000Z',
        series: [
          { key: 'bob', points: [point('2026-10-06T00:00:00.000Z', '1')] },
          {
            key: 'alice',
            points: [
              point('2026-10-05T00:00:00.000Z', '9007199254740993'),
              point('2026-10-07 00:00:00', '2'),
            ],
          },
        ],
      },
      window_,
    );
    expect(prepared.times).toEqual([
      '2026-10-05T00:00:00.000Z',
      '2026-10-06T00:00:00.000Z',
      '2026-10-07T00:00:00.000Z',
    ]);
    expect(prepared.rows.map((row) => [row.key, row.cost, row.totalCost])).toEqual([
      ['alice', [9_007_199_254_740_993n, 0n, 2n], 9_007_199_254_740_995n],
      ['bob', [0n, 1n, 0n], 1n],
    ]);
    expect(prepared.bucketTotals).toEqual([9_007_199_254_740_993n, 1n, 2n]);
    expect(prepared.shown).toEqual(prepared.rows);
  });

  it('sums the keys past the top ones into one "Other (n)" row', () => {
    const series = Array.from({ length: 5 }, (_, i) => ({
      key: `k${i}`,
      points: [point('2026-10-05T00:00:00.000Z', String(10 - i), 2)],
    }));
    const prepared = usage.prepareUsage({ series }, window_, 2);
    expect(prepared.shown.map((row) => row.label)).toEqual(['k0', 'k1', 'Other (3)']);
    const other = prepared.shown[2]!;
    expect(other).toMatchObject({ other: true, totalCost: 8n + 7n + 6n, totalRequests: 6 });
    expect(prepared.bucketTotals[0]).toBe(10n + 9n + 8n + 7n + 6n);
  });
});

describe('spend-meter.js', () => {
  const spend = {
    grossNanoUsd: '6000000000',
    creditsGrantedNanoUsd: '4000000000',
    creditsAppliedNanoUsd: '4000000000',
    forecastNanoUsd: '9000000000',
    limitNanoUsd: '10000000000' as string | null,
  };

  it('scales to the limit: credits, then the payable part, and the forecast marker', () => {
    expect(spendMeter(spend)).toEqual({
      creditsWidth: 40,
      payableWidth: 20,
      forecastAt: 90,
      over: false,
      valueNow: 60,
      label: 'Gross spend against the $10.00 monthly limit: 60.00 %',
      valueText: '$6.00 of $10.00 limit (60.00 %)',
    });
    expect(spendMeter({ ...spend, grossNanoUsd: '10000000000' }).over).toBe(true);
  });

  it('scales to the largest of credits, gross and forecast without a limit', () => {
    const meter = spendMeter({ ...spend, limitNanoUsd: null });
    expect(meter).toMatchObject({ creditsWidth: 44.44, forecastAt: 100, over: false });
    expect(meter.label).toBe(
      'Gross spend against $4.00 of credits (no spending limit set): 150.00 %',
    );
  });
});

describe('settings-form.js', () => {
  const form = { limitText: '', disabledProviders: ['groq'], webhookText: '' };

  it('makes the PUT body, an empty field clearing its setting', () => {
    expect(
      settingsBody({ ...form, limitText: ' 1,234.5 ', webhookText: 'https://h.example/x' }),
    ).toEqual({
      body: {
        spendingLimitNanoUsd: '1234500000000',
        disabledProviders: ['groq'],
        alertWebhookUrl: 'https://h.example/x',
      },
      problems: [],
    });
    expect(settingsBody(form).body).toEqual({
      spendingLimitNanoUsd: null,
      disabledProviders: ['groq'],
      alertWebhookUrl: null,
    });
  });

  it("names each field's problem, in the form's order", () => {
    expect(settingsBody({ ...form, limitText: '-1', webhookText: 'http://h/x' }).problems).toEqual([
      ['limit', 'The limit cannot be negative.'],
      ['webhook', 'Enter an https:// URL, e.g. https://example.com/hooks/nanobill.'],
    ]);
    expect(settingsBody({ ...form, limitText: '9223372036.854775808' }).problems).toEqual([
      ['limit', 'At most $9,223,372,036.854775807.'],
    ]);
    expect(settingsBody({ ...form, limitText: '0.0000000001' }).problems[0]?.[0]).toBe('limit');
  });

  it("maps the API's 400 field to its control and strips the field's name", () => {
    expect(controlForField('spendingLimitNanoUsd')).toBe('limit');
    expect(controlForField('disabledProviders.0')).toBe('providers');
    expect(controlForField('alertWebhookUrl')).toBe('webhook');
    expect(controlForField('body')).toBeNull();
    expect(problemText('alertWebhookUrl', 'alertWebhookUrl: must be an https URL')).toBe(
      'must be an https URL',
    );
    expect(problemText(undefined, 'nothing to change')).toBe('nothing to change');
  });
});

describe('api.js: describeError', () => {
  it('says what failed and what to do', () => {
    expect(describeError(new ApiError(0, null), 'usage')).toBe(
      'Could not reach the server to load usage. Check the connection and try Refresh.',
    );
    expect(describeError(new ApiError(429, null, '7'), 'usage')).toBe(
      'Too many requests while loading usage (429). Try again in 7 s.',
    );
    expect(describeError(new ApiError(500, { error: 'internal error' }), 'alerts')).toBe(
      'The server failed to load alerts (500). Try Refresh.',
    );
    expect(describeError(new ApiError(400, { error: 'from: bad' }), 'usage')).toBe(
      'Could not load usage: from: bad (400).',
    );
  });
});
