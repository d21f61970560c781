// @ts-check
// Pure helpers of the dashboard (no DOM): UTC time windows and buckets, and the usage answer
// turned into chart rows. Costs stay exact (bigint); numbers are only for drawing.

const HOUR_MS = 3_600_000;

/** Keys shown one by one; the rest are summed into "Other". */
export const TOP_N = 8;

/**
 * The query window for a range key ('24h' | '7d' | '30d' | '12m'): `to` is the next whole hour
 * (UTC), so the current hour counts; `from` is a whole hour aligned to the granularity's buckets
 * (UTC midnight for days, the 1st of the month for months).
 *
 * @param {string} rangeKey
 * @param {Date} now
 * @returns {{ from: Date, to: Date, granularity: 'hour' | 'day' | 'month' }}
 */
export function usageWindow(rangeKey, now) {
  const to = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  switch (rangeKey) {
    case '24h':
      return { from: new Date(to.getTime() - 24 * HOUR_MS), to, granularity: 'hour' };
    case '30d':
      return { from: new Date(Date.UTC(y, m, d - 29)), to, granularity: 'day' };
    case '12m':
      return { from: new Date(Date.UTC(y, m - 11, 1)), to, granularity: 'month' };
    case '7d':
    default:
      return { from: new Date(Date.UTC(y, m, d - 6)), to, granularity: 'day' };
  }
}

/**
 * Bucket starts in [from, to), as ISO strings (at most 2,000).
 *
 * @param {Date} from
 * @param {Date} to
 * @param {string} granularity
 * @returns {string[]}
 */
export function bucketStarts(from, to, granularity) {
  const starts = [];
  let t = new Date(from.getTime());
  while (t < to && starts.length < 2000) {
    starts.push(t.toISOString());
    if (granularity === 'hour') t = new Date(t.getTime() + HOUR_MS);
    else if (granularity === 'day') {
      t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1));
    } else t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
  }
  return starts;
}

/**
 * A timestamp → canonical ISO-8601 UTC ("…T…:….000Z"). Text without a zone (ClickHouse's
 * "2025-01-02 03:00:00") is read as UTC, never as the browser's local time.
 *
 * @param {unknown} text
 * @returns {string}
 */
