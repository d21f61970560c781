/** docs/contract.md §3's limit: the cost endpoint is called with at most this many ids. */
export const MAX_IDS_PER_CALL = 10_000;

/** N ids → exactly ceil(N / size) calls, each full but the last. */
export function intoBatches<T>(items: readonly T[], size = MAX_IDS_PER_CALL): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`batch size must be a positive integer, got ${size}`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/** Runs `task` over `items` with at most `limit` at once; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
