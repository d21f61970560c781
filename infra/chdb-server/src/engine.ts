import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { badRequest, RefusedRequest } from './errors.js';

const require = createRequire(import.meta.url);

interface NativeResult {
  bytes: Uint8Array;
  elapsed: number;
  rowsRead: number;
  bytesRead: number;
}

interface NativeInsertResult {
  elapsed: number;
  rowsWritten: number;
  bytesWritten: number;
}

interface ChdbSession {
  connection: unknown;
  close(): void;
}

interface ChdbNative {
  QueryAsyncConnection(
    connection: unknown,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<NativeResult>;
  /** Runs `prefix`, a newline and `data`, taking `data` as bytes (no copy into a JS string). */
  InsertRawAsyncConnection(
    connection: unknown,
    prefix: string,
    data: Buffer,
    countLines: boolean,
  ): Promise<NativeInsertResult>;
}

const { Session } = require('chdb') as { Session: new (path: string) => ChdbSession };
/**
 * The addon itself: chdb's `queryBindAsync` re-formats parameter values from JS values, while the
 * HTTP interface hands them over already in ClickHouse's escaped text form. Binding those strings
 * as they are is exactly what a ClickHouse server does with `param_*`.
 */
const native = (
  require(join(dirname(require.resolve('chdb/package.json')), 'dist/loader.js')) as {
    loadNative(): ChdbNative;
  }
).loadNative();

export interface EngineResult {
  bytes: Uint8Array;
  elapsedSeconds: number;
  rowsRead: number;
  bytesRead: number;
  rowsWritten: number;
  bytesWritten: number;
}

export interface Statement {
  sql: string;
  /**
   * An insert's data when it came apart from its SQL (the body of `?query=INSERT … FORMAT …`):
   * handed to the engine as bytes after the SQL.
   */
  data: Buffer | undefined;
  /** Output format when the SQL names none (HTTP `default_format`, TabSeparated by default). */
  format: string;
  /** `SET`-able settings of this request, in request order (a later one may be `readonly`). */
  settings: ReadonlyArray<readonly [string, string]>;
  database: string | undefined;
  params: Record<string, string>;
  /** A GET: only a statement that reads runs (and with `readonly = 1` among its settings). */
  readOnly: boolean;
}

const NO_BYTES = new Uint8Array(0);
/** Statements that only read, as `formatQuery` writes them. */
const READ_STATEMENT = /^(SELECT|WITH|SHOW|DESCRIBE|EXISTS|EXPLAIN)\b/;
/** `formatQuery` starts the clause on a line of its own; a literal's newline stays escaped. */
const INTO_OUTFILE = /^INTO OUTFILE\b/m;

/**
 * Statements over one data directory, each in a chdb session of its own, opened for it and closed
 * after it. chdb keeps whatever a statement changes in its session (`SET`, `USE`, `SET param_*`,
 * temporary tables, and chdb runs every statement of a multi-statement text), so a session that
 * served one request never serves another: nothing a request sends reaches a later one. Opening
 * one costs about a tenth of a millisecond while another session holds the data directory open,
 * which the engine's own session does for its whole life.
 */
export class Engine {
  readonly #path: string;
  /** Keeps the data directory loaded (without it, each session would load it again: ~50 ms). */
  readonly #held: ChdbSession;
  /**
   * libchdb sets and clears parameter state around each parameterized call without isolating it
   * per connection (chdb's index.js documents the race), so parameterized statements run one at a
   * time across every session, as chdb itself does.
   */
  #paramChain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(path: string) {
    this.#path = path;
    // Opened now: a data directory another process holds fails here, at start.
    this.#held = new Session(path);
  }

  async run(statement: Statement): Promise<EngineResult> {
    if (this.#closed) throw new Error('engine closed');
    const session = await this.#open(statement);
    try {
      if (statement.readOnly) await this.#ensureRead(session, statement.sql);
      return statement.data === undefined
        ? await this.#query(session, statement)
        : await this.#insert(session, statement.sql, statement.data);
    } finally {
      session.close();
    }
  }

  close(): void {
    this.#closed = true;
    this.#held.close();
  }

  async #query(session: ChdbSession, statement: Statement): Promise<EngineResult> {
    const bound = Object.keys(statement.params).length > 0;
    const call = () =>
      bound
        ? native.QueryAsyncConnection(
            session.connection,
            statement.sql,
            statement.format,
            statement.params,
          )
        : native.QueryAsyncConnection(session.connection, statement.sql, statement.format);
    const raw = await (bound ? this.#serialized(call) : call());
    return {
      bytes: raw.bytes,
      elapsedSeconds: raw.elapsed,
      rowsRead: raw.rowsRead,
      bytesRead: raw.bytesRead,
      rowsWritten: 0,
      bytesWritten: 0,
    };
  }

  async #insert(session: ChdbSession, sql: string, data: Buffer): Promise<EngineResult> {
    const raw = await native.InsertRawAsyncConnection(session.connection, sql, data, false);
    return {
      bytes: NO_BYTES,
      elapsedSeconds: raw.elapsed,
      rowsRead: 0,
      bytesRead: 0,
      rowsWritten: raw.rowsWritten,
      bytesWritten: raw.bytesWritten,
    };
  }

  /**
   * `readonly = 1` stops writes to tables, but chdb still runs `SELECT … INTO OUTFILE` (a file
   * written wherever the server may write), `KILL QUERY` (any running statement: there is one
   * user) and every statement of a multi-statement text. ClickHouse's own parser says what the
   * text is: one statement (`formatQuery` refuses more), in canonical form, which must read.
   */
  async #ensureRead(session: ChdbSession, sql: string): Promise<void> {
    const raw = await native.QueryAsyncConnection(
      session.connection,
      `SELECT formatQuery(${quote(sql)})`,
      'RawBLOB',
    );
    const formatted = Buffer.from(raw.bytes).toString('utf8');
    if (!READ_STATEMENT.test(formatted) || INTO_OUTFILE.test(formatted)) {
      throw new RefusedRequest(
        500,
        'READONLY',
        'Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries',
      );
    }
  }

  /** A new session with the request's database and settings (readonly last, as parsed). */
  async #open(statement: Statement): Promise<ChdbSession> {
    const preamble: string[] = [];
    if (statement.database !== undefined)
      preamble.push(`USE ${quoteIdentifier(statement.database)}`);
    if (statement.settings.length > 0) {
      const assignments = statement.settings.map(([k, v]) => `${settingName(k)} = ${quote(v)}`);
      preamble.push(`SET ${assignments.join(', ')}`);
    }
    const session = new Session(this.#path);
    try {
      if (preamble.length > 0) {
        await native.QueryAsyncConnection(session.connection, preamble.join('; '), 'TabSeparated');
      }
      return session;
    } catch (error) {
      session.close();
      throw error;
    }
  }

  #serialized<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#paramChain.then(call);
    this.#paramChain = result.catch(() => undefined);
    return result;
  }
}

function settingName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw badRequest('BAD_ARGUMENTS', `invalid setting name ${JSON.stringify(name)}`);
  }
  return name;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}
