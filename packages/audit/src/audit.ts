import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { AccountStatus } from '@nanobill/contract';
import { checkAlerts } from './alerts.js';
import { checkDuplicates } from './duplicates.js';
import { checkEnforcement, type AuditedEnforcement } from './enforcement.js';
import { readHistory } from './history.js';
import {
  CHECKS,
  confirmed,
  type CheckName,
  type CheckResult,
  type Confirmation,
} from './result.js';
import { checkStatements } from './statements.js';
import { checkUsage } from './usage.js';

/** Against a running pipeline: three runs, 2 s apart, before a violation is reported. */
export const LIVE: Confirmation = { attempts: 3, delayMs: 2_000 };

export interface AuditOptions {
  clickhouse: ClickHouseClient;
  /** 'YYYY-MM' (UTC). */
  month: string;
  /** The pricing deadline (NANOBILL_PRICING_DEADLINE_MS). */
  deadlineMs: number;
  now?: () => Date;
  /** The enforcement service of this process; undefined: that check is skipped. */
  enforcement?: AuditedEnforcement;
  /** The latest statuses on billing.account-status.v1 (`readPublishedStatuses`). */
  publishedStatuses?: () => Promise<Map<string, AccountStatus>>;
  /** Default `LIVE`; `AT_ONCE` for data that does not move. */
  confirmation?: Confirmation;
  /** Fine-tuning of the usage and enforcement checks (see their options). */
  overdueSlackMs?: number;
  settleMs?: number;
  /** How long before a draft its inputs must have been stored to be compared (default 60 s). */
  draftSettleMs?: number;
  /** How long a duplicated ledger row may wait for its rollup correction (default 5 min). */
  correctionGraceMs?: number;
  graceMs?: number;
  freshMs?: number;
  /** Only these checks (default all). */
  checks?: readonly CheckName[];
}

export interface AuditReport {
  month: string;
  /** When the audit started (ISO). */
  at: string;
  results: CheckResult[];
  /** Violations of all checks. */
  violations: number;
}

/**
 * Runs the checks for a month, one after the other; a check that fails (e.g. ClickHouse went
 * away) is reported as failed and the others still run.
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const now = options.now ?? (() => new Date());
  const at = now();
  const { clickhouse, month } = options;
  const confirmation = options.confirmation ?? LIVE;
  const history = await readHistory(clickhouse);
  const runs: Record<CheckName, () => Promise<CheckResult>> = {
    usage: () =>
      checkUsage(clickhouse, {
        month,
        now: now(),
        deadlineMs: options.deadlineMs,
        overdueSlackMs: options.overdueSlackMs,
        settleMs: options.settleMs,
      }),
    duplicates: () =>
      checkDuplicates(clickhouse, { month, correctionGraceMs: options.correctionGraceMs }),
    statements: () =>
      checkStatements(clickhouse, { month, now: now(), history, settleMs: options.draftSettleMs }),
    enforcement: () =>
      checkEnforcement(clickhouse, {
        month,
        now,
        enforcement: options.enforcement,
        publishedStatuses: options.publishedStatuses,
        graceMs: options.graceMs,
        freshMs: options.freshMs,
        confirmation,
      }),
    alerts: () =>
      checkAlerts(clickhouse, { month, now: now(), history, settleMs: options.settleMs }),
  };
  const results: CheckResult[] = [];
  for (const check of CHECKS) {
    if (options.checks !== undefined && !options.checks.includes(check)) continue;
    // Enforcement confirms its own findings (it must tick between runs).
    const run = check === 'enforcement' ? runs[check] : () => confirmed(runs[check], confirmation);
    results.push(await run().catch((error: unknown) => failed(check, month, error)));
  }
  return {
    month,
    at: at.toISOString(),
    results,
    violations: results.reduce((n, r) => n + r.violations, 0),
  };
}

function failed(check: CheckName, month: string, error: unknown): CheckResult {
  return {
    check,
    month,
    ok: false,
    violations: 0,
    examples: [],
    summary: '',
    error: error instanceof Error ? error.message : String(error),
  };
}

/** Whether an audit found anything wrong: a violation, or a check that could not run. */
export function outOfBalance(report: AuditReport): boolean {
  return report.results.some((r) => r.violations > 0 || r.error !== undefined);
}
