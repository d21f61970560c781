import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { queryValue, testClickHouse } from '@nanobill/testkit';
import {
  GRANULARITIES,
  GROUP_BYS,
  monthToDateCost,
  usageSeries,
  type Granularity,
  type GroupBy,
  type UsageSeriesOptions,
} from '../src/index.js';
import {
  HOUR_MS,
  entry,
  expectedSeries,
  insertLedger,
  ledgerSeries,
  seededRandom,
  type LedgerEntry,
} from './support.js';

// A server five and a half hours ahead of UTC: a bucket taken in the server's zone would start
// at 18:30 UTC, and the UTC cases below would fail. Set before the first query reaches chdb.
process.env.TZ = 'Asia/Kolkata';

const ACCOUNTS = ['org-a', 'org-b', "o'brien-labs", 'u3'];
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
const PROVIDERS = ['groq', 'together', 'fal-ai', 'hf-inference', 'nebius'];
const MODELS = [
  'openai/gpt-oss-120b',
  'meta-llama/Llama-3.3-70B-Instruct',
  'black-forest-labs/FLUX.1-dev',
  'Qwen/Qwen3-8B',
  'deepseek-ai/DeepSeek-R1',
  'zürich/modèle-ü',
];
const TASKS = ['conversational', 'text-to-image', 'image-text-to-text'];
const START = Date.parse('2026-10-05T00:00:00.000Z');
const SPAN_MS = 40 * 24 * HOUR_MS;
const ROWS = 4_000;
const PARTS =
  "SELECT count() FROM system.parts WHERE database = 'billing' AND table = 'usage_hourly' AND active";
const INSERTS = 5;

/** Costs up to 2^50 nano-USD: sums pass 2^53, where a float would drift. */
function randomRows(seed: number): LedgerEntry[] {
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
  return Array.from({ length: ROWS }, (_, i) => {
    const account = pick(ACCOUNTS);
    const task = pick(TASKS);
    const llm = task !== 'text-to-image' && random() < 0.9;
    const cost =
      random() < 0.05
        ? 0n
        : BigInt(Math.floor(random() * 2 ** 25)) * 2n ** 25n +
          BigInt(Math.floor(random() * 2 ** 25));
    return entry(i, {
      billed_account: account,
      // A user billed for their own requests is their own member.
      user_id: account.startsWith('u') ? account : pick(USERS),
      provider: pick(PROVIDERS),
      model: pick(MODELS),
      task,
      cost_nano_usd: cost.toString(),
      at: START + Math.floor(random() * SPAN_MS),
      input_tokens: llm ? Math.floor(random() * 200_000) : null,
      output_tokens: llm ? Math.floor(random() * 20_000) : null,
    });
  });
}

// Either side of midnight UTC on the last day of a month, and late in the evening UTC.
const TZ_ROWS = [
  ['2026-10-31T23:30:00.000Z', '100'],
  ['2026-11-01T00:30:00.000Z', '20'],
  ['2026-11-01T20:15:00.000Z', '3'],
].map(([at, cost], i) =>
  entry(ROWS + i, {
    billed_account: 'org-utc',
    user_id: 'u1',
    provider: 'groq',
    model: 'm',
    task: 'conversational',
    cost_nano_usd: cost!,
    at: Date.parse(at!),
    input_tokens: 10,
    output_tokens: 1,
  }),
);

