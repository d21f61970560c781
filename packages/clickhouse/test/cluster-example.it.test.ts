import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testClickHouse } from '@nanobill/testkit';

// infra/clickhouse/cluster/example.sql is written by hand (the end state of the migrations for
// the core tables, on a cluster) and never run here: this test keeps it from drifting. Every
// table it creates (`<name>_local`) must have the columns, with the types, that the migrations
// give `billing.<name>` on embedded ClickHouse, and every view it creates must exist there.
const EXAMPLE = fileURLToPath(
  new URL('../../../infra/clickhouse/cluster/example.sql', import.meta.url),
);

/** `CREATE TABLE ... billing.<name> ... ( <columns> )` of the example, by table name. */
function exampleTables(sql: string): Map<string, Map<string, string>> {
  const tables = new Map<string, Map<string, string>>();
  // The Distributed tables (`… AS billing.<name>_local ENGINE = Distributed(…)`) have no list.
  const create = /CREATE TABLE IF NOT EXISTS billing\.(\w+)(?: ON CLUSTER '[^']*')?\s*\(/g;
  for (let match = create.exec(sql); match !== null; match = create.exec(sql)) {
    const body = balanced(sql, create.lastIndex - 1);
    tables.set(match[1]!.replace(/_local$/, ''), columnsOf(body));
  }
  return tables;
}

/**
 * Each character of `text` from `from` on, with the parenthesis depth before it, outside quoted
 * strings: the one scan the parsers below share.
 */
function* unquoted(text: string, from = 0): Generator<{ i: number; c: string; depth: number }> {
  let depth = 0;
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") quoted = !quoted;
    if (quoted) continue;
    yield { i, c, depth };
    if (c === '(') depth++;
    if (c === ')') depth--;
  }
}

/** The text between the parenthesis at `open` and the one that closes it. */
function balanced(text: string, open: number): string {
  for (const { i, c, depth } of unquoted(text, open)) {
    if (c === ')' && depth === 1) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced parenthesis at ${open}`);
}

/** `name Type [DEFAULT …] [COMMENT …]` definitions (INDEX lines skipped): name → type. */
function columnsOf(body: string): Map<string, string> {
  const columns = new Map<string, string>();
  for (const definition of topLevel(body)) {
    const [name, ...rest] = definition.trim().split(/\s+/);
    if (name === undefined || name === '' || name === 'INDEX') continue;
    columns.set(name, typeOf(rest.join(' ')));
  }
  return columns;
}

/** Splits on commas outside parentheses and quotes; comments dropped. */
function topLevel(body: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const { i, c, depth } of unquoted(body)) {
    if (c !== ',' || depth !== 0) continue;
    parts.push(body.slice(start, i));
    start = i + 1;
  }
  parts.push(body.slice(start));
  return parts.map((p) => p.replace(/--[^\n]*/g, '')).filter((p) => p.trim() !== '');
}

/** The type at the start of `text`, up to a top-level DEFAULT, COMMENT, CODEC … clause. */
function typeOf(text: string): string {
  for (const { i, c, depth } of unquoted(text)) {
    const clause = /^\s+(DEFAULT|MATERIALIZED|ALIAS|COMMENT|CODEC|TTL)\b/;
    if (depth === 0 && /\s/.test(c) && clause.test(text.slice(i))) return text.slice(0, i).trim();
  }
  return text.trim();
}

describe('the cluster example (infra/clickhouse/cluster/example.sql)', () => {
  const sql = readFileSync(EXAMPLE, 'utf8');

  it('reads column definitions as written', () => {
    expect(
      Object.fromEntries(
        columnsOf(`
          a DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'x, (y)',
          b Enum8('routed' = 1, 'custom_key' = 2),
          c Int128 COMMENT 'a sum',
          INDEX a_minmax a TYPE minmax GRANULARITY 1`),
      ),
    ).toEqual({
      a: "DateTime64(3, 'UTC')",
      b: "Enum8('routed' = 1, 'custom_key' = 2)",
      c: 'Int128',
    });
  });

  it('has the columns and types the migrations give each table it creates', async () => {
    const { client } = await testClickHouse();
    try {
      const tables = exampleTables(sql);
      expect([...tables.keys()].sort()).toEqual([
        'ledger_entries',
        'pricing_pending',
        'schema_migrations',
        'unpriced_entries',
        'usage',
        'usage_hourly',
      ]);
      for (const [table, columns] of tables) {
        const result = await client.query({
          query: `SELECT name, type FROM system.columns
                  WHERE database = 'billing' AND table = {table:String}`,
          query_params: { table },
          format: 'JSONCompactEachRow',
        });
        const migrated = new Map(await result.json<[string, string]>());
        expect(migrated.size, table).toBeGreaterThan(0);
        expect(Object.fromEntries(columns), table).toEqual(Object.fromEntries(migrated));
      }
    } finally {
      await client.close();
    }
  });

  it('creates the views the migrations create, with their columns', async () => {
    const views = [
      ...sql.matchAll(
        /CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?billing\.(\w+)[^;]*?AS\s+SELECT\s+([^;]*?)\s+FROM/g,
      ),
    ].map(([, name, list]) => ({ name: name!, columns: list!.split(',').map((c) => c.trim()) }));
    expect(views.map((v) => v.name).sort()).toEqual(['ledger', 'open_pending', 'unpriced']);
    const { client } = await testClickHouse();
    try {
      for (const view of views) {
        const result = await client.query({
          query: `SELECT name FROM system.columns
                  WHERE database = 'billing' AND table = {view:String} ORDER BY position`,
          query_params: { view: view.name },
          format: 'JSONCompactEachRow',
        });
        const migrated = (await result.json<[string]>()).map(([name]) => name);
        expect(migrated.length, view.name).toBeGreaterThan(0);
        expect(view.columns, view.name).toEqual(migrated);
      }
    } finally {
      await client.close();
    }
  });
});
