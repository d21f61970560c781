import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Tracked text files whose comments and prose may cite a document. */
const CITING = /\.(ts|js|mjs|cjs|md|sql|json)$/;

/**
 * Applied migrations are checksummed (`billing.schema_migrations`): editing one, even a comment,
 * stops every deployment that applied it. Their citations stay as written; the section numbers
 * of docs/contract.md are those they cite.
 */
const FROZEN = /^infra\/clickhouse\/migrations\/\d{4}_.*\.sql$/;

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' });
  return out
    .split('\n')
    .filter((path) => CITING.test(path) && !FROZEN.test(path) && existsSync(`${ROOT}${path}`));
}

// Documents a clone of the repository does not have. Spelled in pieces so this file does not
// cite them itself.
const OUTSIDE = [
  ['PRODUCT', '.md'],
  ['PRODUCT', ' §'],
  ['shared/', 'seeds'],
  ['../', 'shared/'],
  ['the seed', "'s "],
  ['the seed', ' documentation'],
].map((parts) => parts.join(''));

describe('the docs live in the repository', () => {
  it('no tracked file cites a document outside the repository', () => {
    const citations = trackedFiles().flatMap((path) =>
      readFileSync(`${ROOT}${path}`, 'utf8')
        .split('\n')
        .flatMap((line, index) =>
          OUTSIDE.filter((cited) => line.toLowerCase().includes(cited.toLowerCase())).map(
            (cited) => `${path}:${index + 1}: ${cited}`,
          ),
        ),
    );
    expect(citations.length, citations.slice(0, 20).join('\n')).toBe(0);
  });

  it('every section cited as docs/contract.md §N exists there', () => {
    const contract = readFileSync(`${ROOT}docs/contract.md`, 'utf8');
    const sections = new Set([...contract.matchAll(/^## §(\d+) /gm)].map((m) => m[1]));
    expect([...sections].sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i + 1)),
    );
    const cited = trackedFiles().flatMap((path) =>
      [...readFileSync(`${ROOT}${path}`, 'utf8').matchAll(/contract\.md §(\d+)/g)].map(
        (m) => m[1]!,
      ),
    );
    expect(cited.length).toBeGreaterThan(0);
    expect(cited.filter((n) => !sections.has(n))).toEqual([]);
  });
});
