import { readdirSync, readFileSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The boundaries between workspaces, enforced: packages are libraries and
 * import no service; a service imports no other service; nothing reaches into another workspace's
 * `src/` by a relative path (import its package instead). Only the composition root
 * (@nanobill/pipeline) and the CLI wire services together. Tests under a workspace's `test/` may
 * compose services (integration tests); the relative-path rule holds for them too.
 * test/boundaries.test.ts plants violations and expects each to fail.
 */
const SERVICES = readdirSync(new URL('./services/', import.meta.url)).map((dir) => ({
  dir,
  name: JSON.parse(readFileSync(new URL(`./services/${dir}/package.json`, import.meta.url), 'utf8'))
    .name,
}));

/**
 * Relative imports of another workspace's sources: from the root (test/, bench/) or a sibling.
 * Tolerant of the spellings that reach the same file (`./../`, `//`, `/./`).
 */
const SEP = String.raw`(/+(\./)*)`;
const UP = String.raw`^(\./)*(\.\.${SEP})`;
const RELATIVE_SRC_REGEXES = [
  String.raw`${UP}+((packages|services|infra)${SEP}[^/]+|cli)${SEP}src(/|$)`,
  String.raw`${UP}{2,}[^./][^/]*${SEP}src(/|$)`,
];
const RELATIVE_SRC_MESSAGE =
  "another workspace's src/ by a relative path: import its package (@nanobill/…)";
const RELATIVE_SRC = RELATIVE_SRC_REGEXES.map((regex) => ({
  regex,
  message: RELATIVE_SRC_MESSAGE,
}));

/** The services named, and their subpaths. */
const servicesGroup = (services, message) => ({
  group: services.flatMap(({ name }) => [name, `${name}/*`]),
  message,
});

/** The composition root wires every service: importing it imports them all. */
const PIPELINE = { dir: 'pipeline', name: '@nanobill/pipeline' };

const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What no-restricted-imports does not see: `import()` calls, `import('…')` types and `require`.
 * esquery's regex literals cannot hold a slash: written `\x2F`, which RegExp reads as one.
 */
const otherSources = (regex, message) => {
  const literal = `Literal[value=/${regex.replaceAll('/', String.raw`\x2F`)}/]`;
  return [
    `ImportExpression > ${literal}.source`,
    `TSImportType ${literal}`,
    `CallExpression[callee.name='require'] > ${literal}.arguments`,
  ].map((selector) => ({ selector, message }));
};

const boundaries = (...groups) => ({
  rules: {
    'no-restricted-imports': ['error', { patterns: [...RELATIVE_SRC, ...groups] }],
    'no-restricted-syntax': [
      'error',
      ...RELATIVE_SRC_REGEXES.flatMap((regex) => otherSources(regex, RELATIVE_SRC_MESSAGE)),
      ...groups.flatMap(({ group, message }) =>
        otherSources(
          `^(${group
            .filter((name) => !name.endsWith('/*'))
            .map(escapeRegex)
            .join('|')})(/|$)`,
          message,
        ),
      ),
    ],
  },
});

export default tseslint.config(
  { ignores: ['node_modules', '.data', '.scratch', 'infra/kafka/lib', 'bench/results'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Command-line entry points and benchmarks talk to a terminal.
    files: [
      'cli/**',
      'bench/**',
      'infra/kafka/src/cli.ts',
      'infra/chdb-server/src/cli.ts',
      'scripts/**',
      '**/scripts/**',
      '**/test/**',
      'test/**',
    ],
    rules: { 'no-console': 'off' },
  },
  // Boundaries: each block below replaces the one before for its files (a rule's options are not
  // merged across blocks), so each repeats the relative-path patterns.
  boundaries(),
  {
    files: ['packages/*/src/**'],
    // The composition root: its job is to wire the services.
    ignores: ['packages/pipeline/**'],
    ...boundaries(
      servicesGroup(
        [...SERVICES, PIPELINE],
        'a package imports no service: move what it needs into a package (packages/)',
      ),
    ),
  },
  ...SERVICES.map(({ dir, name }) => ({
    files: [`services/${dir}/src/**`],
    ...boundaries(
      servicesGroup(
        [...SERVICES.filter((other) => other.name !== name), PIPELINE],
        'a service imports no other service: share a package, or compose them in @nanobill/pipeline',
      ),
    ),
  })),
);
