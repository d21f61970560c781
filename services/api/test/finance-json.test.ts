import { describe, expect, it } from 'vitest';
import { jsonRows } from '../src/routes/finance.js';

/** The batches as an iterator, failing with `error` after them when given. */
function batches(list: string[][], error?: Error): AsyncIterator<string[]> {
  return (async function* () {
    yield* list;
    if (error) throw error;
  })();
}

async function answer(list: string[][], error?: Error): Promise<string> {
  const iterator = batches(list, error);
  let text = '';
  for await (const part of jsonRows(await iterator.next(), iterator)) text += part;
  return text;
}

describe('the streamed answer of POST /v1/finance/query', () => {
  it('is { rows, rowCount } with the rows as ClickHouse wrote them', async () => {
    const text = await answer([['{"a":"1"}', '{"a":"2"}'], ['{"a":"3"}']]);
    expect(JSON.parse(text)).toEqual({ rows: [{ a: '1' }, { a: '2' }, { a: '3' }], rowCount: 3 });
    expect(JSON.parse(await answer([]))).toEqual({ rows: [], rowCount: 0 });
  });

  it('closes the JSON with the rows sent and the error when ClickHouse fails after rows were sent', async () => {
    const text = await answer([['{"a":"1"}']], new Error('Limit for result exceeded\nstack'));
    expect(JSON.parse(text)).toEqual({
      rows: [{ a: '1' }],
      rowCount: 1,
      error: 'Limit for result exceeded',
    });
  });
});
