/**
 * The most one send of statuses and alerts carries. A send that the broker refuses as too large
 * (`message.max.bytes`, 1 MiB by default, per partition) is refused again at every retry: at a
 * month turn, every account's status in one send stopped enforcement past ~7,000 accounts
 * (issue 13). A quarter of that limit leaves room for Kafka's own framing and for every message
 * landing on one partition.
 */
export const PUBLISH_CHUNK_LIMITS = { maxMessages: 1_000, maxBytes: 256 * 1024 } as const;

/** Bytes a message adds to a record batch besides its key and value (a generous bound). */
export const RECORD_OVERHEAD_BYTES = 64;

/**
 * Splits `items` in order into chunks of at most `maxMessages` items and `maxBytes` bytes (by
 * `bytes`); an item larger than `maxBytes` alone gets a chunk of its own (the broker judges it).
 */
export function chunked<T>(
  items: readonly T[],
  bytes: (item: T) => number,
  limits: { maxMessages: number; maxBytes: number } = PUBLISH_CHUNK_LIMITS,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = bytes(item);
    if (
      current.length > 0 &&
      (current.length >= limits.maxMessages || size + n > limits.maxBytes)
    ) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
