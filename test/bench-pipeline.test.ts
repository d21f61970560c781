import { describe, expect, it } from 'vitest';
import {
  catchUpSeconds,
  keptUp,
  saturatedFirst,
  threadKind,
  type StepFigures,
} from '../bench/pipeline-figures.js';

// The whole-pipeline bench's verdicts (issue 15, target 4): pure functions over its samples.

describe('catchUpSeconds', () => {
  const samples = [
    { t: 10, lag: { ingest: 500 } },
    { t: 11, lag: { ingest: 9_000 } },
    { t: 12, lag: { ingest: 7_000 } },
    { t: 13.5, lag: { ingest: 3_000 } },
    { t: 14, lag: { ingest: 100 } },
  ];

  it('counts from the round’s end to the first sample back under the threshold', () => {
    expect(catchUpSeconds(samples, 'ingest', 11.2, 4_000)).toBe(2.3);
  });

  it('is 0 when the lag was already under it when the round ended', () => {
    expect(catchUpSeconds(samples, 'ingest', 10.5, 4_000)).toBe(0);
  });

  it('is undefined when the lag never came back within the samples', () => {
    expect(catchUpSeconds(samples, 'ingest', 11.2, 50)).toBeUndefined();
  });
});

const step = (over: Partial<StepFigures> = {}): StepFigures => ({
  rate: 3_000,
  produced: 3_000,
  stored: 2_990,
  lagEnd: { ingest: 2_000, pricing: 1_000 },
  roundSeconds: [12],
  skippedRounds: 0,
  cpu: {
    pipeline: 0.8,
    'pipeline JS thread': 0.4,
    'pipeline ClickHouse threads': 0.3,
    router: 0.1,
    broker: 0.3,
  },
  machineBusy: 0.6,
  flushBusy: 0.2,
  eventLoopP99Ms: 40,
  eventLoopMaxMs: 300,
  ...over,
});

describe('keptUp', () => {
  it('keeps up when everything produced is stored, lags are short and rounds fit the minute', () => {
    expect(keptUp(step())).toEqual({ ok: true, reasons: [] });
  });

  it('says each way it did not', () => {
    const verdict = keptUp(
      step({
        produced: 2_000,
        stored: 1_500,
        lagEnd: { ingest: 40_000, pricing: 0 },
        roundSeconds: [75],
        skippedRounds: 1,
      }),
    );
    expect(verdict.ok).toBe(false);
    expect(verdict.reasons).toEqual([
      'the router produced 2000 events/s of 3000 asked',
      'stored 1500 events/s of 2000 produced',
      "ingest lag 40000 messages at the step's end (> 10 s)",
      'pricing round 75 s, 1 skipped',
    ]);
  });
});

describe('saturatedFirst', () => {
  it('lists each resource that reached its limit at the lowest rate it did, lowest first', () => {
    const steps = [
      step({ rate: 2_000, machineBusy: 0.7 }),
      step({ rate: 3_000, machineBusy: 0.93 }),
      step({ rate: 4_000, machineBusy: 0.99, flushBusy: 0.95, roundSeconds: [61] }),
    ];
    expect(saturatedFirst(steps)).toEqual([
      {
        what: 'machine CPU (all cores, everything on the box)',
        rate: 3_000,
        value: 0.93,
        unit: 'of the cores',
      },
      {
        what: 'ingest ClickHouse flushes (back to back)',
        rate: 4_000,
        value: 0.95,
        unit: 'of the time',
      },
      { what: 'pricing round (longer than its minute)', rate: 4_000, value: 61, unit: 's' },
    ]);
  });

  it('is empty when nothing reached its limit', () => {
    expect(saturatedFirst([step()])).toEqual([]);
  });
});

describe('threadKind', () => {
  it('sorts the pipeline process’s threads by their names', () => {
    expect(threadKind(true, 'node-MainThread')).toBe('js');
    expect(threadKind(false, 'node-V8Worker')).toBe('v8');
    expect(threadKind(false, 'libuv-worker')).toBe('libuv');
    expect(threadKind(false, 'QueryPipelineEx')).toBe('clickhouse');
    // chdb's threads started from the main thread keep its name.
    expect(threadKind(false, 'node-MainThread')).toBe('clickhouse');
  });
});
