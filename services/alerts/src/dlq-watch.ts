import { alertIdPart } from '@nanobill/contract';

/**
 * Dead-letter topics that grow (docs/contract.md §2: rejected input waits there for a fix). Pure:
 * the caller reads the topics' end offsets. The first reading of a topic is its baseline; each
 * later reading that grew by at least `threshold` messages is an alert, at most one per topic and
 * window (e.g. an hour), so a steady trickle does not page every minute.
 */
export class DlqWatch {
  readonly #last = new Map<string, bigint>();
  readonly #alerted = new Set<string>();

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {
    if (!Number.isSafeInteger(threshold) || threshold < 1) {
      throw new RangeError(`threshold must be a positive integer, got ${threshold}`);
    }
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`);
    }
  }

  /** Records a topic's total end offset; returns the growth to alert about, if any. */
  observe(
    topic: string,
    endOffset: bigint,
    atMs: number,
  ): { alertId: string; grew: bigint; window: string } | undefined {
    const previous = this.#last.get(topic);
    this.#last.set(topic, endOffset);
    if (previous === undefined) return undefined;
    const grew = endOffset - previous;
    if (grew < BigInt(this.threshold)) return undefined;
    const window = new Date(Math.floor(atMs / this.windowMs) * this.windowMs).toISOString();
    const alertId = `dlq_growth:${alertIdPart(topic)}:${window}`;
    if (this.#alerted.has(alertId)) return undefined;
    this.#alerted.add(alertId);
    return { alertId, grew, window };
  }

  /** The alert could not be raised: back to the reading before it, so the next one retries. */
  unraise(topic: string, growth: { alertId: string; grew: bigint }): void {
    this.#alerted.delete(growth.alertId);
    const last = this.#last.get(topic);
    if (last !== undefined) this.#last.set(topic, last - growth.grew);
  }
}
