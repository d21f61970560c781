import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The text of a README section: from its heading to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start === -1) throw new Error(`README has no section "${heading}"`);
  const level = /^#+/.exec(heading)![0].length;
  const end = lines.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level,
  );
  return lines.slice(start, end === -1 ? undefined : end).join('\n');
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

/** The SQL of every `nanobill query "…"` command shown in the text (placeholders such as `<SQL>` aside). */
function queryCommands(text: string): string[] {
  return [...text.matchAll(/nanobill query "([^"]+)"/g)]
    .map(([, sql]) => sql!)
    .filter((sql) => /^\s*(SELECT|WITH)\b/i.test(sql));
}

/**
 * Every SQL example finance is shown: the README's "For finance" section and the `nanobill query`
 * commands of its Runbook (and elsewhere). They must all pass the finance SQL check and run.
 */
export function readmeFinanceSql(): string[] {
  const markdown = readFileSync(README, 'utf8');
  const finance = section(markdown, '## For finance');
  return [...new Set([...sqlBlocks(finance), ...queryCommands(markdown)])];
}
