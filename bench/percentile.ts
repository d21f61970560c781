/** The nearest-rank p-th percentile (0–100) of `xs`, or `empty` when there is none. */
export function percentile<T extends number | bigint>(xs: readonly T[], p: number, empty: T): T {
  const sorted = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.length === 0
    ? empty
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
