import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT_PACKAGE = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { engines: { node: string }; dependencies: { node: string } };

// Node 20 left security support on 2026-04-30. nanobill runs on the LTS line that the registry's
// `node` package puts in node_modules/.bin, so the README's commands never depend on the
// machine's own Node.
describe('the runtime', () => {
  it('is the LTS line of package.json, the one npm ci installs', () => {
    const [wantedMajor] = ROOT_PACKAGE.dependencies.node.split('.');
    expect(ROOT_PACKAGE.engines.node).toBe(
      `>=${ROOT_PACKAGE.dependencies.node} <${Number(wantedMajor) + 1}`,
    );
    expect(process.versions.node).toBe(ROOT_PACKAGE.dependencies.node);
  });
});
