// `npm run bench:table`: the latest report of each bench in bench/results/ as the one table of
// docs/benchmarks.md (figure, target, measured, date, machine, how to rerun).
import { readdirSync, readFileSync } from 'node:fs';
import { docsTable, type StoredReport } from './table-rows.js';

const dir = new URL('./results/', import.meta.url);
const reports = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Partial<StoredReport>)
  .filter((r): r is StoredReport => Array.isArray(r.figures) && typeof r.bench === 'string');
console.log(docsTable(reports).join('\n'));
