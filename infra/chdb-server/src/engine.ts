import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

interface NativeResult {
  bytes: Uint8Array;
  elapsed: number;
  rowsRead: number;
  bytesRead: number;
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
}

export interface Statement {
  sql: string;
  /** Output format when the SQL names none (HTTP `default_format`, TabSeparated by default). */
  format: string;
  /** `SET`-able settings of this request, in request order (a later one may be `readonly`). */
  settings: ReadonlyArray<readonly [string, string]>;
  database: string | undefined;
  params: Record<string, string>;
}

/** Sessions kept open per combination of settings; more run while busy, then close. */
const MAX_IDLE_PER_KEY = 8;

/**
 * Sessions over one data directory. chdb settings stick to a session, and `readonly` cannot be
 * lifted once set, so each session is opened for one combination of settings and only ever serves
 * requests that ask for exactly those; a session runs one statement at a time.
 */
export class Engine {
  readonly #path: string;
  readonly #idle = new Map<string, ChdbSession[]>();
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
    this.#release(this.#key([], undefined), new Session(path));
  }

  async run(statement: Statement): Promise<EngineResult> {
    if (this.#closed) throw new Error('engine closed');
    const key = this.#key(statement.settings, statement.database);
    const session = this.#idle.get(key)?.pop() ?? (await this.#open(statement));
    try {
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
      };
    } finally {
      this.#release(key, session);
    }
  }

  close(): void {
    this.#closed = true;
    for (const sessions of this.#idle.values()) for (const s of sessions) s.close();
    this.#idle.clear();
  }

  async #open(statement: Statement): Promise<ChdbSession> {
    const session = new Session(this.#path);
    try {
      if (statement.database !== undefined) {
        await native.QueryAsyncConnection(
          session.connection,
          `USE ${quoteIdentifier(statement.database)}`,
          'TabSeparated',
        );
      }
      if (statement.settings.length > 0) {
        const assignments = statement.settings.map(([k, v]) => `${settingName(k)} = ${quote(v)}`);
        await native.QueryAsyncConnection(
          session.connection,
          `SET ${assignments.join(', ')}`,
          'TabSeparated',
        );
      }
      return session;
    } catch (error) {
      session.close();
      throw error;
    }
  }

  #release(key: string, session: ChdbSession): void {
    const idle = this.#idle.get(key) ?? [];
    if (this.#closed || idle.length >= MAX_IDLE_PER_KEY) {
      session.close();
      return;
    }
    idle.push(session);
    this.#idle.set(key, idle);
  }

  #serialized<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#paramChain.then(call);
    this.#paramChain = result.catch(() => undefined);
    return result;
  }

  #key(settings: Statement['settings'], database: string | undefined): string {
    return JSON.stringify([database ?? null, settings]);
  }
}

function settingName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BadRequest(`invalid setting name ${name}`);
  return name;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/** A request the engine refuses before running anything (HTTP 400). */
export class BadRequest extends Error {}
