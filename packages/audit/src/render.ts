import type { AuditReport } from './audit.js';
import type { CheckResult, Example } from './result.js';

/** The audit as text: per check its outcome, what was checked, and its first examples as a table. */
export function renderAudit(report: AuditReport): string {
  const out = [`nanobill audit ${report.month} at ${report.at}`];
  for (const result of report.results) {
    out.push('', `${result.check}: ${outcome(result)}`);
    if (result.summary) out.push(`  ${result.summary}`);
    if (result.examples.length > 0) out.push(...table(result.examples).map((l) => `  ${l}`));
    if (result.violations > result.examples.length) {
      out.push(`  … and ${result.violations - result.examples.length} more`);
    }
  }
  return `${out.join('\n')}\n`;
}

function outcome(result: CheckResult): string {
  if (result.error !== undefined) return `failed: ${result.error}`;
  if (result.skipped !== undefined) return `skipped: ${result.skipped}`;
  if (result.ok) return 'ok';
  return `${result.violations} violation${result.violations === 1 ? '' : 's'}`;
}

/** Examples as aligned columns: every field any example has, in order of first appearance. */
function table(examples: readonly Example[]): string[] {
  const columns = [...new Set(examples.flatMap((e) => Object.keys(e)))];
  const cells = examples.map((e) => columns.map((c) => (e[c] === undefined ? '' : String(e[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)];
}
