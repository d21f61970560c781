// The whole-pipeline bench's verdicts, pure: how long each consumer group took to catch up after
// a pricing round, whether a rate was kept up with, and which resource saturated first on the
// way up (issue 15, target 4).

/** The kinds of threads of the pipeline process, by the names Node, libuv and chdb give them. */
export type ThreadKind = 'js' | 'v8' | 'libuv' | 'clickhouse';

/**
 * `js`: the process's main thread (every service's JS). `v8`: V8's helpers (GC, compilation).
 * `libuv`: libuv's pool, where chdb runs each query's calling side. `clickhouse`: the engine's own
 * threads (query pipelines, background merges), whatever their name.
 */
export function threadKind(isMain: boolean, name: string): ThreadKind {
  if (isMain) return 'js';
  if (/^(node-V8Worker|DelayedTaskSche|SignalInspector)/.test(name)) return 'v8';
  if (name.startsWith('libuv-worker')) return 'libuv';
  return 'clickhouse';
}

/** One second of a run: the lag of each consumer group (messages) at time `t` (seconds). */
export interface LagSample {
  t: number;
  lag: Readonly<Record<string, number>>;
}

/**
 * A consumer that commits about once a second shows up to a second or two of traffic as lag
 * while keeping up (what arrived since its last commit): below this many seconds of traffic, its
 * lag counts as back to 0.
 */
export const CAUGHT_UP_SECONDS_OF_TRAFFIC = 2;

/**
 * Seconds from `roundEnd` until the group's lag is back to 0 (below `threshold` messages), or
 * `undefined` when it never was within the samples. 0 when it already was at the round's end.
 */
export function catchUpSeconds(
  samples: readonly LagSample[],
  group: string,
  roundEnd: number,
  threshold: number,
): number | undefined {
  const caught = samples.find((s) => s.t >= roundEnd && (s.lag[group] ?? 0) <= threshold);
  if (caught === undefined) return undefined;
  const before = samples.findLast((s) => s.t < roundEnd);
  const caughtAtEnd = before !== undefined && (before.lag[group] ?? 0) <= threshold;
  return caughtAtEnd ? 0 : Math.round((caught.t - roundEnd) * 10) / 10;
}

/** What one step of the knee search measured (a rate held for some seconds). */
export interface StepFigures {
  /** The rate asked of the router, events/s. */
  rate: number;
  /** Events/s the router produced, and the pipeline stored, over the step. */
  produced: number;
  stored: number;
  /** Each consumer group's lag at the step's end (messages). */
  lagEnd: Readonly<Record<string, number>>;
  /** Pricing rounds that ended in the step, in seconds each; rounds skipped (one still running). */
  roundSeconds: readonly number[];
  skippedRounds: number;
  /** Mean CPU over the step, in cores. */
  cpu: Readonly<Record<CpuPart, number>>;
  /** Share of the machine's cores busy (everything on the box, other users included). */
  machineBusy: number;
  /** Share of the step during which ingest was flushing into ClickHouse. */
  flushBusy: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
}

export type CpuPart =
  'pipeline' | 'pipeline JS thread' | 'pipeline ClickHouse threads' | 'router' | 'broker';

/** A step keeps up when the pipeline stores what is produced and no group falls behind. */
export const KEEP_UP = {
  /**
   * Stored over produced, over the step: below it, ingest does not keep up. Not closer to 1: a
   * consumer that keeps up a few seconds behind stores about 5 % less than was produced over a
   * minute's step (measured: 460 of 487 events/s at 500 events/s on a loaded box).
   */
  storedShare: 0.9,
  /** Produced over asked: below it, the router (not the pipeline) is the limit. */
  producedShare: 0.95,
  /** A group's lag at the step's end, in seconds of traffic: more and it is falling behind. */
  lagSeconds: 10,
  /** A pricing round longer than the schedule's minute delays the next one. */
  roundSeconds: 60,
} as const;

/** Whether the pipeline kept up with a step's rate, and if not, why (each reason a sentence). */
export function keptUp(step: StepFigures): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (step.produced < KEEP_UP.producedShare * step.rate)
    reasons.push(`the router produced ${step.produced} events/s of ${step.rate} asked`);
  if (step.stored < KEEP_UP.storedShare * step.produced)
    reasons.push(`stored ${step.stored} events/s of ${step.produced} produced`);
  for (const [group, lag] of Object.entries(step.lagEnd)) {
    if (lag > KEEP_UP.lagSeconds * step.rate)
      reasons.push(`${group} lag ${lag} messages at the step's end (> ${KEEP_UP.lagSeconds} s)`);
  }
  const longest = Math.max(0, ...step.roundSeconds);
  if (longest > KEEP_UP.roundSeconds || step.skippedRounds > 0)
    reasons.push(`pricing round ${longest} s, ${step.skippedRounds} skipped`);
  return { ok: reasons.length === 0, reasons };
}

/** A resource at its limit: what it is, and how its figure is read from a step. */
interface Saturation {
  what: string;
  value(step: StepFigures): number;
  limit: number;
  unit: string;
}

/** Each resource that can stop the pipeline from keeping up, with the level that means full. */
export const SATURATIONS: readonly Saturation[] = [
  {
    what: 'machine CPU (all cores, everything on the box)',
    value: (s) => s.machineBusy,
    limit: 0.9,
    unit: 'of the cores',
  },
  {
    what: 'pipeline JS thread',
    value: (s) => s.cpu['pipeline JS thread'],
    limit: 0.9,
    unit: 'cores',
  },
  {
    what: 'pipeline event loop (blocked)',
    value: (s) => s.eventLoopP99Ms,
    limit: 1000,
    unit: 'ms p99 delay',
  },
  {
    what: 'ingest ClickHouse flushes (back to back)',
    value: (s) => s.flushBusy,
    limit: 0.9,
    unit: 'of the time',
  },
  {
    what: 'pricing round (longer than its minute)',
    value: (s) => Math.max(0, ...s.roundSeconds),
    limit: KEEP_UP.roundSeconds,
    unit: 's',
  },
  { what: 'broker CPU', value: (s) => s.cpu.broker, limit: 0.9, unit: 'cores' },
  { what: 'router CPU', value: (s) => s.cpu.router, limit: 0.9, unit: 'cores' },
];

/**
 * Each resource that reached its limit during the steps (in order of rate), with the first rate
 * at which it did and its figure there: the first of the list saturated first.
 */
export function saturatedFirst(
  steps: readonly StepFigures[],
): Array<{ what: string; rate: number; value: number; unit: string }> {
  const found = [];
  for (const saturation of SATURATIONS) {
    const step = steps.find((s) => saturation.value(s) >= saturation.limit);
    if (step === undefined) continue;
    const value = Math.round(saturation.value(step) * 100) / 100;
    found.push({ what: saturation.what, rate: step.rate, value, unit: saturation.unit });
  }
  return found.sort((a, b) => a.rate - b.rate);
}
