import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { CLICKHOUSE_SETTINGS, openClickHouse } from './client.js';
import { checkFinanceAst, FINANCE_OBJECTS, FinanceSqlRefused } from './finance-ast.js';

/** The longest finance SQL accepted, in characters (the API, the socket and the CLI alike). */
export const FINANCE_SQL_MAX_LENGTH = 20_000;
/**
 * C0 controls other than tab, LF and CR, and DEL: no SQL needs them, and a NUL breaks transports
 * (an HTTP server's URL, chdb's C strings) before ClickHouse can give a reason.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * The current database of finance SQL: created empty and kept empty. An unqualified table name
 * is then a CTE of the query or nothing: never a table of another database, and never a host
 * file (embedded ClickHouse's default database reads paths as tables). Every check verifies
 * that it is the current database before anything runs.
 */
export const FINANCE_SCOPE_DATABASE = 'nanobill_finance_scope';

/** The ClickHouse settings profile of the finance user on a server (`nanobill migrate --finance-user`). */
export const FINANCE_PROFILE = 'nanobill_finance';

/** Result rows of one finance query (ClickHouse throws past it). */
const MAX_RESULT_ROWS = 100_000;
/** Bytes of one finance query's result, uncompressed: embedded ClickHouse holds it in memory. */
const MAX_RESULT_BYTES = 64 * 1024 * 1024;
/** Memory of one finance query: embedded ClickHouse runs inside the nanobill process. */
const MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
/** Seconds one finance query may run. */
const MAX_EXECUTION_SECONDS = 30;

/**
 * Limits of every finance query, then read-only. `readonly` comes last: once it is set,
 * ClickHouse refuses to change any other setting, the query's own `SETTINGS` included (which
 * the check refuses anyway). The finance user's profile holds the same values.
 */
export const FINANCE_QUERY_SETTINGS: ClickHouseSettings = {
  max_result_rows: String(MAX_RESULT_ROWS),
  max_result_bytes: String(MAX_RESULT_BYTES),
  result_overflow_mode: 'throw',
  max_memory_usage: String(MAX_MEMORY_BYTES),
  max_execution_time: MAX_EXECUTION_SECONDS,
  readonly: '1',
};

/** A ClickHouse output format name (`TabSeparated`, `JSONEachRow`, `PrettyCompact`, …). */
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/** ClickHouse error codes the check turns into a reason of its own. */
const SYNTAX_ERROR = '62';
const READONLY = '164';
const UNKNOWN_QUERY_PARAMETER = '456';

/** Queries that may still bring back an earlier query's output after a failure (chdb). */
const MAX_RESYNC_QUERIES = 3;

/** The finance connection's current database is not the empty one: nothing may run. */
export class FinanceScopeError extends Error {
  override readonly name = 'FinanceScopeError';
}

/**
 * Finance SQL on a connection of its own: checked by ClickHouse's parser against an allowlist
 * (see checkFinanceAst), then run exactly as checked with FINANCE_QUERY_SETTINGS. One rule for
 * the API, `nanobill query` and the query socket.
 */
export class FinanceSql {
  #prepared = false;
  /** Embedded ClickHouse: the request that has the connection; the next waits for it. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: ClickHouseClient,
    private readonly embedded: boolean,
  ) {}

  /**
   * Checks `sql` and returns the text to run: ClickHouse's normalized form of the one statement,
   * then `FORMAT <format>`. Throws FinanceSqlRefused with the reason.
   */
  check(sql: string, format: string): Promise<string> {
    return this.#exclusive(async () => (await this.#check(sql, format)).text);
  }

