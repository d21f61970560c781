import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { withInlinedParams } from './inline-params.js';

export type { ClickHouseClient };

/**
 * chdb implements the Connection interface from the now-bundled `@clickhouse/client-common`; the
 * shapes match but TypeScript sees two declarations of the settings type.
 */
type Connection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/**
 * 64-bit integers (every money amount) come back as JSON strings, never as lossy JS numbers:
 * chdb's default differs from the server's, so it is set explicitly for both.
 */
export const CLICKHOUSE_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  date_time_input_format: 'best_effort',
};

export interface ClickHouseTarget {
  /** A ClickHouse server over HTTP(S); absent means embedded chdb under `dataDir/clickhouse`. */
  url?: string | undefined;
  dataDir: string;
  /** A server's current database for this client (default: the URL's, else `default`). */
  database?: string | undefined;
  /**
   * Embedded chdb: `inline` (default) writes query parameters into the query, so that this
   * connection's queries do not wait in chdb's one process-wide chain of parameterized queries
   * (see inline-params.ts); `bound` leaves them to chdb's binding (finance SQL: untrusted text).
   */
  parameters?: 'inline' | 'bound';
}

/** Owner only: the data directory holds the ClickHouse data, secrets and the query socket. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * A new client on its own connection. Embedded chdb runs one operation at a time per connection,
 * so each service (and each reader apart from the writers) opens its own.
 */
export function openClickHouse(target: ClickHouseTarget): ClickHouseClient {
  if (target.url) {
    return createClient({
      url: target.url,
      ...(target.database === undefined ? {} : { database: target.database }),
      clickhouse_settings: CLICKHOUSE_SETTINGS,
    });
  }
  const connection = createChdbConnection({
    path: embeddedPath(target.dataDir),
  }) as unknown as Connection;
  return createClient({
    connection: target.parameters === 'bound' ? connection : inliningParams(connection),
    clickhouse_settings: CLICKHOUSE_SETTINGS,
  });
}

/** The connection, its queries, commands and execs with their parameters inlined. */
function inliningParams(connection: Connection): Connection {
  return new Proxy(connection, {
    get(target, property) {
      // chdb's connection keeps its session in private fields: its own methods run on it.
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'query' || property === 'command' || property === 'exec') {
        return (request: Parameters<Connection['query']>[0]) =>
          (value as (r: unknown) => unknown).call(target, withInlinedParams(request));
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/** `dataDir/clickhouse`; the directories nanobill creates there are private (0700). */
export function embeddedPath(dataDir: string): string {
  const path = join(dataDir, 'clickhouse');
  privateDir(path);
  return path;
}

/**
 * Creates `path` and its missing parents with mode 0700 (the umask only removes bits); an
 * existing directory keeps the mode its owner gave it.
 */
export function privateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}
