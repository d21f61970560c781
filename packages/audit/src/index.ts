// @nanobill/audit: nanobill checks its own books (docs/finance.md "Audit: the books checked"). Each
// check is an exact SQL or computation over what the services stored, reusing their own rules.
export {
  AT_ONCE,
  CHECKS,
  MAX_EXAMPLES,
  type CheckName,
  type CheckResult,
  type Confirmation,
  type Example,
} from './result.js';
export { LIVE, outOfBalance, runAudit, type AuditOptions, type AuditReport } from './audit.js';
export { checkUsage, REQUEST_STATES_SQL, type UsageCheckOptions } from './usage.js';
export { checkDuplicates, RAW_COPIES_SQL, ROLLUPS } from './duplicates.js';
export { checkStatements, finalizedCutoff, type StatementsCheckOptions } from './statements.js';
export {
  checkEnforcement,
  ledgerMonthToDate,
  type AuditedEnforcement,
  type EnforcementBooks,
  type EnforcementCheckOptions,
} from './enforcement.js';
export { checkAlerts } from './alerts.js';
export { readPublishedStatuses } from './status-topic.js';
export { renderAudit } from './render.js';
export { booksOutOfBalance, startScheduledAudit, type ScheduledAuditOptions } from './schedule.js';
