import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { Alert, AccountStatus } from '@nanobill/contract';
import { monthOf } from '@nanobill/calendar';
import { Gauge, type Logger, type Registry } from '@nanobill/observability';
import { runAudit, type AuditReport } from './audit.js';
import type { AuditedEnforcement } from './enforcement.js';
import { CHECKS, type CheckResult, type Confirmation } from './result.js';

export interface ScheduledAuditOptions {
  clickhouse: ClickHouseClient;
  logger: Logger;
  metrics: Registry;
  /** Between two audits (NANOBILL_AUDIT_INTERVAL_MS); 0: only `run()`. */
  intervalMs: number;
  deadlineMs: number;
  /** The attribution grace the services run with (NANOBILL_ATTRIBUTION_GRACE_MS). */
  graceMs?: number;
  enforcement?: AuditedEnforcement;
  publishedStatuses?: () => Promise<Map<string, AccountStatus>>;
  /** Publishes an operations alert on billing.alerts.v1. */
  raise(alert: Alert): Promise<void>;
  now?: () => Date;
  /** Default `LIVE`. */
  confirmation?: Confirmation;
}

/**
 * The audit run by the pipeline: every `intervalMs`, the previous and the current month.
 * `nanobill_audit_violations{check}` holds each check's violations of the last run (both months);
 * a check that finds any raises `books_out_of_balance` once per check and month (its alert id
 * says which: the alert log keeps it once across restarts as well).
 */
export function startScheduledAudit(options: ScheduledAuditOptions) {
  const logger = options.logger.child({ component: 'audit' });
  const now = options.now ?? (() => new Date());
  const gauge = new Gauge({
    name: 'nanobill_audit_violations',
    help: "Violations found by the last audit of the books, per check (previous and current month; docs/finance.md 'Audit: the books checked')",
    labelNames: ['check'] as const,
    registers: [options.metrics],
  });
  const raised = new Set<string>();
  const raiseOnce = async (result: CheckResult, at: Date) => {
    const alert = booksOutOfBalance(result, at);
    if (raised.has(alert.alertId)) return;
    raised.add(alert.alertId);
    await options.raise(alert).catch((error: unknown) => {
      raised.delete(alert.alertId); // tried again after the next audit
      throw error;
    });
  };

  let running: Promise<AuditReport[]> | undefined;
  const run = () =>
    (running ??= (async () => {
      try {
        const at = now();
        const current = monthOf(at);
        const previous = monthOf(new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1)));
        const reports: AuditReport[] = [];
        for (const month of [previous, current]) {
          reports.push(
            await runAudit({
              clickhouse: options.clickhouse,
              month,
              now,
              deadlineMs: options.deadlineMs,
              graceMs: options.graceMs,
              enforcement: options.enforcement,
              publishedStatuses: options.publishedStatuses,
              confirmation: options.confirmation,
            }),
          );
        }
        for (const check of CHECKS) {
          const results = reports.flatMap((r) => r.results.filter((c) => c.check === check));
          gauge.set(
            { check },
            results.reduce((n, r) => n + r.violations, 0),
          );
        }
        for (const result of reports.flatMap((r) => r.results)) {
          if (result.error !== undefined) {
            logger.error(
              { check: result.check, month: result.month, err: result.error },
              'audit check failed',
            );
          }
          if (result.violations === 0) continue;
          logger.error(
            {
              check: result.check,
              month: result.month,
              violations: result.violations,
              examples: result.examples.slice(0, 3),
            },
            'books out of balance',
          );
          await raiseOnce(result, at).catch((err: unknown) =>
            logger.error({ err, check: result.check }, 'books_out_of_balance alert not raised'),
          );
        }
        return reports;
      } finally {
        running = undefined;
      }
    })());
  const timer =
    options.intervalMs > 0
      ? setInterval(() => {
          run().catch((err: unknown) => logger.error({ err }, 'audit failed'));
        }, options.intervalMs)
      : undefined;
  timer?.unref();
  return {
    run,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
      options.metrics.removeSingleMetric('nanobill_audit_violations');
    },
  };
}

/** The operations alert of a check that found violations: once per check and month. */
export function booksOutOfBalance(result: CheckResult, at: Date): Alert {
  return {
    schemaVersion: 1,
    alertId: `books_out_of_balance:${result.check}:${result.month}`,
    type: 'books_out_of_balance',
    severity: 'critical',
    message:
      `The audit's ${result.check} check found ${result.violations} violation(s) in ${result.month}` +
      `${result.examples[0] ? `, e.g. ${result.examples[0].problem}` : ''}: run nanobill audit --month ${result.month}`,
    details: {
      check: result.check,
      month: result.month,
      violations: result.violations,
      examples: result.examples.slice(0, 3),
    },
    createdAt: at.toISOString(),
  };
}
