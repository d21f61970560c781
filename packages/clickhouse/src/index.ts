export {
  openClickHouse,
  embeddedPath,
  privateDir,
  PRIVATE_DIR_MODE,
  CLICKHOUSE_SETTINGS,
  type ClickHouseClient,
  type ClickHouseTarget,
} from './client.js';
export type { ClickHouseSettings } from '@clickhouse/client';
export {
  migrate,
  pendingMigrations,
  waitForMigrations,
  withMigrationLock,
  MIGRATION_LOCK_TTL_MS,
  readMigrations,
  splitStatements,
  MIGRATIONS_DIR,
  type Migration,
} from './migrations.js';
export {
  FinanceSql,
  openFinanceSql,
  financeUserStatements,
  FinanceScopeError,
  FINANCE_SQL_MAX_LENGTH,
  FINANCE_QUERY_SETTINGS,
  FINANCE_SCOPE_DATABASE,
  FINANCE_PROFILE,
  FINANCE_PASSWORD_MIN_LENGTH,
} from './finance-sql.js';
export { FinanceSqlRefused, FINANCE_OBJECTS, FINANCE_DENIED_OBJECTS } from './finance-ast.js';
export {
  BatchWriter,
  firstPerKey,
  type BatchWriterOptions,
  type WriteResult,
} from './batch-writer.js';
export { queryWithList, stringLiteral, type QueryWithList } from './string-list.js';
export {
  rowRefusal,
  describeRefusal,
  clickHouseCode,
  ROW_REFUSAL_CODES,
  MAX_REFUSAL_MESSAGE_LENGTH,
  type Refusal,
} from './refusal.js';
