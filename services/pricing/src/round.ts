import type { Alert } from '@nanobill/contract';
import type { BatchWriter } from '@nanobill/clickhouse';
import type { Logger } from '@nanobill/observability';
import { readAnswer } from './answer.js';
import { intoBatches, mapLimit } from './batches.js';
import { askWithRetries, type CostClient, type RetryPolicy } from './cost-client.js';
import type { PricingMetrics } from './metrics.js';
import type { PendingRequests } from './pending.js';
import { ledgerRow, unpricedRow, type LedgerRow, type UnpricedRow } from './rows.js';

export interface RoundDeps {
  pending: PendingRequests;
  clients: ReadonlyMap<string, CostClient>;
  ledger: BatchWriter<LedgerRow>;
  unpriced: BatchWriter<UnpricedRow>;
  metrics: PricingMetrics;
  logger: Logger;
  now(): Date;
  deadlineMs: number;
  retry: RetryPolicy;
  publishAlert(alert: Alert): Promise<void>;
}

export interface RoundReport {
  calls: number;
  priced: number;
  unpriced: number;
  stillPending: number;
}

const PROVIDERS_AT_ONCE = 6;

/**
 * One pricing round: every pending id of every provider goes out in calls of at most 10,000
 * (N ids → ceil(N/10,000) calls, at the provider's configured concurrency); valid costs become
 * ledger rows; everything else stays pending with its last problem, until the deadline turns
 * it into an unpriced row and an alert.
 */
export async function runPricingRound(deps: RoundDeps): Promise<RoundReport> {
  const startedAt = deps.now();
  const report: RoundReport = { calls: 0, priced: 0, unpriced: 0, stillPending: 0 };
  const providers = deps.pending.providers().filter((p) => deps.clients.has(p));
  await mapLimit(providers, PROVIDERS_AT_ONCE, async (provider) => {
    const client = deps.clients.get(provider)!;
    const batches = intoBatches(deps.pending.ids(provider));
    await mapLimit(batches, client.provider.concurrency, async (ids) => {
      const attempts = await priceBatch(deps, client, ids, report);
      report.calls += attempts;
    });
    const unpriced = await declareOverdue(deps, provider, startedAt);
    report.unpriced += unpriced;
    updateGauges(deps, provider);
  });
  report.stillPending = deps.pending.size();
  return report;
}

/** Returns the number of HTTP attempts made. */
async function priceBatch(
  deps: RoundDeps,
  client: CostClient,
  ids: string[],
  report: RoundReport,
): Promise<number> {
  const { metrics, pending, logger } = deps;
  const provider = client.provider.name;
  const timed = {
    ask: async (batch: readonly string[]) => {
      const stop = metrics.callSeconds.startTimer({ provider });
      const result = await client.ask(batch);
      stop();
      metrics.calls.inc({ provider, outcome: result.outcome });
      metrics.idsPerCall.observe(batch.length);
      return result;
    },
  };
  const attempts = await askWithRetries(timed, ids, deps.retry);
  const last = attempts.at(-1)!;
  if (last.outcome !== 'ok') {
    for (const id of ids)
      pending.noteProblem(provider, id, `cost endpoint ${last.outcome}: ${last.detail}`);
    logger.warn(
      {
        provider,
        ids: ids.length,
        outcome: last.outcome,
        detail: last.detail,
        attempts: attempts.length,
      },
      'cost call failed; ids stay pending',
    );
    return attempts.length;
  }
  const answer = readAnswer(last.body, ids);
  if (!answer.ok) {
    for (const id of ids) pending.noteProblem(provider, id, answer.reason);
    metrics.answers.inc({ provider, result: 'invalid_answer' }, ids.length);
    logger.warn(
      { provider, ids: ids.length, reason: answer.reason },
      'cost answer rejected; ids stay pending',
    );
    return attempts.length;
  }
  const { costs, problems, leftOut, unknownIds, duplicates } = answer.report;
  const pricedAt = deps.now();
  const rows: LedgerRow[] = [];
  for (const [id, cost] of costs) {
    const request = pending.get(provider, id);
    if (request) rows.push(ledgerRow(request, cost, 'provider_api', pricedAt));
  }
  await deps.ledger.write(rows);
  for (const id of costs.keys()) pending.resolve(provider, id);
  for (const [id, problem] of problems) pending.noteProblem(provider, id, problem);
  for (const id of leftOut) pending.noteProblem(provider, id, 'left out of the provider answer');
  report.priced += costs.size;
  metrics.answers.inc({ provider, result: 'priced' }, costs.size);
  metrics.answers.inc({ provider, result: 'left_out' }, leftOut.length);
  metrics.answers.inc({ provider, result: 'rejected_cost' }, problems.size);
  metrics.answers.inc({ provider, result: 'unknown_id' }, unknownIds);
  metrics.answers.inc({ provider, result: 'duplicate' }, duplicates);
  if (problems.size > 0 || unknownIds > 0) {
    const [example] = problems.values();
    logger.warn(
      { provider, rejected: problems.size, unknownIds, duplicates, example },
      'cost answer had problems',
    );
  }
  return attempts.length;
}

/** Past the deadline (counted from when nanobill first saw the request): unpriced, with the reason. */
async function declareOverdue(deps: RoundDeps, provider: string, now: Date): Promise<number> {
  const overdue = deps.pending.overdue(provider, now.getTime() - deps.deadlineMs);
  if (overdue.length === 0) return 0;
  const rows = overdue.map(({ row, problem }) =>
    unpricedRow(row, problem ?? 'no valid cost from the provider before the deadline', now),
  );
  await deps.unpriced.write(rows);
  for (const { row } of overdue) deps.pending.resolve(provider, row.provider_request_id);
  deps.metrics.unpriced.inc({ provider }, rows.length);
  const reasons: Record<string, number> = {};
  for (const row of rows) reasons[row.reason] = (reasons[row.reason] ?? 0) + 1;
  await deps
    .publishAlert({
      schemaVersion: 1,
      alertId: `unpriced_requests:${provider}:${now.toISOString().slice(0, 16)}`,
      type: 'unpriced_requests',
      severity: 'warning',
      provider,
      message: `${rows.length} ${provider} request(s) passed the pricing deadline without a valid cost`,
      details: { count: rows.length, deadlineMs: deps.deadlineMs, reasons },
      createdAt: now.toISOString(),
    })
    .catch((err: unknown) =>
      deps.logger.error({ err, provider }, 'could not publish the unpriced alert'),
    );
  deps.logger.warn({ provider, unpriced: rows.length, reasons }, 'requests became unpriced');
  return rows.length;
}

function updateGauges(deps: RoundDeps, provider: string): void {
  deps.metrics.pending.set({ provider }, deps.pending.size(provider));
  const oldest = deps.pending.oldestFirstSeenMs(provider);
  deps.metrics.oldestPending.set(
    { provider },
    oldest === undefined ? 0 : (deps.now().getTime() - oldest) / 1000,
  );
}
