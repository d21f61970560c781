export { startStatements, type StatementsOptions } from './service.js';
export {
  monthStatements,
  finalizeIfDue,
  finalizedMonths,
  monthsWithWork,
  refreshMonth,
  storableLines,
  AMOUNTS,
  CLAIM_SETTLE_MS,
  type MonthOutcome,
  type StoredLine,
} from './store.js';
export {
  statementLines,
  readMonthActivity,
  type FailedAccount,
  type MonthActivity,
} from './compute.js';
