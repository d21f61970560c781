// Runs vitest and closes with the plain summary line CI reads: `N passed, N failed`.
// Exit code is vitest's own.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';

const report = 'test-results/vitest.json';
mkdirSync('test-results', { recursive: true });
rmSync(report, { force: true });
const { status } = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
if (!existsSync(report)) {
  console.log('0 passed, 1 failed');
  process.exit(status || 1);
}
const { numPassedTests, numFailedTests, numPendingTests } = JSON.parse(
  readFileSync(report, 'utf8'),
);
// Skipped tests say why in their own output; the count goes above the summary, which stays plain.
if (numPendingTests > 0) console.log(`${numPendingTests} skipped`);
console.log(`${numPassedTests} passed, ${numFailedTests} failed`);
process.exit(status ?? 1);
