import type { ClickHouseClient } from '@clickhouse/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchWriter, firstPerKey, type BatchWriterOptions } from '../src/batch-writer.js';

// BatchWriter against a fake client that records each insert and lets the test decide when (and
// how) ClickHouse answers: no ClickHouse, no clock but vitest's fake one.
interface Row {
  id: string;
  amount: number;
}

interface Insert {
  table: string;
  columns: string[];
  values: unknown[][];
  answer(outcome?: Error): void;
}

function fakeClickHouse() {
  const inserts: Insert[] = [];
  let answerAtOnce: ((values: unknown[][]) => Error | undefined) | undefined;
  const client = {
    insert(params: { table: string; columns: string[]; values: unknown[][] }) {
      return new Promise<void>((resolve, reject) => {
        const answer = (outcome?: Error) => (outcome ? reject(outcome) : resolve());
        inserts.push({ ...params, answer });
        if (answerAtOnce) answer(answerAtOnce(params.values));
      });
    },
  };
  return {
    clickhouse: client as unknown as ClickHouseClient,
    inserts,
    /** From now on every insert is answered as soon as it is made. */
    answerEachWith(rule: (values: unknown[][]) => Error | undefined) {
      answerAtOnce = rule;
    },
  };
}

/** An error as @clickhouse/client raises it: `code` a string of digits. */
function clickHouseError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code: String(code) });
}

const row = (id: string, amount = 1): Row => ({ id, amount });

function writer(
  clickhouse: ClickHouseClient,
  options: Partial<BatchWriterOptions<Row>> = {},
): BatchWriter<Row> {
  return new BatchWriter<Row>({
    clickhouse,
    table: 'billing.rows',
    columns: ['id', 'amount'],
    maxRows: 3,
    maxWaitMs: 1_000,
    ...options,
  });
}

