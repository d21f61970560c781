import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The README and every document under docs/, each as its text. */
function documents(): string[] {
  const docs = readdirSync(`${ROOT}docs`)
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs].map((path) => readFileSync(`${ROOT}${path}`, 'utf8'));
}

/** Statements of the ```sql blocks: split at `;` ending a line, comment lines dropped. */
function sqlBlocks(text: string): string[] {
  return [...text.matchAll(/```sql\n([\s\S]*?)```/g)].flatMap(([, block]) =>
    block!
      .split(/;\s*$/m)
      .map((statement) =>
        statement
          .split('\n')
          .filter((line) => !line.trim().startsWith('--'))
          .join('\n')
          .trim(),
      )
      .filter(Boolean),
  );
}

/**
 * The SQL of every `nanobill query "…"` command shown in the text (placeholders such as `<SQL>`
 * aside).
 */
function queryCommands(text: string): string[] {
  return [...text.matchAll(/nanobill query "([^"]+)"/g)]
    .map(([, sql]) => sql!)
    .filter((sql) => /^\s*(SELECT|WITH)\b/i.test(sql));
}

/**
 * Every SQL example finance is shown: the SQL blocks of docs/finance.md and the `nanobill query`
 * commands of the README and every document (the runbook's among them). They must all pass the
 * finance SQL check and run.
 */
export function documentedFinanceSql(): string[] {
  const finance = readFileSync(`${ROOT}docs/finance.md`, 'utf8');
  return [...new Set([...sqlBlocks(finance), ...documents().flatMap(queryCommands)])];
}
