import { describe, expect, it } from 'vitest';
import { figureTable, meets, stamp, type Figure } from '../bench/report.js';
import { docsTable, latestPerBench, type StoredReport } from '../bench/table-rows.js';

const box = {
  cores: 2,
  cpu: 'test',
  memoryGiB: 24,
  node: 'v26',
  load: 0.5,
  clickhouse: 'embedded (chdb)',
};

function report(bench: string, date: string, figures: Figure[]): StoredReport {
  return { bench, date, command: `npm run bench:${bench}`, figures, machine: box };
}

describe('bench reports', () => {
  it('judges a figure against its target, in the direction the target says', () => {
    expect(
      meets({ name: 'rate', value: 50_000, unit: 'events/s', target: { atLeast: 50_000 } }),
    ).toBe(true);
    expect(
      meets({ name: 'rate', value: 49_999, unit: 'events/s', target: { atLeast: 50_000 } }),
    ).toBe(false);
    expect(meets({ name: 'round', value: 30.5, unit: 's', target: { atMost: 30 } })).toBe(false);
    expect(meets({ name: 'round', value: 29, unit: 's', target: { atMost: 30 } })).toBe(true);
    expect(meets({ name: 'rows', value: 3, unit: 'rows' })).toBeUndefined();
  });

  it('prints each figure beside its target and the ceiling measured in the same run', () => {
    const [, , row] = figureTable([
      {
        name: 'ingest',
        value: 33_578,
        unit: 'events/s',
        target: { atLeast: 50_000 },
        ceiling: { value: 137_555, unit: 'rows/s', what: 'same inserts again' },
      },
    ]);
    expect(row).toBe(
      '| ingest | 33,578 events/s | ≥ 50,000 events/s | 137,555 rows/s (same inserts again) | missed |',
    );
  });

  it('keeps the newest report of each bench for the docs table', () => {
    const old = report('ingest', '2026-11-25T10:00:00.000Z', [
      { name: 'old', value: 1, unit: 'x' },
    ]);
    const recent = report('ingest', '2026-11-26T10:00:00.000Z', [
      { name: 'new', value: 2, unit: 'x', target: { atMost: 1 } },
    ]);
    const pricing = report('pricing', '2026-11-20T10:00:00.000Z', [
      { name: 'p', value: 3, unit: 's' },
    ]);
    expect(latestPerBench([recent, pricing, old]).map((r) => r.figures[0]!.name)).toEqual([
      'new',
      'p',
    ]);
    const table = docsTable([old, pricing, recent]);
    expect(table).toHaveLength(4);
    expect(table[2]).toBe(
      '| new | ≤ 1 x | 2 x (missed) | 2026-11-26 | 2 cores, 24 GiB, ClickHouse embedded (chdb), load 0.5 | `npm run bench:ingest` |',
    );
  });

  it('stamps file names sortably', () => {
    expect(stamp('2026-11-26T12:03:04.567Z')).toBe('2026-11-26-12-03-04');
  });
});
