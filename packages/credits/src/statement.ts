import { formatUsd, type NanoUsd } from '@nanobill/money';
import { applyCredits } from './apply.js';
import { checkMonth } from '@nanobill/calendar';

export type AccountKind = 'user' | 'org';
export type StatementStatus = 'draft' | 'final';

export interface StatementInput {
  /** 'YYYY-MM' (UTC calendar month). */
  month: string;
  accountId: string;
  accountKind: AccountKind;
  /** The plan shown on the statement (e.g. the one in force at the month's end). */
  plan: string;
  /** Gross routed cost of the month, ≥ 0. */
  gross: NanoUsd;
  /** The month's grant (`monthGrant`), ≥ 0. */
  grant: NanoUsd;
  payAsYouGo: boolean;
  /** Requests made with a custom provider key: counted, never billed or covered by credits. */
  customKeyRequests: number;
  status: StatementStatus;
  /**
   * A late correction of an earlier month whose statement is already final (positive or
   * negative nano-USD). A final statement is never rewritten (docs/contract.md §8): the correction
   * lands here, is ADDED TO GROSS BEFORE CREDITS (so this month's credits may cover it), and
   * the statement's `gross` includes it.
   */
  adjustment?: NanoUsd;
}

/** One statement row: the §8 CSV fields, amounts as nano-USD bigints. */
export interface StatementLine {
  month: string;
  account_id: string;
  account_kind: AccountKind;
  plan: string;
  /** Gross routed cost including any adjustment. */
  gross: NanoUsd;
  credits_granted: NanoUsd;
  credits_applied: NanoUsd;
  payable: NanoUsd;
  written_off: NanoUsd;
  custom_key_requests: number;
  status: StatementStatus;
}

/** A month's statement for one account (docs/contract.md §5, §8). Pure; throws on invalid input. */
export function statementLine(input: StatementInput): StatementLine {
  const { month, accountId, accountKind, plan, gross, grant, payAsYouGo, status } = input;
  const adjustment = input.adjustment ?? 0n;
  checkMonth(month);
  checkText(accountId, 'accountId');
  checkKind(accountKind);
  checkText(plan, 'plan');
  if (typeof gross !== 'bigint' || gross < 0n) {
    throw new RangeError(`gross must be a non-negative bigint, got ${String(gross)}`);
  }
  if (typeof adjustment !== 'bigint') {
    throw new TypeError(`adjustment must be a bigint, got ${typeof adjustment}`);
  }
  checkCount(input.customKeyRequests);
  checkStatus(status);
  const total = gross + adjustment;
  const credits = applyCredits({ gross: total, grant, payAsYouGo });
  return {
    month,
    account_id: accountId,
    account_kind: accountKind,
    plan,
    gross: total,
    credits_granted: grant,
    credits_applied: credits.creditsApplied,
    payable: credits.payable,
    written_off: credits.writtenOff,
    custom_key_requests: input.customKeyRequests,
    status,
  };
}

/** The statement CSV's columns, in the order docs/contract.md §8 fixes. */
export const STATEMENT_CSV_COLUMNS = [
  'month',
  'account_id',
  'account_kind',
  'plan',
  'gross_usd',
  'credits_granted_usd',
  'credits_applied_usd',
  'payable_usd',
  'written_off_usd',
  'custom_key_requests',
  'status',
] as const;

export type StatementCsvColumn = (typeof STATEMENT_CSV_COLUMNS)[number];

/**
 * Statements as CSV (RFC 4180): a header row, then one row per line, every row ending in CRLF.
 * A field is quoted when it contains a comma, a double quote, CR or LF, with inner quotes
 * doubled. USD amounts are exact decimal strings with 9 decimals ("2.000000000",
 * "-0.500000000").
 *
 * No spreadsheet formula-injection escaping (e.g. a "'" before a leading =, +, -, @): it would
 * change account ids that finance joins on, and negative amounts start with "-" legitimately.
 * Account ids and plans come from our own zod-validated snapshots; open the file as text.
 */
export function toCsv(lines: Iterable<StatementLine>): string {
  const rows = [STATEMENT_CSV_COLUMNS.join(',')];
  for (const line of lines) rows.push(csvRow(line).map(quoteCsvField).join(','));
  return rows.map((row) => `${row}\r\n`).join('');
}

function csvRow(line: StatementLine): string[] {
  checkMonth(line.month);
  checkText(line.account_id, 'account_id');
  checkKind(line.account_kind);
  checkText(line.plan, 'plan');
  checkCount(line.custom_key_requests);
  checkStatus(line.status);
  const row: Record<StatementCsvColumn, string> = {
    month: line.month,
    account_id: line.account_id,
    account_kind: line.account_kind,
    plan: line.plan,
    gross_usd: usd(line.gross),
    credits_granted_usd: usd(line.credits_granted),
    credits_applied_usd: usd(line.credits_applied),
    payable_usd: usd(line.payable),
    written_off_usd: usd(line.written_off),
    custom_key_requests: String(line.custom_key_requests),
    status: line.status,
  };
  return STATEMENT_CSV_COLUMNS.map((column) => row[column]);
}

/** RFC 4180 quoting: only when needed, inner quotes doubled. */
export function quoteCsvField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

function usd(nano: NanoUsd): string {
  return formatUsd(nano, { decimals: 9, dollarSign: false });
}

function checkText(value: string, name: string): void {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
}

function checkKind(kind: AccountKind): void {
  if (kind !== 'user' && kind !== 'org') {
    throw new RangeError(`account kind must be 'user' or 'org', got ${JSON.stringify(kind)}`);
  }
}

function checkStatus(status: StatementStatus): void {
  if (status !== 'draft' && status !== 'final') {
    throw new RangeError(`status must be 'draft' or 'final', got ${JSON.stringify(status)}`);
  }
}

function checkCount(n: number): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(
      `custom key requests must be a non-negative safe integer, got ${String(n)}`,
    );
  }
}
