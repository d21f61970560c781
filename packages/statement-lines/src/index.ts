export {
  AMOUNTS,
  statementLines,
  type FailedAccount,
  type MonthActivity,
  type StoredLine,
} from './lines.js';
export { finalizedMonths, monthToDateGross, readMonthActivity, routedCosts } from './activity.js';
