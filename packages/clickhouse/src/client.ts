import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';

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
  return createClient({
    connection: createChdbConnection({
      path: embeddedPath(target.dataDir),
    }) as unknown as Connection,
    clickhouse_settings: CLICKHOUSE_SETTINGS,
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
