export {
  openClickHouse,
  embeddedPath,
  CLICKHOUSE_SETTINGS,
  type ClickHouseClient,
  type ClickHouseTarget,
} from './client.js';
export type { ClickHouseSettings } from '@clickhouse/client';
export {
  migrate,
  pendingMigrations,
  waitForMigrations,
  readMigrations,
  splitStatements,
  MIGRATIONS_DIR,
  type Migration,
} from './migrations.js';
export {
  BatchWriter,
  firstPerKey,
  type BatchWriterOptions,
  type WriteResult,
} from './batch-writer.js';
export {
  rowRefusal,
  describeRefusal,
  clickHouseCode,
  ROW_REFUSAL_CODES,
  MAX_REFUSAL_MESSAGE_LENGTH,
  type Refusal,
} from './refusal.js';