export function normalizeIso(text) {
  let value = String(text);
  if (/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(value)) {
    value = value.length === 10 ? `${value}T00:00:00Z` : `${value.replace(' ', 'T')}Z`;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? String(text) : new Date(ms).toISOString();
}

/**
 * An axis label for a bucket start: "2025-03" (month), "2025-03-04" (day), "03-04 13:00" (hour).
 *
 * @param {string} iso
 * @param {string} granularity
 */
export function bucketLabel(iso, granularity) {
  if (granularity === 'month') return iso.slice(0, 7);
  if (granularity === 'day') return iso.slice(0, 10);
  return `${iso.slice(5, 10)} ${iso.slice(11, 13)}:00`;
}

/**
 * "2025-03-04T12:34:56.789Z" → "2025-03-04 12:34:56 UTC"; "—" when absent.
 *
 * @param {unknown} iso
 */
export function formatUtc(iso) {
  if (typeof iso !== 'string' || iso === '') return '—';
  const normalized = normalizeIso(iso);
  if (!normalized.endsWith('Z')) return iso;
  return `${normalized.slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * A nano-USD decimal string → bigint; anything malformed counts as 0.
 *
 * @param {unknown} nano
 */
export function toNano(nano) {
  if (typeof nano === 'bigint') return nano;
  const text = String(nano);
  return /^-?\d+$/.test(text) ? BigInt(text) : 0n;
}

/**
 * @typedef {{ key: string, label: string, other: boolean, cost: bigint[], requests: number[],
 *   totalCost: bigint, totalRequests: number, inputTokens: number, outputTokens: number }} UsageRow
 */

/**
 * The usage answer → one row per key with a value per bucket (every bucket of the window, empty
 * ones included, plus any point time outside them), largest cost first; `shown` keeps the top
 * `topN` and sums the rest into one "Other (n)" row when more than one key would go there.
 *
 * @param {any} usage the `GET /v1/orgs/{org}/usage` answer
 * @param {{ from: Date, to: Date, granularity: string }} window_ the window asked for
 * @param {number} [topN]
 * @returns {{ granularity: string, times: string[], rows: UsageRow[], shown: UsageRow[],
 *   bucketTotals: bigint[] }}
 */
export function prepareUsage(usage, window_, topN = TOP_N) {
  const granularity = String(usage.granularity || window_.granularity);
  const from = usage.from ? new Date(normalizeIso(usage.from)) : window_.from;
  const to = usage.to ? new Date(normalizeIso(usage.to)) : window_.to;
  /** @type {any[]} */
  const seriesList = Array.isArray(usage.series) ? usage.series : [];

  const buckets = new Set(
    Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())
      ? []
      : bucketStarts(from, to, granularity),
  );
  for (const series of seriesList) {
    for (const point of series.points ?? []) buckets.add(normalizeIso(point.t));
  }
  const times = [...buckets].sort();
  const index = new Map(times.map((t, i) => [t, i]));

  /** @type {UsageRow[]} */
  const rows = seriesList.map((series) => {
    const cost = times.map(() => 0n);
    const requests = times.map(() => 0);
    let inputTokens = 0;
    let outputTokens = 0;
    for (const point of series.points ?? []) {
      const i = index.get(normalizeIso(point.t));
      if (i === undefined) continue;
      cost[i] = (cost[i] ?? 0n) + toNano(point.costNanoUsd);
      requests[i] = (requests[i] ?? 0) + (Number(point.requests) || 0);
      inputTokens += Number(point.inputTokens) || 0;
      outputTokens += Number(point.outputTokens) || 0;
    }
    const key =
      series.key === null || series.key === undefined || series.key === ''
        ? '(none)'
        : String(series.key);
    return {
      key,
      label: key,
      other: false,
      cost,
      requests,
      totalCost: cost.reduce((a, b) => a + b, 0n),
      totalRequests: requests.reduce((a, b) => a + b, 0),
      inputTokens,
      outputTokens,
    };
  });
  rows.sort(
    (a, b) =>
      (a.totalCost < b.totalCost ? 1 : a.totalCost > b.totalCost ? -1 : 0) ||
      b.totalRequests - a.totalRequests ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );

  let shown = rows;
  if (rows.length > topN + 1) {
    const rest = rows.slice(topN);
    shown = [
      ...rows.slice(0, topN),
      {
        key: '\u0000other',
        label: `Other (${rest.length})`,
        other: true,
        cost: times.map((_, i) => rest.reduce((sum, row) => sum + (row.cost[i] ?? 0n), 0n)),
        requests: times.map((_, i) => rest.reduce((sum, row) => sum + (row.requests[i] ?? 0), 0)),
        totalCost: rest.reduce((sum, row) => sum + row.totalCost, 0n),
        totalRequests: rest.reduce((sum, row) => sum + row.totalRequests, 0),
        inputTokens: rest.reduce((sum, row) => sum + row.inputTokens, 0),
        outputTokens: rest.reduce((sum, row) => sum + row.outputTokens, 0),
      },
    ];
  }
  const bucketTotals = times.map((_, i) =>
    shown.reduce((sum, row) => sum + (row.cost[i] ?? 0n), 0n),
  );
  return { granularity, times, rows, shown, bucketTotals };
}

/**
 * a / b as an exact percentage with 2 decimals (truncated), e.g. "84.37 %"; '' when b ≤ 0.
 *
 * @param {bigint} a
 * @param {bigint} b
 */
export function percentText(a, b) {
  if (b <= 0n) return '';
  const basisPoints = (a * 10_000n) / b;
  return `${basisPoints / 100n}.${(basisPoints % 100n).toString().padStart(2, '0')} %`;
}

/**
 * a / b in percent for geometry only, clamped to 0…100.
 *
 * @param {bigint} a
 * @param {bigint} b
 */
export function percentNumber(a, b) {
  if (b <= 0n) return 0;
  const basisPoints = (a * 10_000n) / b;
  return Math.max(0, Math.min(100, Number(basisPoints) / 100));
}
