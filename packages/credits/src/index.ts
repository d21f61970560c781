// @nanobill/credits: monthly credits and statements (docs/contract.md §5, §8). Pure functions,
// bigint nano-USD only, no I/O.
export {
  FREE_USER_GRANT,
  ORG_PLANS,
  ORG_SEAT_GRANT,
  PRO_USER_GRANT,
  USER_PLANS,
  checkFacts,
  grantAt,
  payAsYouGo,
  type OrgPlan,
  type PlanFacts,
  type UserPlan,
} from './plans.js';
export { monthGrant, monthPlans, type MonthGrantOptions, type PlanSnapshot } from './grant.js';
export { applyCredits, type CreditsInput, type CreditsResult } from './apply.js';
export {
  STATEMENT_CSV_COLUMNS,
  quoteCsvField,
  statementLine,
  toCsv,
  type AccountKind,
  type StatementCsvColumn,
  type StatementInput,
  type StatementLine,
  type StatementStatus,
} from './statement.js';
