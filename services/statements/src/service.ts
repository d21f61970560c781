import cron from 'node-cron';
import { AccountFactsReader } from '@nanobill/accounts';
import { AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthOf } from '@nanobill/credits';
import type { Logger } from '@nanobill/observability';
import { finalizeIfDue, monthStatements, writeLines, type StoredLine } from './store.js';

export interface StatementsOptions {
  clickhouse: ClickHouseClient;
  logger: Logger;
  deadlineMs: number;
  /** node-cron expression; `null`: only `refresh()`. Default: every 10 minutes. */
  schedule?: string | null;
  now?: () => Date;
}

/**
 * Keeps `billing.statements` current: the drafts of the current and the previous month are
 * recomputed on a schedule, and a month turns final once its pricing deadline has passed.
 */
export async function startStatements(options: StatementsOptions) {
  const logger = options.logger.child({ service: 'statements' });
  const now = options.now ?? (() => new Date());
  const accounts = new AccountFactsReader(options.clickhouse, new AccountHistory());
  // One account's figure too large to store stops nothing: it is left out, loudly.
  const onRefused = (line: StoredLine, reason: string) =>
    logger.error(
      { month: line.month, account: line.account_id, reason },
      'statement line not stored: an amount does not fit its column',
    );
  let running: Promise<void> | undefined;
  const refresh = () =>
    (running ??= (async () => {
      try {
        await accounts.refresh();
        const at = now();
        const current = monthOf(at);
        const previous = monthOf(new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1)));
        for (const month of [previous, current]) {
          if (
            await finalizeIfDue(options.clickhouse, accounts.history, month, {
              now: at,
              deadlineMs: options.deadlineMs,
              onRefused,
            })
          ) {
            logger.info({ month }, 'statements final');
            continue;
          }
          const lines = await monthStatements(options.clickhouse, accounts.history, month, at);
          if (lines[0]?.status === 'draft') {
            await writeLines(options.clickhouse, lines, at, onRefused);
          }
        }
      } finally {
        running = undefined;
      }
    })());
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
      await task?.stop();
      await running?.catch(() => undefined);
    },
  };
}