  /**
   * The rows, as the JSON text of each (`JSONEachRow`), in batches as they arrive. Past
   * MAX_RESULT_ROWS rows or MAX_RESULT_BYTES bytes the iteration throws FinanceSqlRefused:
   * ClickHouse checks its own limits between blocks only, and one block can be larger.
   */
  async rows(sql: string): Promise<AsyncIterable<string[]>> {
    const result = await this.#exclusive(async () => {
      const { normalized } = await this.#check(sql, 'JSONEachRow');
      // The client sends `normalized` + " \nFORMAT JSONEachRow": the very text just checked.
      return this.client.query({
        query: normalized,
        format: 'JSONEachRow',
        clickhouse_settings: FINANCE_QUERY_SETTINGS,
      });
    });
    return limitedRows(result.stream() as AsyncIterable<Array<{ text: string }>>);
  }

  /**
   * The answer in any ClickHouse output format, as bytes (`nanobill query`), at most
   * MAX_RESULT_BYTES. Resolves once the first bytes are there, so that a failure before them
   * (a limit, mostly) is thrown here rather than in the middle of the output.
   */
  async stream(sql: string, format: string): Promise<Readable> {
    const result = await this.#exclusive(async () => {
      const { text } = await this.#check(sql, format);
      return this.client.exec({ query: text, clickhouse_settings: FINANCE_QUERY_SETTINGS });
    });
    const chunks = limitedBytes(result.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const first = await chunks.next();
    return Readable.from(
      (async function* () {
        for (let chunk = first; !chunk.done; chunk = await chunks.next()) yield chunk.value;
      })(),
    );
  }

  close(): Promise<void> {
    return this.client.close();
  }

  async #check(sql: string, format: string): Promise<{ normalized: string; text: string }> {
    // First, whatever the SQL: a refusal resyncs the connection with a read-only query, after
    // which chdb could no longer create the scope database on it.
    await this.#prepare();
    if (sql.length > FINANCE_SQL_MAX_LENGTH) {
      throw new FinanceSqlRefused(`finance SQL is at most ${FINANCE_SQL_MAX_LENGTH} characters`);
    }
    if (!sql.isWellFormed() || CONTROL_CHARACTER.test(sql)) {
      throw new FinanceSqlRefused(
        'finance SQL is text: control characters (other than tab and line breaks) and lone surrogates are refused',
      );
    }
    if (!FORMAT_NAME.test(format)) {
      throw new FinanceSqlRefused(`${JSON.stringify(format)} is not an output format name`);
    }
    const normalized = await this.#normalize(sql);
    const text = runText(normalized, format);
    checkFinanceAst(await this.#explain(text), format);
    return { normalized, text };
  }

  /**
   * Embedded ClickHouse runs one request at a time on this connection, check and query
   * together. chdb hands the output of a query that failed half-way to the next query of the
   * same connection: after any failure the connection is brought back in step before the next
   * request has it. A server answers each HTTP request on its own.
   */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (!this.embedded) return work();
    const turn = this.#turn.then(async () => {
      try {
        return await work();
      } catch (error) {
        await this.#resync();
        throw error;
      }
    });
    this.#turn = turn.catch(() => undefined);
    return turn;
  }

  /** Queries a fresh value until the connection answers with it. */
  async #resync(): Promise<void> {
    for (let attempt = 0; attempt < MAX_RESYNC_QUERIES; attempt++) {
      const nonce = randomUUID();
      const result = await this.client.query({
        query: 'SELECT {nonce:String} AS nonce',
        query_params: { nonce },
        format: 'JSONEachRow',
        clickhouse_settings: FINANCE_QUERY_SETTINGS,
      });
      const rows = await result.json<{ nonce?: unknown }>().catch(() => []);
      if (rows.length === 1 && rows[0]!.nonce === nonce) return;
    }
    throw new Error('the embedded ClickHouse connection for finance SQL is out of step');
  }

  /**
   * Embedded ClickHouse: creates the empty scope database and makes it current on this
   * connection (chdb keeps it per connection), before any query makes the connection read-only.
   * A server's client names it as its database instead.
   */
  async #prepare(): Promise<void> {
    if (!this.embedded || this.#prepared) return;
    await this.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${FINANCE_SCOPE_DATABASE}` });
    await this.client.command({ query: `USE ${FINANCE_SCOPE_DATABASE}` });
    this.#prepared = true;
  }

  /**
   * ClickHouse's normalized text of the SQL, passed as a query parameter (never spliced in):
   * `formatQuery` parses one statement and refuses several ("Multi-statements are not allowed");
   * comments are gone. Also reads the current database, which must be the empty scope.
   */
  async #normalize(sql: string): Promise<string> {
    const nonce = randomUUID();
    const rows = await refusedOnError(async () => {
      const result = await this.client.query({
        query:
          'SELECT formatQuery({sql:String}) AS sql, currentDatabase() AS db, {nonce:String} AS nonce',
        query_params: { sql, nonce },
        format: 'JSONEachRow',
        clickhouse_settings: FINANCE_QUERY_SETTINGS,
      });
      return result.json<{ sql: unknown; db: unknown; nonce: unknown }>();
    });
    const [row, ...more] = rows;
    // The nonce proves the answer is this query's (see #exclusive).
    if (row?.nonce !== nonce || more.length > 0 || typeof row.sql !== 'string') {
      throw new Error('formatQuery answered with something other than its one row');
    }
    if (row.db !== FINANCE_SCOPE_DATABASE) {
      throw new FinanceScopeError(
        `finance SQL runs in the empty database ${FINANCE_SCOPE_DATABASE}, but the connection's current database is ${JSON.stringify(row.db)} (run nanobill migrate; no database in CLICKHOUSE_FINANCE_URL)`,
      );
    }
    const normalized = row.sql;
    if (normalized === '' || normalized !== normalized.trim() || normalized.endsWith(';')) {
      throw new FinanceSqlRefused('finance SQL runs one SELECT query');
    }
    return normalized;
  }

  /** `EXPLAIN AST` of the text to run, one line per node; the output format is the EXPLAIN's. */
  async #explain(text: string): Promise<string[]> {
    const rows = await refusedOnError(
      async () => {
        const result = await this.client.query({
          query: `EXPLAIN AST ${text}`,
          format: 'JSONCompactEachRow',
          clickhouse_settings: FINANCE_QUERY_SETTINGS,
        });
        return result.json<unknown[]>();
      },
      {
        [UNKNOWN_QUERY_PARAMETER]: () =>
          'query parameters ({name:Type}) are not allowed in finance SQL',
        // EXPLAIN applies a query's SETTINGS, which readonly=1 refuses before our check sees them.
        [READONLY]: (message) =>
          `SETTINGS is not allowed in finance SQL (the limits are fixed): ${message}`,
        // The statement alone parsed: what our FORMAT does not follow is a FORMAT, or no SELECT.
        [SYNTAX_ERROR]: (message) =>
          `finance SQL runs one SELECT query (readonly), without FORMAT, INTO OUTFILE or SETTINGS: ${message}`,
      },
    );
    return rows.map((row) => {
      // Not a line of text: not the syntax tree of a SELECT (an INSERT's data, say).
      if (!Array.isArray(row) || row.length !== 1 || typeof row[0] !== 'string') {
        throw new FinanceSqlRefused('finance SQL runs one SELECT query (readonly)');
      }
      return row[0];
    });
  }
}