/** Lets every promise callback that is ready run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

afterEach(() => {
  vi.useRealTimers();
});

describe('BatchWriter', () => {
  it('flushes as soon as maxRows rows wait, in one positional insert', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    const batches = writer(fake.clickhouse);
    void batches.write([row('a', 1), row('b', 2)]);
    await settle();
    expect(fake.inserts).toHaveLength(0); // two of three: still waiting
    void batches.write([row('c', 3)]);
    await settle();
    expect(fake.inserts).toHaveLength(1);
    expect(fake.inserts[0]!.table).toBe('billing.rows');
    expect(fake.inserts[0]!.columns).toEqual(['id', 'amount']);
    expect(fake.inserts[0]!.values).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('flushes fewer rows once maxWaitMs has passed since the first of them arrived', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    const batches = writer(fake.clickhouse);
    void batches.write([row('a')]);
    await vi.advanceTimersByTimeAsync(600);
    void batches.write([row('b')]); // does not restart the clock
    await vi.advanceTimersByTimeAsync(399);
    expect(fake.inserts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.inserts.map((i) => i.values)).toEqual([
      [
        ['a', 1],
        ['b', 1],
      ],
    ]);
  });

  it('resolves a write only after ClickHouse acknowledged its insert (flush, then commit)', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    const inserted: string[][] = [];
    const batches = writer(fake.clickhouse, {
      onInserted: (rows) => inserted.push(rows.map((r) => r.id)),
    });
    let stored = false;
    const written = batches.write([row('a'), row('b'), row('c')]).then(() => (stored = true));
    await settle();
    expect(fake.inserts).toHaveLength(1);
    expect(stored).toBe(false); // the caller must not commit its offsets yet
    expect(inserted).toEqual([]);
    fake.inserts[0]!.answer();
    await written;
    expect(stored).toBe(true);
    expect(inserted).toEqual([['a', 'b', 'c']]);
  });

  it('keeps one flush in flight: rows written meanwhile wait for the next insert', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    const seen: string[][] = [];
    const batches = writer(fake.clickhouse, {
      beforeInsert: async (rows) => {
        seen.push(rows.map((r) => r.id));
        return rows;
      },
    });
    const first = batches.write([row('a'), row('b'), row('c')]);
    await settle();
    const second = batches.write([row('d'), row('e'), row('f')]);
    await settle();
    // The second batch is full but its flush waits behind the first, so its beforeInsert
    // will see every row the first one stored.
    expect(fake.inserts).toHaveLength(1);
    expect(seen).toEqual([['a', 'b', 'c']]);
    fake.inserts[0]!.answer();
    await first;
    await settle();
    expect(fake.inserts).toHaveLength(2);
    expect(seen).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
    fake.inserts[1]!.answer();
    await second;
  });

  it('inserts only what beforeInsert keeps, and nothing at all when it keeps nothing', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    fake.answerEachWith(() => undefined);
    const flushes: { offered: number; inserted: number; refused: number }[] = [];
    const batches = writer(fake.clickhouse, {
      beforeInsert: async (rows) => rows.filter((r) => r.id !== 'stored'),
      onFlushed: ({ offered, inserted, refused }) => flushes.push({ offered, inserted, refused }),
    });
    await batches.write([row('stored'), row('new'), row('stored')]);
    await batches.write([row('stored'), row('stored'), row('stored')]);
    expect(fake.inserts.map((i) => i.values)).toEqual([[['new', 1]]]);
    expect(flushes).toEqual([
      { offered: 3, inserted: 1, refused: 0 },
      { offered: 3, inserted: 0, refused: 0 },
    ]);
  });

  it('on a failure that is not the rows’ fault, rejects every writer of the flush and keeps nothing back', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    const errors: { error: unknown; rows: number }[] = [];
    const batches = writer(fake.clickhouse, {
      onError: (error, rows) => errors.push({ error, rows }),
    });
    const down = clickHouseError(210, 'NETWORK_ERROR: connection refused');
    const one = batches.write([row('a')]);
    const two = batches.write([row('b'), row('c')]);
    await settle();
    fake.inserts[0]!.answer(down);
    // Both callers see the failure, so neither commits its offsets: the rows are redelivered.
    await expect(one).rejects.toBe(down);
    await expect(two).rejects.toBe(down);
    expect(errors).toEqual([{ error: down, rows: 3 }]);
    // The writer is not stuck: the same rows written again go out whole.
    const again = batches.write([row('a'), row('b'), row('c')]);
    await settle();
    expect(fake.inserts).toHaveLength(2);
    expect(fake.inserts[1]!.values).toEqual(fake.inserts[0]!.values);
    fake.inserts[1]!.answer();
    await expect(again).resolves.toEqual({ refused: new Map() });
  });

  it('isolates a row ClickHouse refuses for its values and stores the others', async () => {
    vi.useFakeTimers();
    const fake = fakeClickHouse();
    const bad = row('bad', -1);
    fake.answerEachWith((values) =>
      values.some(([id]) => id === 'bad')
        ? clickHouseError(72, 'CANNOT_PARSE_NUMBER: -1 for UInt64\nstack')
        : undefined,
    );
    const batches = writer(fake.clickhouse, { maxRows: 4 });
    const result = await batches.write([row('a'), row('b'), bad, row('c')]);
    expect([...result.refused.keys()]).toEqual([bad]);
    expect(result.refused.get(bad)).toEqual({
      code: 72,
      name: 'CANNOT_PARSE_NUMBER',
      message: 'CANNOT_PARSE_NUMBER: -1 for UInt64',
    });
    const storedIds = fake.inserts
      .filter((i) => !i.values.some(([id]) => id === 'bad'))
      .flatMap((i) => i.values.map(([id]) => id));
    expect(storedIds.sort()).toEqual(['a', 'b', 'c']);
  });

  it('close() flushes what waits and resolves after the flush', async () => {
    const fake = fakeClickHouse();
    fake.answerEachWith(() => undefined);
    const batches = writer(fake.clickhouse, { maxWaitMs: 60_000 });
    const written = batches.write([row('a')]);
    await batches.close();
    expect(fake.inserts.map((i) => i.values)).toEqual([[['a', 1]]]);
    await expect(written).resolves.toEqual({ refused: new Map() });
  });

  it('answers an empty write at once without an insert', async () => {
    const fake = fakeClickHouse();
    const batches = writer(fake.clickhouse);
    await expect(batches.write([])).resolves.toEqual({ refused: new Map() });
    await batches.close();
    expect(fake.inserts).toHaveLength(0);
  });
});

describe('firstPerKey', () => {
  it('keeps the first row of each key, in order', () => {
    const rows = [row('a', 1), row('b', 2), row('a', 3), row('c', 4), row('b', 5)];
    expect(firstPerKey(rows, (r) => r.id)).toEqual([row('a', 1), row('b', 2), row('c', 4)]);
  });
});
