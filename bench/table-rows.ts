import { formatNumber, meets, targetText, type BenchReport, type Machine } from './report.js';

/** A report as `writeBenchReport` stored it. */
export interface StoredReport extends BenchReport {
  date: string;
  machine: Machine;
}

/** The newest report of each bench, in the order of their names. */
export function latestPerBench(reports: readonly StoredReport[]): StoredReport[] {
  const latest = new Map<string, StoredReport>();
  for (const report of reports) {
    const known = latest.get(report.bench);
    if (!known || report.date > known.date) latest.set(report.bench, report);
  }
  return [...latest.values()].sort((a, b) => a.bench.localeCompare(b.bench));
}

function machineText(box: Machine): string {
  return `${box.cores} cores, ${box.memoryGiB} GiB, ClickHouse ${box.clickhouse}, load ${box.load}`;
}

/** One row per figure of the latest report of each bench. */
export function docsTable(reports: readonly StoredReport[]): string[] {
  const rows = latestPerBench(reports).flatMap((report) =>
    report.figures.map((f) => {
      const met = meets(f);
      const verdict = met === undefined ? '' : met ? ' (met)' : ' (missed)';
      return `| ${f.name} | ${targetText(f.target, f.unit)} | ${formatNumber(f.value)} ${f.unit}${verdict} | ${report.date.slice(0, 10)} | ${machineText(report.machine)} | \`${report.command}\` |`;
    }),
  );
  return [
    '| figure | target | measured | date | machine | rerun |',
    '|---|---|---|---|---|---|',
    ...rows,
  ];
}
