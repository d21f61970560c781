import cron from 'node-cron';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { Counter, Gauge, type Logger, type Registry } from '@nanobill/observability';
import { correctRollups } from '@nanobill/usage';
import type { FailedAccount, StoredLine } from '@nanobill/statement-lines';
import { monthsWithWork, refreshMonth } from './store.js';

export interface StatementsOptions {
  clickhouse: ClickHouseClient;
  logger: Logger;
  /** Registers the statements metrics; default none. */
  metrics?: Registry;
  deadlineMs: number;
  /** node-cron expression; `null`: only `refresh()`. Default: every 10 minutes. */
  schedule?: string | null;
  now?: () => Date;
  /** See `CLAIM_SETTLE_MS`. */
  claimSettleMs?: number;
  /**
   * How often the usage rollups are corrected for requests inserted into the ledger twice
   * (`correctRollups`); also at every refresh. `null`: only at refreshes. Default 30 s.
   */
  correctionsEveryMs?: number | null;
}

function statementsMetrics(registry: Registry | undefined) {
  const registers = registry === undefined ? [] : [registry];
  return {
    failures: new Counter({
      name: 'nanobill_statement_failures_total',
      help: 'Computations that failed and were left for the next pass: account (one account of a month), month (a whole month), rollups (a pass of the rollup corrections)',
      labelNames: ['scope'] as const,
      registers,
    }),
    corrections: new Counter({
      name: 'nanobill_rollup_corrections_total',
      help: 'Correction rows written to the usage rollups for requests inserted into the ledger more than once',
      registers,
    }),
    failing: new Gauge({
      name: 'nanobill_statement_accounts_failing',
      help: 'Accounts whose statement line could not be computed at the last refresh (the others were written)',
      registers,
    }),
  };
}

/**
 * Keeps `billing.statements` current: every month with work left (requests, pending or not, in
 * a month not final yet, and always the previous and the current month) is recomputed on a
 * schedule, and turns final once its pricing deadline has passed and nothing of it is pending.
 * Runs once across processes (a singleton lease); finalization is idempotent even so.
 *
 * It also keeps the usage rollups equal to the ledger (`correctRollups`, every 30 s by default).
 *
 * One account whose line cannot be computed, or one month that fails, is reported (log, metric)
 * and never stops the other accounts or months: they are written, and it is tried again next time.
 */
export async function startStatements(options: StatementsOptions) {
  const logger = options.logger.child({ service: 'statements' });
  const now = options.now ?? (() => new Date());
  const metrics = statementsMetrics(options.metrics);
  const accounts = new AccountFactsReader(options.clickhouse, new AccountHistory());
  // One account's figure too large to store stops nothing: it is left out, loudly.
  const onRefused = (line: StoredLine, reason: string) =>
    logger.error(
      { month: line.month, account: line.account_id, reason },
      'statement line not stored: an amount does not fit its column',
    );
  const reportFailed = (month: string, failed: FailedAccount[]) => {
    for (const { accountId, error } of failed) {
      metrics.failures.inc({ scope: 'account' });
      logger.error(
        { month, account: accountId, err: error },
        'statement line not computed for this account (the others were written); tried again at the next refresh',
      );
    }
  };
  let correcting: Promise<void> | undefined;
  const correct = () =>
    (correcting ??= (async () => {
      try {
        const rows = await correctRollups(options.clickhouse);
        if (rows > 0) {
          metrics.corrections.inc(rows);
          logger.warn(
            { rows },
            'usage rollups corrected for requests inserted into the ledger twice',
          );
        }
      } catch (err) {
        metrics.failures.inc({ scope: 'rollups' });
        logger.error({ err }, 'usage rollups not corrected; tried again at the next pass');
      } finally {
        correcting = undefined;
      }
    })());
  const refreshOnce = async () => {
    await correct();
    await accounts.refresh();
    const at = now();
    let failing = 0;
    for (const month of await monthsWithWork(options.clickhouse, at)) {
      try {
        const outcome = await refreshMonth(options.clickhouse, accounts.history, month, {
          now: at,
          deadlineMs: options.deadlineMs,
          onRefused,
          claimSettleMs: options.claimSettleMs,
        });
        reportFailed(month, outcome.failed);
        failing += outcome.failed.length;
        if (outcome.kind === 'final') logger.info({ month }, 'statements final');
      } catch (err) {
        metrics.failures.inc({ scope: 'month' });
        logger.error(
          { month, err },
          'statements of this month not refreshed; the other months go on',
        );
      }
    }
    metrics.failing.set(failing);
  };
  let running: Promise<void> | undefined;
  const refresh = () =>
    (running ??= refreshOnce().finally(() => {
      running = undefined;
    }));
  const correctionsEveryMs =
    options.correctionsEveryMs === undefined ? 30_000 : options.correctionsEveryMs;
  const corrections =
    correctionsEveryMs === null ? undefined : setInterval(() => void correct(), correctionsEveryMs);
  const schedule = options.schedule === undefined ? '*/10 * * * *' : options.schedule;
  const task =
    schedule === null
      ? undefined
      : cron.schedule(schedule, () =>
          refresh().catch((err: unknown) => logger.error({ err }, 'statements refresh failed')),
        );
  return {
    refresh,
    async stop() {
      clearInterval(corrections);
      await task?.stop();
      await running?.catch(() => undefined);
      await correcting;
    },
  };
}
