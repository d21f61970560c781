// What every benchmark leaves behind: a dated JSON (figures, the machine, the run's details) and
// a markdown summary beside it in bench/results/, and the same figure table on the terminal. Each
// figure stands next to its target and, where the issue asks for one, the ceiling measured in the
// same run; `npm run bench:table` gathers the latest of each bench into the docs' single table.
import { cpus, loadavg, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';

/** At least (throughput) or at most (time, memory): the word for each figure. */
export type Target = { atLeast: number } | { atMost: number };

export interface Figure {
  /** What was measured, as a reader of docs/benchmarks.md would name it. */
  name: string;
  value: number;
  unit: string;
  target?: Target;
  /** The limit measured in the same run, and what it is (e.g. "bare consumer, parse only"). */
  ceiling?: { value: number; unit?: string; what: string };
}

export interface BenchReport {
  /** The bench's short name: the file stem in bench/results/ (`ingest`, `pricing`, …). */
  bench: string;
  /** How to run it again, exactly as it ran (e.g. `npm run bench:ingest -- --preload`). */
  command: string;
  figures: Figure[];
  /** Anything else the run measured: kept in the JSON only. */
  details?: unknown;
}

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  /** 1-minute load average when the report was written: a loaded box distorts the figures. */
  load: number;
  clickhouse: string;
}

export function machine(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load: Number(loadavg()[0]!.toFixed(2)),
    clickhouse: process.env.CLICKHOUSE_URL ? 'server' : 'embedded (chdb)',
  };
}

export function targetText(target: Target | undefined, unit: string): string {
  if (!target) return '';
  return 'atLeast' in target
    ? `≥ ${formatNumber(target.atLeast)} ${unit}`
    : `≤ ${formatNumber(target.atMost)} ${unit}`;
}

/** Whether the figure meets its target; `undefined` when it has none. */
export function meets(figure: Figure): boolean | undefined {
  const { target, value } = figure;
  if (!target) return undefined;
  return 'atLeast' in target ? value >= target.atLeast : value <= target.atMost;
}

export function formatNumber(value: number): string {
  return Number.isInteger(value)
    ? value.toLocaleString('en-US')
    : value.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

function verdict(figure: Figure): string {
  const met = meets(figure);
  return met === undefined ? '' : met ? 'met' : 'missed';
}

function ceilingText(figure: Figure): string {
  const { ceiling } = figure;
  if (!ceiling) return '';
  return `${formatNumber(ceiling.value)} ${ceiling.unit ?? figure.unit} (${ceiling.what})`;
}

/** The figures as a markdown table: figure, measured, target, ceiling, verdict. */
export function figureTable(figures: readonly Figure[]): string[] {
  return [
    '| figure | measured | target | ceiling (same run) | |',
    '|---|---|---|---|---|',
    ...figures.map(
      (f) =>
        `| ${f.name} | ${formatNumber(f.value)} ${f.unit} | ${targetText(f.target, f.unit)} | ${ceilingText(f)} | ${verdict(f)} |`,
    ),
  ];
}

export function markdownSummary(report: BenchReport, date: string, box: Machine): string {
  return [
    `# bench:${report.bench} — ${date}`,
    '',
    `Rerun: \`${report.command}\``,
    '',
    `Machine: ${box.cores} cores (${box.cpu}), ${box.memoryGiB} GiB, Node ${box.node}, ClickHouse ${box.clickhouse}, load ${box.load} when written.`,
    '',
    ...figureTable(report.figures),
    '',
  ].join('\n');
}

/** `2026-11-26T12:03:04.567Z` → `2026-11-26-12-03-04`: sortable, safe in a file name. */
export function stamp(date: string): string {
  return date.slice(0, 19).replace(/[:T]/g, '-');
}

/**
 * Prints the figure table and writes `bench/results/<bench>-<stamp>.json` and `.md`; returns
 * their paths.
 */
export function writeBenchReport(report: BenchReport): { json: string; md: string } {
  const date = new Date().toISOString();
  const box = machine();
  const stem = new URL(`./results/${report.bench}-${stamp(date)}`, import.meta.url).pathname;
  const json = `${stem}.json`;
  const md = `${stem}.md`;
  writeFileSync(json, `${JSON.stringify({ ...report, date, machine: box }, replacer, 2)}\n`);
  writeFileSync(md, markdownSummary(report, date, box));
  console.log(`\n${figureTable(report.figures).join('\n')}\n`);
  console.log(`  written to ${json.replace(/.*\/bench\//, 'bench/')} (and .md)`);
  return { json, md };
}

/** bigint (nano-USD) kept exact in the JSON as a string. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
