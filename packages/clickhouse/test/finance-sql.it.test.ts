import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testClickHouse } from '@nanobill/testkit';
import {
  CLICKHOUSE_SETTINGS,
  FINANCE_DENIED_OBJECTS,
  FINANCE_OBJECTS,
  FINANCE_QUERY_SETTINGS,
  FINANCE_SCOPE_DATABASE,
  FinanceSqlRefused,
  financeUserStatements,
  openFinanceSql,
  type ClickHouseClient,
  type FinanceSql,
} from '../src/index.js';
import {
  FINANCE_AGGREGATE_FUNCTIONS,
  FINANCE_SCALAR_FUNCTIONS,
  FINANCE_SYNTAX_FUNCTIONS,
  FINANCE_WINDOW_FUNCTIONS,
  isFinanceFunction,
} from '../src/finance-functions.js';

interface FunctionRow {
  name: string;
  case_insensitive: number;
  alias_to: string;
}

describe('finance SQL against embedded ClickHouse', () => {
  let ch: { dataDir: string; client: ClickHouseClient };
  let finance: FinanceSql;
  let functions: FunctionRow[];

  beforeAll(async () => {
    ch = await testClickHouse();
    finance = openFinanceSql({ dataDir: ch.dataDir });
    const result = await ch.client.query({
      query: 'SELECT name, case_insensitive, alias_to FROM system.functions',
      format: 'JSONEachRow',
    });
    functions = await result.json<FunctionRow>();
  });

  afterAll(async () => {
    await finance?.close();
    await ch?.client.close();
  });

  const select = async (client: ClickHouseClient, query: string) =>
    (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();

  it('every billing object is either allowed or denied: a new table forces a decision', async () => {
    const rows = await select(
      ch.client,
      "SELECT name FROM system.tables WHERE database = 'billing'",
    );
    const tables = rows.map((row) => row.name as string);
    const decided = new Set([...FINANCE_OBJECTS, ...FINANCE_DENIED_OBJECTS]);
    expect(tables.filter((table) => !decided.has(table))).toEqual([]);
    // And the allowed list names nothing that does not exist (it is the finance user's GRANTs).
    expect(FINANCE_OBJECTS.filter((object) => !tables.includes(object))).toEqual([]);
    expect(FINANCE_OBJECTS.filter((object) => FINANCE_DENIED_OBJECTS.includes(object))).toEqual([]);
  });

  it('every allowed function exists, spelled as ClickHouse registers it', () => {
    const registered = new Map(functions.map((f) => [f.name, f]));
    const caseInsensitive = new Set(
      functions.filter((f) => f.case_insensitive).map((f) => f.name.toLowerCase()),
    );
    const listed = [
      ...FINANCE_SCALAR_FUNCTIONS,
      ...FINANCE_AGGREGATE_FUNCTIONS,
      ...FINANCE_WINDOW_FUNCTIONS,
    ];
    const missing = listed.filter(
      (name) => !registered.has(name) && !caseInsensitive.has(name.toLowerCase()),
    );
    expect(missing).toEqual([]);
    // The parser's own names are not functions of the registry.
    expect(FINANCE_SYNTAX_FUNCTIONS.filter((name) => registered.has(name))).toEqual([]);
  });

  it('case-insensitive matching cannot reach another function, nor can combinators', () => {
    const canonical = (f: FunctionRow) => (f.alias_to || f.name).toLowerCase();
    const byLower = new Map<string, Set<string>>();
    for (const f of functions) {
      const key = f.name.toLowerCase();
      byLower.set(key, (byLower.get(key) ?? new Set()).add(canonical(f)));
    }
    const listed = [
      ...FINANCE_SCALAR_FUNCTIONS,
      ...FINANCE_AGGREGATE_FUNCTIONS,
      ...FINANCE_WINDOW_FUNCTIONS,
    ].map((name) => name.toLowerCase());
    // Names equal but for case are one function (or aliases of one).
    expect(listed.filter((name) => (byLower.get(name)?.size ?? 0) > 1)).toEqual([]);
    // Every registered function the check accepts is on the list: none gets in as `<aggregate><combinator>`.
    const accepted = functions.filter((f) => isFinanceFunction(f.name));
    expect(accepted.filter((f) => !listed.includes(f.name.toLowerCase()))).toEqual([]);
  });

  it('the dangerous functions exist here and are refused', () => {
    const dangerous = [
      'file',
      'dictGet',
      'dictGetOrDefault',
      'dictHas',
      'joinGet',
      'getSetting',
      'getSettingOrDefault',
      'sleep',
      'sleepEachRow',
      'catboostEvaluate',
      'evalMLMethod',
      'hostName',
      'currentUser',
      'currentDatabase',
      'getMacro',
      'getServerPort',
      'serverUUID',
      'uptime',
      'version',
      'filesystemAvailable',
      'getClientHTTPHeader',
      'hasColumnInTable',
      'arrayReduce',
      'initializeAggregation',
      'throwIf',
    ];
    const registered = new Set(functions.map((f) => f.name));
    expect(dangerous.filter((name) => !registered.has(name))).toEqual([]);
    expect(dangerous.filter((name) => isFinanceFunction(name))).toEqual([]);
  });

  it('the finance user statements parse, grant the allowlist only, and hold the API settings', async () => {
    const password = 'correct horse battery staple';
    const statements = financeUserStatements('nanobill_finance', password);
    for (const statement of statements) {
      const result = await ch.client.query({
        query: 'SELECT formatQuery({statement:String}) AS q',
        query_params: { statement },
        format: 'JSONEachRow',
      });
      const [row] = await result.json<{ q: string }>();
      expect(row?.q.length, statement).toBeGreaterThan(0);
      expect(statement).not.toContain(password);
    }
    const grants = statements
      .map((s) => /^GRANT SELECT ON billing\.(\w+) TO nanobill_finance$/.exec(s)?.[1])
      .filter((table) => table !== undefined);
    expect(grants).toEqual([...FINANCE_OBJECTS]);
    expect(statements.indexOf('REVOKE ALL ON *.* FROM nanobill_finance')).toBeLessThan(
      statements.findIndex((s) => s.startsWith('GRANT')),
    );
    // readonly=1 accepts a setting only at its current value: the profile holds every setting
    // the API sends, at the value it sends, and readonly last.
    const profile = statements.find((s) => s.startsWith('CREATE SETTINGS PROFILE'))!;
    for (const [name, value] of Object.entries({
      ...CLICKHOUSE_SETTINGS,
      ...FINANCE_QUERY_SETTINGS,
    })) {
      const quoted = /^\d+$/.test(String(Number(value)))
        ? String(Number(value))
        : `'${String(value)}'`;
      expect(profile, name).toContain(`${name} = ${quoted}`);
    }
    expect(profile.endsWith('readonly = 1')).toBe(true);
    expect(() => financeUserStatements('bad name', password)).toThrow(RangeError);
    expect(() => financeUserStatements('x', 'short')).toThrow(RangeError);
  });

  it('a first request that is refused leaves the connection usable (it prepares first)', async () => {
    // A fresh connection, as in a process that just started: its first finance SQL is refused.
    const fresh = openFinanceSql({ dataDir: ch.dataDir });
    try {
      await expect(fresh.check('SELECT 1\u0000', 'JSONEachRow')).rejects.toThrow(FinanceSqlRefused);
      await expect(fresh.check('x'.repeat(30_000), 'JSONEachRow')).rejects.toThrow(
        FinanceSqlRefused,
      );
      const rows: string[] = [];
      for await (const batch of await fresh.rows('SELECT 1 AS one')) rows.push(...batch);
      expect(rows).toEqual(['{"one":1}']);
    } finally {
      await fresh.close();
    }
  });

  it('runs in the empty scope database', async () => {
    const rows = await collect(await finance.rows('WITH t AS (SELECT 1 AS a) SELECT a FROM t'));
    expect(rows).toEqual(['{"a":1}']);
    const tables = await select(
      ch.client,
      `SELECT count() AS n FROM system.tables WHERE database = '${FINANCE_SCOPE_DATABASE}'`,
    );
    expect(tables).toEqual([{ n: '0' }]);
  });

  it('passes SQL to formatQuery as a parameter: any text comes back as it was sent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async (text) => {
        const result = await ch.client.query({
          query: 'SELECT {text:String} AS text',
          query_params: { text },
          format: 'JSONEachRow',
        });
        expect((await result.json<{ text: string }>())[0]!.text).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('any text is refused or checked, never anything else', async () => {
    const statement = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc
        .array(
          fc.constantFrom(
            'SELECT',
            '1',
            'file(',
            "'/etc/passwd'",
            ')',
            ';',
            '--',
            '/*',
            '*/',
            '`',
            "'",
            'FROM',
            'system.one',
            'billing.api_tokens',
            'INTO OUTFILE',
            'FORMAT',
            'SETTINGS',
            'readonly=0',
            'AS',
            '\n',
            '{x:String}',
            'WITH',
            ',',
            '(',
            'numbers(1)',
          ),
          { maxLength: 12 },
        )
        .map((words) => words.join(' ')),
    );
    await fc.assert(
      fc.asyncProperty(statement, async (sql) => {
        try {
          const text = await finance.check(sql, 'JSONEachRow');
          expect(text.endsWith(' \nFORMAT JSONEachRow')).toBe(true);
        } catch (error) {
          expect(error, String(error)).toBeInstanceOf(FinanceSqlRefused);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a query that fails half-way never hands its rows to the next one (chdb keeps them)', async () => {
    await ch.client.command({
      query:
        "INSERT INTO billing.statement_months SELECT concat('m-', toString(number)), now64(3) FROM numbers(300000)",
    });
    // ClickHouse stops this one after some blocks were written: the result is over 100,000 rows.
    await expect(finance.rows('SELECT month FROM billing.statement_months')).rejects.toThrow(
      /Limit for result exceeded/,
    );
    expect(await collect(await finance.rows("SELECT 'after' AS x"))).toEqual(['{"x":"after"}']);
    expect(await finance.check('SELECT 1', 'CSV')).toBe('SELECT 1 \nFORMAT CSV');
  });

  it('bounds the answer of nanobill query too', async () => {
    await expect(
      finance.stream(
        "SELECT repeat('x', 1000) AS s FROM (SELECT arrayJoin(range(90000)) AS n)",
        'TSV',
      ),
    ).rejects.toThrow(/over the finance limit of \d+ bytes/);
    const chunks: Buffer[] = [];
    for await (const chunk of await finance.stream('SELECT 1 AS one', 'CSVWithNames'))
      chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe('"one"\n1\n');
  });
});

async function collect(batches: AsyncIterable<string[]>): Promise<string[]> {
  const rows: string[] = [];
  for await (const batch of batches) rows.push(...batch);
  return rows;
}
