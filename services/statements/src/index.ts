export { startStatements, type StatementsOptions } from './service.js';
export {
  monthStatements,
  finalizeIfDue,
  finalizedMonths,
  storableLines,
  AMOUNTS,
  type StoredLine,
} from './store.js';
export { statementLines, readMonthActivity, type MonthActivity } from './compute.js';