/** Rows of JSON text, at most MAX_RESULT_ROWS and MAX_RESULT_BYTES in all. */
async function* limitedRows(
  batches: AsyncIterable<Array<{ text: string }>>,
): AsyncGenerator<string[]> {
  let rows = 0;
  let bytes = 0;
  for await (const batch of batches) {
    const texts = batch.map((row) => row.text).filter((text) => text !== '');
    rows += texts.length;
    for (const text of texts) bytes += Buffer.byteLength(text);
    if (rows > MAX_RESULT_ROWS) {
      throw new FinanceSqlRefused(
        `the result is over the finance limit of ${MAX_RESULT_ROWS} rows`,
      );
    }
    if (bytes > MAX_RESULT_BYTES) {
      throw new FinanceSqlRefused(
        `the result is over the finance limit of ${MAX_RESULT_BYTES} bytes`,
      );
    }
    if (texts.length > 0) yield texts;
  }
}

/** Output bytes, at most MAX_RESULT_BYTES. */
async function* limitedBytes(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    if (bytes > MAX_RESULT_BYTES) {
      throw new FinanceSqlRefused(
        `the result is over the finance limit of ${MAX_RESULT_BYTES} bytes`,
      );
    }
    yield chunk;
  }
}

/** `<normalized SQL> \nFORMAT <format>`, byte for byte what @clickhouse/client sends for a query. */
function runText(normalized: string, format: string): string {
  return `${normalized} \nFORMAT ${format}`;
}

