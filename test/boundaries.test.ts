import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The boundary lint (eslint.config.js, no-restricted-imports) on planted source: each violation
// fails with the rule's message, what is allowed passes. `npm run lint` (eslint .) runs the same
// configuration on the repository, so the repository itself has none of them.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Static imports and re-exports; dynamic `import()`, `import('…')` types and `require`. */
const BOUNDARY_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfigFile: 'eslint.config.js',
  ruleFilter: ({ ruleId }) => BOUNDARY_RULES.has(ruleId),
});

/** The boundary messages for `source` as if it were the file at `path` (from the root). */
async function violations(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: `${ROOT}${path}` });
  expect(result, path).toBeDefined();
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

const importing = (from: string) => `import { x } from '${from}';\nexport const y = x;\n`;

describe('the boundary lint', () => {
  it.each([
    ['packages/audit/src/planted.ts', '@nanobill/statements', /a package imports no service/],
    ['packages/kafka/src/planted.ts', '@nanobill/enforcement-service', /a package imports no/],
    ['services/api/src/routes/planted.ts', '@nanobill/statements', /imports no other service/],
    ['services/pricing/src/planted.ts', '@nanobill/alerts', /imports no other service/],
    ['test/planted.test.ts', '../cli/src/pipeline.js', /another workspace's src\//],
    ['bench/planted.ts', '../cli/src/simulated-router.js', /another workspace's src\//],
    ['test/hostile/planted.test.ts', '../../services/pricing/src/x.js', /workspace's src\//],
    ['packages/audit/src/planted.ts', '../../statements/src/x.js', /workspace's src\//],
    ['services/api/test/planted.test.ts', '../../statements/src/x.js', /workspace's src\//],
    ['cli/src/planted.ts', '../../packages/kafka/src/dlq.js', /workspace's src\//],
  ])('fails %s importing %s', async (path, from, message) => {
    const found = await violations(path, importing(from));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it.each([
    // Spellings of a relative path that reach the same sources.
    ['test/hostile/planted.test.ts', './../../services/pricing/src/x.js'],
    ['test/hostile/planted.test.ts', '../../services//pricing/src/x.js'],
    ['test/hostile/planted.test.ts', '../../services/pricing/./src/x.js'],
    ['bench/planted.ts', '../infra/kafka/src/launcher.js'],
  ])('fails %s importing %s (another spelling)', async (path, from) => {
    expect(await violations(path, importing(from))).toHaveLength(1);
  });

  it.each([
    ['a dynamic import', "export const m = await import('@nanobill/statements');\n"],
    ['an import() type', "export type T = import('@nanobill/statements').StatementsOptions;\n"],
    ['a require', "export const m = require('@nanobill/statements');\n"],
    ['the composition root', "export { startPipeline } from '@nanobill/pipeline';\n"],
    [
      'a dynamic import by path',
      "export const m = await import('../../../services/api/src/x.js');\n",
    ],
  ])('fails a package reaching a service through %s', async (_, source) => {
    const found = await violations('packages/audit/src/planted.ts', source);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/imports no service|workspace's src\//);
  });

  it('fails a service importing the composition root, or another service dynamically', async () => {
    const source =
      "export const p = await import('@nanobill/pipeline');\n" +
      "export const a = await import('@nanobill/alerts');\n";
    expect(await violations('services/pricing/src/planted.ts', source)).toHaveLength(2);
  });

  it('fails a type-only import and a re-export of a service from a package', async () => {
    const source =
      "import type { StatementsOptions } from '@nanobill/statements';\n" +
      "export { startAlerts } from '@nanobill/alerts';\n" +
      'export type O = StatementsOptions;\n';
    expect(await violations('packages/audit/src/planted.ts', source)).toHaveLength(2);
  });

  it.each([
    // Packages import packages; the composition root and the CLI wire services.
    ['packages/audit/src/planted.ts', '@nanobill/statement-lines'],
    ['packages/pipeline/src/planted.ts', '@nanobill/statements'],
    ['cli/src/planted.ts', '@nanobill/api'],
    // A workspace's own sources, and its tests composing services.
    ['services/statements/src/planted.ts', './store.js'],
    ['services/statements/test/planted.test.ts', '../src/index.js'],
    ['services/statements/test/planted.test.ts', '@nanobill/statements'],
    ['packages/audit/test/planted.test.ts', '@nanobill/enforcement-service'],
    ['test/planted.test.ts', '@nanobill/pipeline'],
  ])('passes %s importing %s', async (path, from) => {
    expect(await violations(path, importing(from))).toEqual([]);
  });

  it('finds no violation in the repository (no test or benchmark imports cli/src)', async () => {
    const results = await eslint.lintFiles(['.']);
    const linted = results.map((r) => r.filePath.slice(ROOT.length));
    // What the rule must see: the tests and benchmarks that used to import cli/src among them.
    expect(linted).toEqual(
      expect.arrayContaining([
        'bench/pipeline.ts',
        'test/containers.it.test.ts',
        'cli/src/main.ts',
      ]),
    );
    const found = results.flatMap((r) =>
      r.messages.map((m) => `${r.filePath.slice(ROOT.length)}:${m.line} ${m.message}`),
    );
    expect(found).toEqual([]);
  });
});
