export { startStatements, type StatementsOptions } from './service.js';
export {
  monthStatements,
  finalizeIfDue,
  finalizedMonths,
  monthsWithWork,
  monthToDateGross,
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
  routedCosts,
  type FailedAccount,
  type MonthActivity,
} from './compute.js';
