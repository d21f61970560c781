export { startStatements, type StatementsOptions } from './service.js';
export {
  monthStatements,
  finalizeIfDue,
  monthsWithWork,
  refreshMonth,
  storableLines,
  CLAIM_SETTLE_MS,
  type MonthOutcome,
} from './store.js';
