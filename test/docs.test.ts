import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The repository's text files whose comments and prose may cite a document. */
const CITING = /\.(ts|js|mjs|cjs|md|sql|json)$/;

/**
 * Applied migrations are checksummed (`billing.schema_migrations`): editing one, even a comment,
 * stops every deployment that applied it. Their citations stay as written; the section numbers
 * of docs/contract.md are those they cite.
 */
const FROZEN = /^infra\/clickhouse\/migrations\/\d{4}_.*\.sql$/;

function trackedFiles(): string[] {
  // New files count before they are committed: tracked or not ignored.
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
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

/** The repository's Markdown files: the README, docs/*.md and the READMEs of infra/ and test/. */
function markdownFiles(): string[] {
  return trackedFiles().filter((path) => path.endsWith('.md'));
}

const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

/** Lines outside fenced code blocks. */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && !line.startsWith('```');
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces become dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (a repeated heading gets -1, -2, … as on GitHub). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/**
 * The sections a citation may name: headings, and the bold lead of a paragraph or list item
 * (`**Signatures.**`), without backticks and a closing full stop.
 */
function sectionTitles(markdown: string): string[] {
  return proseLines(markdown).flatMap((line) => {
    const title = /^#{1,6} (.*)$/.exec(line)?.[1] ?? /^(?:- )?\*\*([^*]+)\*\*/.exec(line)?.[1];
    return title === undefined ? [] : [title.replaceAll('`', '').replace(/\.$/, '').trim()];
  });
}

describe('the README is the front door, the rest is in docs/', () => {
  it('the README has at most 200 lines', () => {
    const lines = read('README.md').trimEnd().split('\n').length;
    expect(lines).toBeLessThanOrEqual(200);
  });

  it('keeps the two commands', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm ci && npx nanobill demo');
    expect(readme).toContain('npm ci && npm test');
  });

  it('every relative link of a Markdown file reaches a file, and its anchor a heading', () => {
    const links = markdownFiles().flatMap((path) =>
      proseLines(read(path)).flatMap((line) =>
        [...line.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ path, target: m[1]! })),
      ),
    );
    const relative = links.filter(({ target }) => !/^[a-z]+:/i.test(target));
    expect(relative.length).toBeGreaterThan(10);
    const broken = relative.filter(({ path, target }) => {
      const [file = '', anchor] = target.split('#');
      const resolved = file === '' ? path : normalize(join(dirname(path), file));
      if (!existsSync(`${ROOT}${resolved}`)) return true;
      if (anchor === undefined || !resolved.endsWith('.md')) return false;
      return !anchors(read(resolved)).has(anchor);
    });
    expect(broken.map(({ path, target }) => `${path}: ${target}`)).toEqual([]);
  });

  it('every docs/*.md a file cites exists, and so does the section it names', () => {
    const citations = trackedFiles().flatMap((path) =>
      [...read(path).matchAll(/(?<![\w.-])docs\/([\w-]+\.md)(?:,? \\?["']([^"'\\\n]+))?/g)].map(
        (m) => ({ path, doc: `docs/${m[1]!}`, section: m[2] }),
      ),
    );
    expect(citations.filter(({ section }) => section !== undefined).length).toBeGreaterThan(20);
    const missing = citations.filter(({ doc }) => !existsSync(`${ROOT}${doc}`));
    expect(missing.map(({ path, doc }) => `${path}: ${doc}`)).toEqual([]);
    // A section name may be cut by the end of a comment line: what is cited must begin a title.
    const titles = new Map<string, string[]>();
    const unknown = citations.filter(({ doc, section }) => {
      if (section === undefined) return false;
      if (!titles.has(doc)) titles.set(doc, sectionTitles(read(doc)));
      const cited = section.replaceAll('`', '').trim();
      return !titles.get(doc)!.some((title) => title.startsWith(cited));
    });
    expect(unknown.map(({ path, doc, section }) => `${path}: ${doc} "${section}"`)).toEqual([]);
  });

  it('no file cites a section of the README (it moved to docs/), applied migrations aside', () => {
    const citations = trackedFiles().flatMap((path) =>
      read(path)
        .split('\n')
        .flatMap((line, index) => (/README,? \\?["']/.test(line) ? [`${path}:${index + 1}`] : [])),
    );
    expect(citations).toEqual([]);
  });
});