describe('usageSeries over billing.usage_hourly (real chdb)', () => {
  let clickhouse: ClickHouseClient;
  const rows = [...randomRows(20261125), ...TZ_ROWS];

  beforeAll(async () => {
    ({ client: clickhouse } = await testClickHouse());
    // Several inserts: several parts of the rollup, which no merge folds until the last test.
    await clickhouse.command({ query: 'SYSTEM STOP MERGES billing.usage_hourly' });
    const size = Math.ceil(rows.length / INSERTS);
    for (let i = 0; i < rows.length; i += size) {
      await insertLedger(clickhouse, rows.slice(i, i + size));
    }
  });

  afterAll(async () => {
    await clickhouse?.close();
  });

  it('runs with a server time zone other than UTC', async () => {
    expect(await queryValue(clickhouse, 'SELECT timezone()')).toBe('Asia/Kolkata');
  });

  it('stores fewer rollup rows than ledger rows, from more than one part', async () => {
    const rollupRows = Number(
      await queryValue(clickhouse, 'SELECT count() FROM billing.usage_hourly'),
    );
    expect(rollupRows).toBeLessThan(rows.length);
    // More parts than months: rows of one key are spread over parts, as before any merge.
    expect(Number(await queryValue(clickhouse, PARTS))).toBeGreaterThan(2);
  });

  it('equals the rows summed in JS and a GROUP BY over billing.ledger, for any window', async () => {
    const firstHour = START / HOUR_MS - 72;
    const lastHour = (START + SPAN_MS) / HOUR_MS + 72;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ACCOUNTS),
        fc.integer({ min: firstHour, max: lastHour }),
        fc.oneof(fc.integer({ min: 1, max: 48 }), fc.integer({ min: 1, max: 50 * 24 })),
        fc.constantFrom(...GRANULARITIES),
        fc.constantFrom(...GROUP_BYS),
        async (account, fromHour, hours, granularity, groupBy) => {
          const options: UsageSeriesOptions = {
            account,
            from: new Date(fromHour * HOUR_MS),
            to: new Date((fromHour + hours) * HOUR_MS),
            granularity,
            groupBy,
          };
          const actual = await usageSeries(clickhouse, options);
          expect(actual).toEqual(expectedSeries(rows, options));
          expect(actual).toEqual(await ledgerSeries(clickhouse, options));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('puts the whole window in one account: totals equal the ledger sum', async () => {
    const ledgerTotal = await queryValue(
      clickhouse,
      "SELECT toString(sum(toInt128(cost_nano_usd))) FROM billing.ledger WHERE billed_account = 'org-a'",
    );
    const { totals } = await usageSeries(clickhouse, {
      account: 'org-a',
      from: new Date(START),
      to: new Date(START + SPAN_MS),
      granularity: 'month',
      groupBy: 'task',
    });
    expect(totals.costNanoUsd).toBe(ledgerTotal);
    expect(BigInt(totals.costNanoUsd)).toBeGreaterThan(2n ** 53n);
  });

  it('starts day and month buckets at midnight UTC', async () => {
    const series = async (granularity: Granularity) =>
      (
        await usageSeries(clickhouse, {
          account: 'org-utc',
          from: new Date('2026-10-31T00:00:00.000Z'),
          to: new Date('2026-11-02T00:00:00.000Z'),
          granularity,
          groupBy: 'member',
        })
      ).series.map((s) => [s.key, s.points.map((p) => [p.t, p.requests, p.costNanoUsd])]);
    expect(await series('day')).toEqual([
      [
        'u1',
        [
          ['2026-10-31T00:00:00.000Z', 1, '100'],
          ['2026-11-01T00:00:00.000Z', 2, '23'],
        ],
      ],
    ]);
    expect(await series('month')).toEqual([
      [
        'u1',
        [
          ['2026-10-01T00:00:00.000Z', 1, '100'],
          ['2026-11-01T00:00:00.000Z', 2, '23'],
        ],
      ],
    ]);
    expect(await series('hour')).toEqual([
      [
        'u1',
        [
          ['2026-10-31T23:00:00.000Z', 1, '100'],
          ['2026-11-01T00:00:00.000Z', 1, '20'],
          ['2026-11-01T20:00:00.000Z', 1, '3'],
        ],
      ],
    ]);
  });

  it('keeps the window half-open: [from, to)', async () => {
    const { totals } = await usageSeries(clickhouse, {
      account: 'org-utc',
      from: new Date('2026-11-01T00:00:00.000Z'),
      to: new Date('2026-11-01T20:00:00.000Z'),
      granularity: 'day',
      groupBy: 'provider',
    });
    expect(totals).toEqual({ requests: 1, inputTokens: 10, outputTokens: 1, costNanoUsd: '20' });
  });

  it('answers an empty window with no series and zero totals', async () => {
    expect(
      await usageSeries(clickhouse, {
        account: 'org-a',
        from: new Date('2025-01-01T00:00:00.000Z'),
        to: new Date('2025-02-01T00:00:00.000Z'),
        granularity: 'day',
        groupBy: 'model',
      }),
    ).toEqual({
      series: [],
      totals: { requests: 0, inputTokens: 0, outputTokens: 0, costNanoUsd: '0' },
    });
  });

  it('refuses windows that are empty, reversed or not whole hours, and unknown choices', async () => {
    const ok: UsageSeriesOptions = {
      account: 'org-a',
      from: new Date('2026-11-01T00:00:00.000Z'),
      to: new Date('2026-11-02T00:00:00.000Z'),
      granularity: 'day',
      groupBy: 'member',
    };
    const bad: Array<Partial<Record<keyof UsageSeriesOptions, unknown>>> = [
      { to: ok.from },
      { from: ok.to, to: ok.from },
      { from: new Date('2026-11-01T00:30:00.000Z') },
      { to: new Date('2026-11-02T00:00:00.001Z') },
      { from: new Date('not a date') },
      { from: new Date('1969-12-31T23:00:00.000Z') },
      { granularity: 'week' },
      { granularity: 'hour, user_id' },
      { groupBy: 'constructor' },
      { groupBy: '__proto__' },
      { groupBy: 'user_id) FROM billing.ledger --' },
    ];
    for (const change of bad) {
      await expect(
        usageSeries(clickhouse, { ...ok, ...change } as UsageSeriesOptions),
        JSON.stringify(change),
      ).rejects.toThrow(RangeError);
    }
    await expect(usageSeries(clickhouse, ok)).resolves.toBeDefined();
  });

  it('treats a hostile account name as a name: nothing found, no error', async () => {
    for (const account of ["x' OR 1=1 --", "org-a' --", '\\', "' UNION SELECT 1 --"]) {
      for (const groupBy of GROUP_BYS satisfies readonly GroupBy[]) {
        expect(
          await usageSeries(clickhouse, {
            account,
            from: new Date(START),
            to: new Date(START + SPAN_MS),
            granularity: 'month',
            groupBy,
          }),
        ).toEqual({
          series: [],
          totals: { requests: 0, inputTokens: 0, outputTokens: 0, costNanoUsd: '0' },
        });
      }
      expect(await monthToDateCost(clickhouse, account, '2026-10')).toBe(0n);
    }
  });

  it('monthToDateCost sums the account over its UTC calendar month', async () => {
    for (const account of ACCOUNTS) {
      for (const month of ['2026-10', '2026-11']) {
        const expected = rows
          .filter((r) => r.billed_account === account && r.event_time.startsWith(month))
          .reduce((sum, r) => sum + BigInt(r.cost_nano_usd), 0n);
        expect(await monthToDateCost(clickhouse, account, month)).toBe(expected);
      }
    }
    expect(await monthToDateCost(clickhouse, 'org-utc', '2026-10')).toBe(100n);
    expect(await monthToDateCost(clickhouse, 'org-utc', '2026-11')).toBe(23n);
    expect(await monthToDateCost(clickhouse, 'org-a', '2026-12')).toBe(0n);
    await expect(monthToDateCost(clickhouse, 'org-a', '2026-13')).rejects.toThrow(RangeError);
  });

  it('answers the same after ClickHouse has merged the rollup', async () => {
    const options: UsageSeriesOptions = {
      account: 'org-b',
      from: new Date(START),
      to: new Date(START + SPAN_MS),
      granularity: 'day',
      groupBy: 'model',
    };
    const before = await usageSeries(clickhouse, options);
    await clickhouse.command({ query: 'SYSTEM START MERGES billing.usage_hourly' });
    await clickhouse.command({ query: 'OPTIMIZE TABLE billing.usage_hourly FINAL' });
    expect(Number(await queryValue(clickhouse, PARTS))).toBe(2); // one per month
    expect(await usageSeries(clickhouse, options)).toEqual(before);
    expect(before).toEqual(expectedSeries(rows, options));
  });
});
