import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import { FINANCE_SQL_MAX_LENGTH, openFinanceSql, type FinanceSql } from '@nanobill/clickhouse';
import { ensureTopics } from '@nanobill/kafka';
import {
  insertLedgerEntries,
  ledgerEntry,
  quietLogger,
  tempDir,
  testClickHouse,
  testKafka,
  uniqueName,
  testWebhookSecrets,
} from '@nanobill/testkit';
import { createToken, startApiServer, startStatusView, TokenStore } from '@nanobill/api';
import type { StatusView } from '@nanobill/api';
import { documentedFinanceSql } from './docs-sql.js';

/**
 * Finance SQL over the API reads billing data and nothing else: no host files, no network, no
 * tokens table, bounded memory and result size. Every attack goes through the real HTTP route,
 * the real check and embedded ClickHouse (chdb), where `file()` ignores `readonly=1`.
 */
describe('POST /v1/finance/query against hostile SQL (real API, real ClickHouse)', () => {
  const kafka = testKafka();
  const scratch = tempDir('nanobill-finance-outfile-');
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let finance: FinanceSql;
  let view: StatusView;
  let server: { port: number; close(): Promise<void> } | undefined;
  let base: string;
  let financeToken: string;
  /** The public id of an org token: appears in billing.api_tokens only. */
  let orgTokenId: string;

  beforeAll(async () => {
    const statusTopic = uniqueName('it-finance-status');
    await ensureTopics(kafka, [
      { topic: statusTopic, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
    ]);
    ch = await testClickHouse();
    finance = openFinanceSql({ dataDir: ch.dataDir });
    view = await startStatusView({ kafka, topic: statusTopic, logger: quietLogger() });
    await view.ready;
    financeToken = (await createToken(ch.client, { kind: 'finance' })).token;
    orgTokenId = (await createToken(ch.client, { kind: 'org', org: 'acme' })).tokenId;
    await insertLedgerEntries(
      ch.client,
      [1, 2, 3].map((i) =>
        ledgerEntry({
          account: 'acme',
          user: 'alice',
          nano: i * 1_000,
          at: '2026-10-05T10:00:00.000Z',
          pricedAt: '2026-10-05T10:00:01.000Z',
          provider_request_id: `pr-${i}`,
          request_id: `req-${i}`,
          model: 'm1',
          input_tokens: 1,
          output_tokens: 1,
        }),
      ),
    );
    server = await startApiServer({
      port: 0,
      logger: quietLogger(),
      clickhouse: ch.client,
      financeSql: finance,
      statuses: view,
      facts: new AccountFactsReader(ch.client, new AccountHistory()),
      tokens: new TokenStore(ch.client),
      webhookSecrets: testWebhookSecrets(ch.client),
      providers: ['groq'],
      publishSettings: async () => {},
    });
    base = `http://127.0.0.1:${server.port}`;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await view?.stop();
    await finance?.close();
    await ch?.client.close();
  });

  async function post(sql: string) {
    const response = await fetch(`${base}/v1/finance/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${financeToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql }),
    });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) };
  }

  /** Nothing of the host or of the tokens table may come back, in rows or in an error. */
  function expectNoLeak(text: string) {
    expect(text).not.toMatch(/root:x?:0:0/); // /etc/passwd
    expect(text).not.toMatch(/\b(PATH|HOME|KAFKA_BROKERS)=/); // /proc/self/environ
    expect(text).not.toContain(orgTokenId);
  }

  async function expectRefused(sql: string, reason: RegExp) {
    const answer = await post(sql);
    expectNoLeak(answer.text);
    expect(answer.status, `${sql}\n→ ${answer.text.slice(0, 300)}`).toBe(400);
    expect(answer.body.field).toBe('sql');
    expect(answer.body.error, sql).toMatch(reason);
  }

  const FILE_READS: Array<[string, string]> = [
    ['environ', "SELECT file('/proc/self/environ')"],
    ['passwd', "SELECT file('/etc/passwd') AS x"],
    ['upper case', "SELECT FILE('/etc/passwd')"],
    ['backquoted', "SELECT `file`('/etc/passwd')"],
    ['double-quoted', 'SELECT "file"(\'/etc/passwd\')'],
    ['in a subquery', "SELECT * FROM (SELECT file('/etc/passwd') AS x)"],
    ['in a scalar subquery', "SELECT (SELECT file('/etc/passwd'))"],
    ['in a CTE', "WITH t AS (SELECT file('/etc/passwd') AS x) SELECT * FROM t"],
    ['as a WITH expression', "WITH file('/etc/passwd') AS x SELECT x"],
    [
      'in a JOIN',
      "SELECT * FROM billing.ledger AS l JOIN (SELECT file('/etc/passwd') AS x) AS f ON l.user_id = f.x",
    ],
    [
      'in a JOIN condition',
      "SELECT count() FROM billing.ledger AS l JOIN billing.usage AS u ON l.request_id = u.request_id AND file('/etc/passwd') != ''",
    ],
    ['in IN (subquery)', "SELECT 1 WHERE 'x' IN (SELECT file('/etc/passwd'))"],
    ['in a lambda', "SELECT arrayMap(x -> file(x), ['/etc/passwd'])"],
    ['in a window', "SELECT count() OVER (PARTITION BY file('/etc/passwd'))"],
    ['in ORDER BY', "SELECT provider FROM billing.ledger ORDER BY file('/etc/passwd')"],
    [
      'in HAVING',
      "SELECT provider FROM billing.ledger GROUP BY provider HAVING file('/etc/passwd') != ''",
    ],
    ['in WHERE', "SELECT provider FROM billing.ledger WHERE file('/etc/passwd') != ''"],
    ['in a UNION', "SELECT 'a' UNION ALL SELECT file('/etc/passwd')"],
    ['in LIMIT', "SELECT 1 LIMIT length(file('/etc/passwd'))"],
    ['nested in casts', "SELECT toString(CAST(file('/etc/passwd') AS String))"],
    ['behind a comment', "SELECT 1 /* harmless */ , file('/etc/passwd') -- the end"],
  ];
  it.each(FILE_READS)('refuses file() %s', async (_name, sql) => {
    await expectRefused(sql, /function (file|FILE) is not allowed in finance SQL/);
  });

  it('refuses APPLY, which calls a function by a name the tree does not show', async () => {
    await expectRefused(
      "SELECT COLUMNS('p') APPLY file FROM (SELECT '/etc/passwd' AS p)",
      /APPLY is not allowed in finance SQL/,
    );
  });

  it('refuses host files read as tables of the current database (chdb reads paths as tables)', async () => {
    for (const sql of [
      'SELECT * FROM `/etc/passwd`',
      'SELECT * FROM `/proc/self/environ`',
      'SELECT * FROM billing.ledger WHERE user_id IN `/etc/passwd`',
      // A CTE's own name inside its body is not the CTE: it is a table of the current database.
      'WITH `/etc/passwd` AS (SELECT * FROM `/etc/passwd`) SELECT * FROM `/etc/passwd`',
      // A CTE is not visible outside the subquery that defines it.
      'SELECT * FROM (WITH `/etc/passwd` AS (SELECT 1 AS a) SELECT a FROM `/etc/passwd`), `/etc/passwd`',
    ]) {
      const answer = await post(sql);
      expectNoLeak(answer.text);
      expect(answer.status, sql).toBe(400);
    }
  });

  it('refuses INTO OUTFILE and creates no file', async () => {
    const targets = ['outfile.txt', 'stdout.txt', 'truncate.txt'].map((f) => join(scratch, f));
    await expectRefused(`SELECT 1 INTO OUTFILE '${targets[0]}'`, /INTO OUTFILE/);
    await expectRefused(`SELECT 1 INTO OUTFILE '${targets[1]}' AND STDOUT`, /INTO OUTFILE/);
    await expectRefused(`SELECT 1 INTO OUTFILE '${targets[2]}' TRUNCATE`, /INTO OUTFILE/);
    for (const target of targets) expect(existsSync(target), target).toBe(false);
  });

  it('refuses FORMAT and SETTINGS (the limits cannot be lifted)', async () => {
    await expectRefused('SELECT 1 FORMAT TabSeparated', /FORMAT/);
    await expectRefused('SELECT 1 FORMAT JSON', /FORMAT/);
    await expectRefused('SELECT 1 SETTINGS readonly = 0', /SETTINGS is not allowed/);
    await expectRefused(
      'SELECT arrayJoin(range(200000)) SETTINGS max_result_rows = 0',
      /SETTINGS is not allowed/,
    );
    await expectRefused(
      'SELECT * FROM (SELECT 1 SETTINGS max_memory_usage = 0)',
      /SETTINGS is not allowed/,
    );
  });

  const TABLE_FUNCTIONS = [
    "file('/etc/passwd', 'LineAsString')",
    "url('http://169.254.169.254/latest/meta-data/', 'LineAsString')",
    "s3('http://127.0.0.1:9000/bucket/x.csv')",
    "remote('127.0.0.1', 'billing', 'api_tokens')",
    "remoteSecure('127.0.0.1', 'billing', 'api_tokens')",
    "cluster('default', 'billing', 'api_tokens')",
    "clusterAllReplicas('default', 'billing', 'api_tokens')",
    "input('a String')",
    "executable('x.sh', 'TabSeparated', 'a String')",
    "merge('billing', '^api_')",
    'numbers(10)',
    'numbers_mt(10)',
    'zeros(10)',
    "generateRandom('a String')",
    "mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')",
    "postgresql('127.0.0.1:5432', 'db', 't', 'u', 'p')",
    "jdbc('jdbc:mysql://127.0.0.1/db', 't')",
    "odbc('DSN=x', 't')",
    "hdfs('hdfs://127.0.0.1:9000/x', 'TSV', 'a String')",
    "azureBlobStorage('http://127.0.0.1:10000', 'c', 'x.csv')",
    "dictionary('d')",
    'view(SELECT token_id FROM billing.api_tokens)',
    'loop(billing.ledger)',
    "values('a String', 'x')",
    "format(CSV, 'a\\n')",
    "sqlite('/etc/passwd', 't')",
    "gcs('http://127.0.0.1/x.csv')",
    "urlCluster('default', 'http://127.0.0.1/x')",
    "fileCluster('default', '/etc/passwd')",
    "viewIfPermitted(SELECT 1 ELSE null('a String'))",
    "mergeTreeIndex('billing', 'ledger_entries')",
    'generate_series(1, 10)',
  ];
  it.each(TABLE_FUNCTIONS)('refuses the table function %s', async (call) => {
    const name = /^\w+/.exec(call)![0];
    await expectRefused(
      `SELECT * FROM ${call}`,
      new RegExp(`table function ${name} is not allowed in finance SQL`),
    );
  });

  it('refuses table functions in JOINs, subqueries and IN', async () => {
    await expectRefused(
      'SELECT * FROM billing.ledger AS l JOIN numbers(1) AS n ON 1 = 1',
      /table function numbers/,
    );
    await expectRefused(
      "SELECT 1 WHERE 'x' IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
      /table function file/,
    );
  });

  const FORBIDDEN_TABLES: Array<[string, string, RegExp]> = [
    ['system.one', 'SELECT * FROM system.one', /table system\.one is not allowed/],
    ['system.tables', 'SELECT name FROM system.tables', /table system\.tables/],
    ['system.processes', 'SELECT query FROM system.processes', /table system\.processes/],
    ['system.numbers', 'SELECT number FROM system.numbers LIMIT 1', /table system\.numbers/],
    ['INFORMATION_SCHEMA', 'SELECT * FROM INFORMATION_SCHEMA.TABLES', /INFORMATION_SCHEMA/],
    ['information_schema', 'SELECT * FROM information_schema.columns', /information_schema/],
    ['default', 'SELECT * FROM default.x', /table default\.x/],
    ['api_tokens', 'SELECT * FROM billing.api_tokens', /table billing\.api_tokens is not allowed/],
    ['webhook_secrets', 'SELECT * FROM billing.webhook_secrets', /billing\.webhook_secrets/],
    ['backquoted', 'SELECT * FROM billing.`api_tokens`', /billing\.api_tokens/],
    ['double-quoted', 'SELECT * FROM "billing"."api_tokens"', /billing\.api_tokens/],
    ['via a subquery', 'SELECT * FROM (SELECT * FROM billing.api_tokens)', /billing\.api_tokens/],
    [
      'via a CTE named like a finance table',
      'WITH ledger AS (SELECT * FROM billing.api_tokens) SELECT * FROM ledger',
      /billing\.api_tokens/,
    ],
    [
      'via a JOIN',
      'SELECT * FROM billing.ledger AS l JOIN billing.api_tokens AS t ON l.user_id = t.token_id',
      /billing\.api_tokens/,
    ],
    [
      'via a UNION',
      "SELECT 'x' AS a UNION ALL SELECT token_id FROM billing.api_tokens",
      /billing\.api_tokens/,
    ],
    [
      'via IN (subquery)',
      "SELECT 1 WHERE 'x' IN (SELECT token_id FROM billing.api_tokens)",
      /billing\.api_tokens/,
    ],
    ['via IN table', "SELECT 1 WHERE 'x' IN billing.api_tokens", /billing\.api_tokens/],
    [
      'behind a CTE of the same name',
      'WITH api_tokens AS (SELECT 1 AS x) SELECT * FROM billing.api_tokens',
      /billing\.api_tokens/,
    ],
    [
      'via a CTE whose name is the qualified name',
      'WITH `billing.api_tokens` AS (SELECT 1 AS x) SELECT * FROM `billing.api_tokens`',
      /billing\.api_tokens/,
    ],
    ['in EXISTS', 'SELECT EXISTS (SELECT 1 FROM billing.api_tokens)', /billing\.api_tokens/],
  ];
  it.each(FORBIDDEN_TABLES)('refuses %s', async (_name, sql, reason) => {
    await expectRefused(sql, reason);
  });

  it('a CTE named like a table, or a dotted name, never reaches a table of another database', async () => {
    // Both pass the check (unqualified names are CTEs or nothing) and find nothing to read.
    for (const sql of [
      'WITH api_tokens AS (SELECT * FROM api_tokens) SELECT * FROM api_tokens',
      'SELECT * FROM `billing.ledger`',
      'SELECT * FROM api_tokens',
    ]) {
      const answer = await post(sql);
      expectNoLeak(answer.text);
      expect(answer.status, sql).toBe(400);
      expect(answer.body.error).toMatch(/Unknown table/i);
    }
  });

  const FUNCTIONS = [
    "dictGet('d', 'a', toUInt64(1))",
    "dictGetOrDefault('d', 'a', toUInt64(1), 'x')",
    "dictHas('d', toUInt64(1))",
    "joinGet('billing.api_tokens', 'secret_hash', 'x')",
    "getSetting('readonly')",
    "getSettingOrDefault('readonly', 0)",
    'sleep(1)',
    'sleepEachRow(1)',
    'hostName()',
    'currentUser()',
    "getMacro('x')",
    "catboostEvaluate('/tmp/m.bin', 1)",
    "evalMLMethod('x', 1)",
    "getServerPort('tcp_port')",
    'uptime()',
    'serverUUID()',
    'filesystemAvailable()',
    "getClientHTTPHeader('authorization')",
    "hasColumnInTable('billing', 'api_tokens', 'secret_hash')",
    "arrayReduce('sum', [1, 2])",
    "initializeAggregation('sumState', 1)",
    'currentDatabase()',
    'version()',
    "globalVariable('x')",
  ];
  it.each(FUNCTIONS)('refuses the function %s', async (call) => {
    const name = /^\w+/.exec(call)![0];
    await expectRefused(
      `SELECT ${call}`,
      new RegExp(`function ${name} is not allowed in finance SQL`),
    );
  });

  it('refuses multi-statements, however they are hidden', async () => {
    for (const sql of [
      "SELECT 1; SELECT file('/etc/passwd')",
      'SELECT 1;; SELECT 2',
      'SELECT 1; -- nothing to see\nDROP TABLE billing.ledger_entries',
      'SELECT 1 /* ; */ ; SELECT 2',
      "SELECT ';'; SELECT 2",
      'SELECT 1;\nSELECT 2;',
    ]) {
      await expectRefused(sql, /Multi-statements are not allowed/);
    }
    // A trailing semicolon and a semicolon inside a comment are one statement.
    expect((await post('SELECT 1 AS one;')).body).toEqual({ rows: [{ one: 1 }], rowCount: 1 });
    expect((await post('SELECT 1 AS one -- ; DROP TABLE billing.usage')).body.rowCount).toBe(1);
  });

  it('casts only to plain types: no aggregate states decoded from the caller’s bytes', async () => {
    for (const [sql, reason] of [
      ["SELECT CAST('x' AS AggregateFunction(groupBitmap, UInt64))", /type AggregateFunction/],
      ["SELECT 'x'::SimpleAggregateFunction(max, UInt64)", /type SimpleAggregateFunction/],
      ["SELECT accurateCastOrNull('x', 'AggregateFunction(uniq, String)')", /type Aggregate/],
      ['SELECT CAST(1 AS Tuple(a UInt8))', /type a is not allowed/],
      ["SELECT CAST(1, concat('Str', 'ing'))", /takes a type written as a string literal/],
      ['SELECT CAST(1, toTypeName(2))', /takes a type written as a string literal/],
    ] as const) {
      await expectRefused(sql, reason);
    }
    const plain = await post(
      `SELECT CAST(1 AS Decimal(38, 9)) AS d, 2::Int128 AS i, accurateCastOrNull(300, 'UInt8') AS n,
              CAST('2026-11-01 00:00:00' AS DateTime64(3, 'UTC')) AS t, CAST([1] AS Array(Nullable(Int64))) AS a,
              CAST('b' AS Enum8('a' = 1, 'b' = 2)) AS e`,
    );
    expect(plain.status, plain.text).toBe(200);
    expect(plain.body.rowCount).toBe(1);
  });

  it('refuses control characters and lone surrogates before they reach a transport', async () => {
    for (const sql of [
      'SELECT 1\u0000',
      "SELECT '\u0000' AS nul",
      'SELECT \u0010\u000e1',
      'SELECT 1 -- \u007f',
      "SELECT '\ud800' AS half",
    ]) {
      await expectRefused(sql, /control characters .* and lone surrogates are refused/);
    }
    // Tabs and line breaks are SQL's own whitespace.
    const spaced = await post('SELECT\t1 AS one\r\n');
    expect(spaced.body, spaced.text).toEqual({ rows: [{ one: 1 }], rowCount: 1 });
  });

  it('refuses everything but SELECT', async () => {
    for (const sql of [
      'DROP TABLE billing.ledger_entries',
      "INSERT INTO billing.api_tokens (token_id) VALUES ('x')",
      'SET readonly = 0',
      'SHOW TABLES FROM billing',
      'DESCRIBE TABLE billing.api_tokens',
      'SHOW CREATE TABLE billing.api_tokens',
      "EXPLAIN SELECT file('/etc/passwd')",
      'USE system',
      'CREATE TABLE billing.x (a String) ENGINE = Memory',
      'ALTER TABLE billing.ledger_entries DELETE WHERE 1',
      'KILL QUERY WHERE 1',
      'SYSTEM FLUSH LOGS',
      'OPTIMIZE TABLE billing.ledger_entries FINAL',
    ]) {
      await expectRefused(sql, /finance SQL runs one SELECT|FORMAT|only/);
    }
    expect(await queryCount('billing.ledger_entries')).toBe('3');
  });

  it('refuses query parameters', async () => {
    await expectRefused('SELECT {x:String}', /query parameters .* are not allowed/);
    await expectRefused('SELECT * FROM {t:Identifier}', /query parameters .* are not allowed/);
  });

  it('refuses names that could forge lines of the syntax tree, and keeps strings as data', async () => {
    for (const sql of [
      'SELECT 1 AS `x)\n    Function file (alias y`',
      'SELECT 1 AS `a\n Function file`',
      'SELECT `a\nFunction file` FROM billing.ledger',
      'SELECT * FROM billing.`ledger\n      TableIdentifier billing.ledger`',
      'SELECT 1 AS `a (children 2)`',
      'SELECT 1 AS `total usd`',
    ]) {
      await expectRefused(sql, /(alias|name|table) .* is not allowed|letters, digits/);
    }
    const forged = 'x\n   Function file (children 1)\n    ExpressionList (children 1)';
    const literal = await post(`SELECT '${forged.replaceAll('\n', '\\n')}' AS s`);
    expect(literal.status).toBe(200);
    expect(literal.body.rows).toEqual([{ s: forged }]);
  });

  it('holds the size limit, refuses very deep nesting, and runs SQL at the limit', async () => {
    const filler = FINANCE_SQL_MAX_LENGTH - "SELECT '' AS s".length;
    const atLimit = `SELECT '${'a'.repeat(filler)}' AS s`;
    expect(atLimit).toHaveLength(FINANCE_SQL_MAX_LENGTH);
    const ok = await post(atLimit);
    expect(ok.status).toBe(200);
    expect(ok.body.rows[0].s).toHaveLength(filler);

    const tooLong = await post(`${atLimit} `);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.field).toBe('sql');

    const deep = await post(`SELECT ${'('.repeat(5_000)}1${')'.repeat(5_000)}`);
    expect(deep.status).toBe(400);
    expect(deep.body.error).toMatch(/depth/i);

    const nested = await post(`SELECT ${'abs('.repeat(200)}-1${')'.repeat(200)} AS x`);
    expect(nested.body).toEqual({ rows: [{ x: 1 }], rowCount: 1 });
  });

  it('bounds the result rows, the result bytes and the memory of a query', async () => {
    await expectRefused('SELECT arrayJoin(range(200000)) AS n', /rows|limit/i);
    await expectRefused(
      "SELECT repeat('x', 1000) AS s FROM (SELECT arrayJoin(range(90000)) AS n)",
      /bytes|limit/i,
    );
    await expectRefused(
      "SELECT length(groupArray(repeat('x', 1000))) FROM (SELECT arrayJoin(range(3000000)) AS n)",
      /memory/i,
    );
  });

  it('runs legitimate finance SQL', async () => {
    const sum = await post(
      "SELECT toString(sum(cost_nano_usd)) AS total FROM billing.ledger WHERE billed_account = 'acme'",
    );
    expect(sum.body).toEqual({ rows: [{ total: '6000' }], rowCount: 1 });
    const legit = [
      'WITH t AS (SELECT provider, cost_nano_usd FROM billing.ledger) SELECT provider, sum(cost_nano_usd) AS c FROM t GROUP BY provider',
      'WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT y FROM b',
      'SELECT request_id, sum(cost_nano_usd) OVER (ORDER BY request_id) AS running FROM billing.ledger',
      'SELECT arrayMap(x -> x * 2, [1, 2, 3]) AS doubled, arrayFilter(x -> x > 1, [1, 2]) AS f',
      'SELECT JSONExtractString(\'{"a":"b"}\', \'a\') AS a, toDecimal128(1, 9) / 1000000000 AS usd',
      "SELECT sumIf(cost_nano_usd, provider = 'groq') AS groq, countDistinct(user_id) AS users, uniqExact(request_id) AS n FROM billing.ledger",
      'SELECT provider FROM billing.ledger WHERE request_id IN (SELECT request_id FROM billing.ledger WHERE cost_nano_usd > 1000) LIMIT 1 BY provider',
      'SELECT 1 AS x UNION ALL SELECT 2 AS x',
      'SELECT 1 AS x INTERSECT SELECT 1 AS x',
      "SELECT toStartOfMonth(now()) - INTERVAL 1 MONTH AS m, CAST(1 AS String) AS s, if(1 > 0, 'y', 'n') AS c, coalesce(NULL, 1) AS z",
      'SELECT count() AS n FROM billing.ledger FINAL',
      "SELECT 'a; DROP TABLE billing.usage' AS s, ';' AS t",
      "SELECT multiIf(cost_nano_usd > 2000, 'big', 'small') AS size, count() AS n FROM billing.ledger GROUP BY size ORDER BY size",
    ];
    for (const sql of legit) {
      const answer = await post(sql);
      expect(answer.status, `${sql}\n→ ${answer.text.slice(0, 300)}`).toBe(200);
      expect(answer.body.rowCount).toBe(answer.body.rows.length);
    }
  });

  it.each(documentedFinanceSql())('runs the documented example %s', async (sql) => {
    const answer = await post(sql);
    expect(answer.status, answer.text.slice(0, 300)).toBe(200);
    expect(answer.body.rowCount).toBe(answer.body.rows.length);
  });

  async function queryCount(table: string): Promise<string> {
    const result = await ch.client.query({
      query: `SELECT count() AS n FROM ${table}`,
      format: 'JSONEachRow',
    });
    return (await result.json<{ n: string }>())[0]!.n;
  }
});