/**
 * Runs `step`; a ClickHouse error (it carries ClickHouse's numeric code) becomes a refusal with
 * ClickHouse's first line (syntax, multi-statements, depth), or with our own reason for the codes
 * in `reasons`. Anything else (no connection, say) is not the SQL's fault and is thrown as is.
 */
async function refusedOnError<T>(
  step: () => Promise<T>,
  reasons: Record<string, (message: string) => string> = {},
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string' || !/^\d+$/.test(code)) throw error;
    const message = ((error as Error).message ?? '').split('\n')[0]!.trim();
    const reason = reasons[code];
    throw new FinanceSqlRefused(reason === undefined ? message : reason(message));
  }
}

/**
 * A finance SQL runner of its own connection. Embedded ClickHouse when `url` is absent;
 * otherwise the server at `url` (the finance user's, CLICKHOUSE_FINANCE_URL, when there is one),
 * with the empty scope as its database: a database named in the URL is dropped.
 */
export function openFinanceSql(target: { url?: string | undefined; dataDir: string }): FinanceSql {
  if (target.url === undefined) {
    return new FinanceSql(openClickHouse({ dataDir: target.dataDir }), true);
  }
  const url = new URL(target.url);
  url.pathname = '/';
  return new FinanceSql(
    openClickHouse({
      url: url.toString(),
      dataDir: target.dataDir,
      database: FINANCE_SCOPE_DATABASE,
    }),
    false,
  );
}

/** A ClickHouse user name nanobill creates: letters, digits and `_`. */
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** The shortest finance password accepted. */
export const FINANCE_PASSWORD_MIN_LENGTH = 16;

/**
 * The statements that make (or bring up to date) the finance user on a ClickHouse server: a
 * read-only settings profile with the finance limits (and the client settings every nanobill
 * query sends, at the same values, which readonly=1 then accepts), the user with the password's
 * SHA-256 (the password itself never reaches the server or its logs), and SELECT on the finance
 * objects only, every other grant revoked first. Idempotent: run again, it converges.
 */
export function financeUserStatements(user: string, password: string): string[] {
  if (!USER_NAME.test(user)) {
    throw new RangeError('the finance user name is letters, digits and _ (at most 64)');
  }
  if (password.length < FINANCE_PASSWORD_MIN_LENGTH) {
    throw new RangeError(
      `the finance password is at least ${FINANCE_PASSWORD_MIN_LENGTH} characters`,
    );
  }
  const hash = createHash('sha256').update(password).digest('hex');
  const settings = Object.entries({ ...CLICKHOUSE_SETTINGS, ...FINANCE_QUERY_SETTINGS })
    .filter(([name]) => name !== 'readonly')
    .map(([name, value]) => `${name} = ${settingValue(value)}`);
  return [
    `CREATE DATABASE IF NOT EXISTS ${FINANCE_SCOPE_DATABASE}`,
    `CREATE SETTINGS PROFILE OR REPLACE ${FINANCE_PROFILE} SETTINGS ${[...settings, 'readonly = 1'].join(', ')}`,
    `CREATE USER IF NOT EXISTS ${user} IDENTIFIED WITH sha256_hash BY '${hash}'`,
    `ALTER USER ${user} IDENTIFIED WITH sha256_hash BY '${hash}' DEFAULT DATABASE ${FINANCE_SCOPE_DATABASE} SETTINGS PROFILE '${FINANCE_PROFILE}'`,
    `REVOKE ALL ON *.* FROM ${user}`,
    ...FINANCE_OBJECTS.map((object) => `GRANT SELECT ON billing.${object} TO ${user}`),
  ];
}

function settingValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(Number(value));
  const text = String(value);
  return /^\d+$/.test(text) ? text : `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
