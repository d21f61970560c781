import { createHash } from 'node:crypto';
import { attribute, type AccountHistory } from '@nanobill/attribution';
import { HF_INFERENCE, alertIdPart, type Alert } from '@nanobill/contract';
import { describeRefusal, type Refusal } from '@nanobill/clickhouse';
import type { NanoUsd } from '@nanobill/money';
import type { Logger } from '@nanobill/observability';
import type { RemoteProvider, UsdAmount } from '@nanobill/providers';
import { readAnswer } from './answer.js';
import { intoBatches, mapLimit } from './batches.js';
import { priceComputeTime } from './compute-time.js';
import type { BackoffPolicy } from '@nanobill/retry';
import { askWithRetries, type CallOutcome } from './cost-client.js';
import type { EndpointHealth } from './endpoint-health.js';
import type { PricingMetrics } from './metrics.js';
import type { PendingRef, PendingRequests, Reuse } from './pending.js';
import { fallbackAlerts, type Fallback } from './fallback-alerts.js';
import {
  DUPLICATE_REASON,
  LEDGER_TABLE,
  type DuplicateRow,
  type LedgerRow,
  type PendingRow,
  type UnpricedRow,
} from '@nanobill/tables';
import { duplicateRow, ledgerRow, unpricedRow } from './rows.js';
import type { WriteOnceResult } from './writers.js';

/** A provider's cost endpoint as the round asks it (over HTTP: `CostClient`). */
export interface CostAsker {
  readonly provider: Pick<RemoteProvider, 'name' | 'concurrency' | 'retries' | 'maxCostNanoUsd'>;
  ask(ids: readonly string[]): Promise<CallOutcome>;
}

/** A table the round writes each request to once (`WriteOnceWriter`). */
export interface WriteOnceTable<Row> {
  readonly table: string;
  write(rows: readonly Row[]): Promise<WriteOnceResult<Row>>;
}

/**
 * What a round works with, each typed by the little the round uses, so that a test hands in
 * plain objects (the service passes `CostClient`s and `WriteOnceWriter`s).
 */
export interface RoundDeps {
  pending: PendingRequests;
  /**
   * The stored rows of these pending requests (`pendingRows`): the round reads them a chunk of
   * at most `MAX_IDS_PER_CALL` at a time, so it holds only its chunks in flight.
   */
  rows(provider: string, refs: readonly PendingRef[]): Promise<PendingRow[]>;
  clients: ReadonlyMap<string, CostAsker>;
  hardwarePrices: ReadonlyMap<string, UsdAmount>;
  /** hf-inference: the most compute one request may be billed for. */
  maxComputeSeconds: number;
  accounts: AccountHistory;
  graceMs: number;
  ledger: WriteOnceTable<LedgerRow>;
  unpriced: WriteOnceTable<UnpricedRow>;
  /** The quarantine of requests that reused another's provider request id. */
  duplicates: WriteOnceTable<DuplicateRow>;
  metrics: PricingMetrics;
  logger: Logger;
  now(): Date;
  deadlineMs: number;
  /** Backoff of a cost call's retries; their number is the provider's `retries` unless set here. */
  retry: BackoffPolicy & { retries?: number };
  /** One send for many alerts: a round can produce thousands of fallback alerts. */
  publishAlerts(alerts: Alert[]): Promise<void>;
  /** Outlives the round: an outage spans many rounds. */
  endpointHealth: EndpointHealth;
}

/** How one call (with its retries) ended; `error` only when it brought no usable answer. */
interface CallResult {
  attempts: number;
  ids: number;
  error?: string;
  /** Ids answered with a cost above the provider's ceiling, and why: unpriced at once. */
  aboveCeiling?: Map<string, string>;
}

export interface RoundReport {
  calls: number;
  priced: number;
  waiting: number;
  unpriced: number;
  /** Requests quarantined for reusing another request's provider request id. */
  quarantined: number;
  stillPending: number;
}

const PROVIDERS_AT_ONCE = 6;

/**
 * One pricing round: every pending id of every provider goes out in calls of at most 10,000
 * (N ids → ceil(N/10,000) calls, at the provider's configured concurrency); hf-inference ones
 * are priced from their compute time. A cost becomes a ledger row once the account facts say
 * who pays; everything else stays pending with its last problem, until the deadline turns it
 * into an unpriced row and an alert.
 */
export async function runPricingRound(deps: RoundDeps): Promise<RoundReport> {
  const startedAt = deps.now();
  const report: RoundReport = {
    calls: 0,
    priced: 0,
    waiting: 0,
    unpriced: 0,
    quarantined: 0,
    stillPending: 0,
  };
  await quarantineReuses(deps, deps.pending.takeReuses(), startedAt, report);
  // Every provider with pending requests, configured or not: each request reaches the deadline.
  await mapLimit(deps.pending.providers(), PROVIDERS_AT_ONCE, async (provider) => {
    const client = deps.clients.get(provider);
    if (client) {
      const results = await mapLimit(
        intoBatches(deps.pending.ids(provider)),
        client.provider.concurrency,
        (ids) => askProvider(deps, client, ids, report),
      );
      for (const result of results) report.calls += result.attempts;
      report.unpriced += await refuseAboveCeiling(deps, provider, results, startedAt, report);
      await checkEndpoint(deps, provider, results, startedAt);
    } else if (provider === HF_INFERENCE && deps.hardwarePrices.size > 0) {
      await priceLocally(deps, provider, report);
    } else {
      notConfigured(deps, provider);
    }
    const unpriced = await declareOverdue(deps, provider, startedAt, report);
    report.unpriced += unpriced;
    updateGauges(deps, provider);
  });
  report.stillPending = deps.pending.size();
  return report;
}

async function askProvider(
  deps: RoundDeps,
  client: CostAsker,
  ids: string[],
  report: RoundReport,
): Promise<CallResult> {
  const { metrics, pending, logger } = deps;
  const provider = client.provider.name;
  // Read while the provider answers; a failed call leaves them unused.
  const rows = chunkRows(deps, provider, ids);
  rows.catch(() => undefined);
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
  const { retries = client.provider.retries, ...backoff } = deps.retry;
  // Centred jitter unless told otherwise: retries stay close to the schedule a round is sized for.
  const attempts = await askWithRetries(timed, ids, {
    jitter: 'centred',
    ...backoff,
    maxAttempts: retries + 1,
  });
  const last = attempts.at(-1)!;
  if (last.outcome !== 'ok') {
    const error = `cost endpoint ${last.outcome}: ${last.detail}`;
    for (const id of ids) pending.noteProblem(provider, id, error);
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
    return { attempts: attempts.length, ids: ids.length, error };
  }
  const answer = readAnswer(last.body, ids, client.provider.maxCostNanoUsd);
  if (!answer.ok) {
    for (const id of ids) pending.noteProblem(provider, id, answer.reason);
    metrics.answers.inc({ provider, result: 'invalid_answer' }, ids.length);
    logger.warn(
      { provider, ids: ids.length, reason: answer.reason },
      'cost answer rejected; ids stay pending',
    );
    return { attempts: attempts.length, ids: ids.length, error: answer.reason };
  }
  const { costs, problems, aboveCeiling, leftOut, unknownIds, duplicates } = answer.report;
  await settle(deps, provider, costs, 'provider_api', await rows, report);
  for (const [id, problem] of problems) pending.noteProblem(provider, id, problem);
  for (const id of leftOut) pending.noteProblem(provider, id, 'left out of the provider answer');
  metrics.answers.inc({ provider, result: 'priced' }, costs.size);
  metrics.answers.inc({ provider, result: 'left_out' }, leftOut.length);
  metrics.answers.inc({ provider, result: 'rejected_cost' }, problems.size);
  metrics.answers.inc({ provider, result: 'unknown_id' }, unknownIds);
  metrics.answers.inc({ provider, result: 'duplicate' }, duplicates);
  metrics.answers.inc({ provider, result: 'above_ceiling' }, aboveCeiling.size);
  if (problems.size > 0 || unknownIds > 0) {
    const [example] = problems.values();
    logger.warn(
      { provider, rejected: problems.size, unknownIds, duplicates, example },
      'cost answer had problems',
    );
  }
  // An answer that is well-formed counts as usable even when some of its costs are rejected:
  // the endpoint works, and those ids have their own outcome (asked again, then unpriced).
  return { attempts: attempts.length, ids: ids.length, aboveCeiling };
}

/**
 * The round's verdict on a provider's endpoint: failed when no call brought a usable answer.
 * An outage alerts once it has lasted `endpointHealth.failingAfterMs` (docs/contract.md §7).
 */
async function checkEndpoint(
  deps: RoundDeps,
  provider: string,
  results: readonly CallResult[],
  startedAt: Date,
): Promise<void> {
  if (results.length === 0) return; // not called: the endpoint's state is unknown, not healthy
  const health = deps.endpointHealth;
  const failed = results.every((r) => r.error !== undefined);
  const { alert, recovered } = health.record(provider, failed, startedAt);
  deps.metrics.endpointFailing.set({ provider }, health.isFailing(provider) ? 1 : 0);
  if (recovered) {
    deps.logger.info(
      {
        provider,
        failingSince: recovered.failingSince.toISOString(),
        failedForMs: recovered.failedForMs,
        alerted: recovered.alerted,
      },
      'cost endpoint answers again',
    );
  }
  if (!alert) return;
  const lastError = results.findLast((r) => r.error !== undefined)?.error ?? 'unknown';
  const pendingIds = results.reduce((sum, r) => sum + r.ids, 0);
  const failingSince = alert.failingSince.toISOString();
  const published = await deps
    .publishAlerts([
      {
        schemaVersion: 1,
        alertId: alert.alertId,
        type: 'cost_endpoint_failing',
        severity: 'critical',
        provider,
        message: `the ${provider} cost endpoint has been failing for ${duration(alert.failingForMs)} (since ${failingSince}); last error: ${lastError}`,
        // A count, not the ids: a provider down for minutes can have millions pending, and the
        // alert must stay far below the broker's record limit.
        details: { failingSince, failingForMs: alert.failingForMs, lastError, pendingIds },
        createdAt: startedAt.toISOString(),
      },
    ])
    .then(
      () => true,
      (err: unknown) => {
        deps.logger.error({ err, provider }, 'could not publish the cost endpoint alert');
        return false;
      },
    );
  if (!published) {
    // The outage goes on: the next failed round sends it, under the same alert id.
    health.retryAlert(alert);
    return;
  }
  deps.metrics.endpointAlerts.inc({ provider });
  deps.logger.error(
    { provider, failingSince, failingForMs: alert.failingForMs, lastError, pendingIds },
    'cost endpoint failing: alert sent',
  );
}

function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 60 * 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / (60 * 60_000)).toFixed(1)} h`;
}

/**
 * hf-inference: compute time × hardware price. A request that cannot be priced so (no compute
 * time, a hardware without a price) waits with the reason, like any request without a cost: a
 * price added to the providers file before the deadline prices it (docs/operations.md "The
 * providers file").
 */
async function priceLocally(deps: RoundDeps, provider: string, report: RoundReport): Promise<void> {
  const aboveCeiling = new Map<string, string>();
  for (const ids of intoBatches(deps.pending.ids(provider))) {
    const rows = await chunkRows(deps, provider, ids);
    const costs = new Map<string, NanoUsd>();
    for (const [id, request] of rows) {
      const priced = priceComputeTime(
        { computeTimeMs: request.compute_time_ms, hardware: request.hardware },
        deps.hardwarePrices,
        deps.maxComputeSeconds,
      );
      if (priced.ok) costs.set(id, priced.cost);
      else if (priced.aboveCeiling) aboveCeiling.set(id, priced.reason);
      else deps.pending.noteProblem(provider, id, priced.reason);
    }
    await settle(deps, provider, costs, 'hf_compute_time', rows, report);
  }
  report.unpriced += await refuseAboveCeiling(
    deps,
    provider,
    [{ aboveCeiling }],
    deps.now(),
    report,
  );
}

/**
 * The stored rows of one chunk of a provider's pending ids, by provider request id. A request
 * whose row is gone (past the table's TTL: pricing stopped for two months) waits with that
 * reason, and is unpriced at the deadline like any request without a cost.
 */
async function chunkRows(
  deps: RoundDeps,
  provider: string,
  ids: readonly string[],
): Promise<Map<string, PendingRow>> {
  const refs = ids.flatMap((id) => deps.pending.get(provider, id) ?? []);
  const rows = new Map<string, PendingRow>();
  for (const row of await deps.rows(provider, refs)) {
    if (deps.pending.requestIdOf(provider, row.provider_request_id) === row.request_id)
      rows.set(row.provider_request_id, row);
  }
  for (const ref of refs) {
    if (!rows.has(ref.provider_request_id))
      deps.pending.noteProblem(provider, ref.provider_request_id, MISSING_ROW);
  }
  return rows;
}

const MISSING_ROW = 'its billing.pricing_pending row is no longer stored';

/** The stored rows of `refs`, read a chunk at a time (`MAX_IDS_PER_CALL`), in their order. */
async function* rowsInChunks<T extends { row: PendingRef }>(
  deps: RoundDeps,
  provider: string,
  entries: readonly T[],
): AsyncGenerator<Array<T & { stored: PendingRow }>> {
  for (const chunk of intoBatches(entries)) {
    const stored = new Map(
      (
        await deps.rows(
          provider,
          chunk.map((e) => e.row),
        )
      ).map((row) => [row.request_id, row]),
    );
    yield chunk.flatMap((e) => {
      const row = stored.get(e.row.request_id);
      return row ? [{ ...e, stored: row }] : [];
    });
  }
}

/**
 * A provider the providers file no longer names (removed while requests were pending): nothing
 * can price them, so they wait for the deadline with this reason, and are unpriced and alerted
 * then, like any other (docs/operations.md "The providers file").
 */
function notConfigured(deps: RoundDeps, provider: string): void {
  const reason = `provider_not_configured: ${JSON.stringify(provider)} is not in the providers file`;
  for (const id of deps.pending.ids(provider)) deps.pending.noteProblem(provider, id, reason);
}

/**
 * Rows ClickHouse refused for their values (a constraint, a value it cannot store): the requests
 * stay pending with the refusal as their problem, so nothing is lost and nothing is in both the
 * ledger and unpriced. A refused ledger row is asked again each round and becomes unpriced at the
 * deadline with that reason; a refused unpriced row stays pending until the table accepts it.
 * Counted, logged, and announced to on-call (`storage_refused`, one id per table, provider and
 * hour). Returns the rows that were stored.
 */
async function keepRefusedPending<Row extends { provider_request_id: string; request_id: string }>(
  deps: RoundDeps,
  provider: string,
  table: string,
  rows: readonly Row[],
  refused: ReadonlyMap<Row, Refusal>,
): Promise<Row[]> {
  if (refused.size === 0) return [...rows];
  for (const [row, refusal] of refused) {
    // Only on that request: a reuse set aside is not the pending request holding its id.
    if (deps.pending.requestIdOf(provider, row.provider_request_id) !== row.request_id) continue;
    deps.pending.noteProblem(
      provider,
      row.provider_request_id,
      `${table} refused the row: ${describeRefusal(refusal)}`,
    );
  }
  deps.metrics.refusedRows.inc({ table }, refused.size);
  const [example, refusal] = refused.entries().next().value!;
  const reason = describeRefusal(refusal);
  const then =
    table === LEDGER_TABLE
      ? 'they stay pending and become unpriced at the deadline'
      : 'they stay pending until the table accepts them';
  deps.logger.error(
    { provider, table, refused: refused.size, requestId: example.request_id, reason },
    'ClickHouse refused rows: the requests stay pending',
  );
  const now = deps.now();
  await deps
    .publishAlerts([
      {
        schemaVersion: 1,
        alertId: `storage_refused:${table}:${provider}:${now.toISOString().slice(0, 13)}`,
        type: 'storage_refused',
        severity: 'critical',
        provider,
        message: `ClickHouse refused ${refused.size} ${provider} row(s) of ${table}: ${reason}; ${then}`,
        details: {
          table,
          rows: refused.size,
          reason,
          requestIds: [...refused.keys()].slice(0, 10).map((row) => row.request_id),
        },
        createdAt: now.toISOString(),
      },
    ])
    .catch((err: unknown) =>
      deps.logger.error({ err, provider, table }, 'could not publish the storage_refused alert'),
    );
  return rows.filter((row) => !refused.has(row));
}

/**
 * Costs → ledger rows, once the account facts say who pays (docs/contract.md §5). A request whose
 * facts are not known yet waits, within the grace period, and is asked again next round.
 */
async function settle(
  deps: RoundDeps,
  provider: string,
  costs: ReadonlyMap<string, NanoUsd>,
  source: LedgerRow['cost_source'],
  requests: ReadonlyMap<string, PendingRow>,
  report: RoundReport,
): Promise<void> {
  const now = deps.now();
  const rows: LedgerRow[] = [];
  const fallbacks: Fallback[] = [];
  const decisions = new Map<string, number>();
  for (const [id, cost] of costs) {
    const request = requests.get(id);
    if (!request) continue;
    const billed = attribute(
      { userId: request.user_id, billTo: request.bill_to, timestamp: request.event_time },
      deps.accounts,
      { now, graceMs: deps.graceMs },
    );
    decisions.set(billed.decision, (decisions.get(billed.decision) ?? 0) + 1);
    if (billed.decision === 'wait') {
      deps.pending.noteProblem(
        provider,
        id,
        `waiting for the account facts of ${billed.waitingFor}`,
      );
      report.waiting++;
      continue;
    }
    const row = ledgerRow(request, cost, source, now, billed);
    rows.push(row);
    if (billed.decision === 'user_fallback') fallbacks.push({ row, cause: billed.cause });
  }
  for (const [decision, count] of decisions) deps.metrics.attribution.inc({ decision }, count);
  const written = await writeOnce(deps, provider, deps.ledger, rows);
  report.priced += written.length;
  await quarantineReuses(deps, written.reuses, now, report);
  // Only what this write stored is announced: a refused row is still pending, a taken one was
  // booked before (a replay) or is another request's (quarantined).
  const kept = new Set(written);
  await alertFallbacks(
    deps,
    fallbacks.filter((f) => kept.has(f.row)),
    now,
  );
}

/** The round's fallbacks alerted (the user billed, and the org named when it is one). */
async function alertFallbacks(deps: RoundDeps, fallbacks: Fallback[], now: Date): Promise<void> {
  if (fallbacks.length === 0) return;
  const alerts = fallbackAlerts(fallbacks, now);
  await deps
    .publishAlerts(alerts)
    .catch((err: unknown) =>
      deps.logger.error({ err, alerts: alerts.length }, 'could not publish the fallback alerts'),
    );
}

/**
 * Past the deadline (counted from when nanobill first saw the request): unpriced, with the reason.
 * The rows name their alert before they are stored, so an alert lost to a crash between the two
 * is published again at the next start (`unannouncedUnpricedAlerts`).
 */
async function declareOverdue(
  deps: RoundDeps,
  provider: string,
  now: Date,
  report: RoundReport,
): Promise<number> {
  const overdue = deps.pending.overdue(provider, now.getTime() - deps.deadlineMs);
  return unpriceAndAnnounce(
    deps,
    provider,
    overdue.map(({ row, problem }) => ({
      row,
      reason: problem ?? 'no valid cost from the provider before the deadline',
    })),
    now,
    report,
  );
}

/**
 * Costs above the ceiling (docs/contract.md §3) are never booked: those requests are unpriced at
 * once with the reason (`cost $X above the ceiling $Y`), counted, and announced like the overdue
 * ones. Once unpriced, a request is out of the pending list and the writers refuse a ledger row
 * for it, so no later answer can book it.
 */
async function refuseAboveCeiling(
  deps: RoundDeps,
  provider: string,
  results: ReadonlyArray<Pick<CallResult, 'aboveCeiling'>>,
  now: Date,
  report: RoundReport,
): Promise<number> {
  const refusals: Array<{ row: PendingRef; reason: string }> = [];
  for (const { aboveCeiling } of results) {
    for (const [id, reason] of aboveCeiling ?? []) {
      const row = deps.pending.get(provider, id);
      if (row) refusals.push({ row, reason });
    }
  }
  const unpriced = await unpriceAndAnnounce(deps, provider, refusals, now, report);
  deps.metrics.aboveCeiling.inc({ provider }, unpriced);
  return unpriced;
}

/**
 * Unpriced for good, with the reason: the rows name their alert before they are stored, so an
 * alert lost to a crash between the two is published again at the next start
 * (`unannouncedUnpricedAlerts`).
 */
async function unpriceAndAnnounce(
  deps: RoundDeps,
  provider: string,
  entries: ReadonlyArray<{ row: PendingRef; reason: string }>,
  now: Date,
  report: RoundReport,
): Promise<number> {
  if (entries.length === 0) return 0;
  const alertId = unpricedAlertId(
    provider,
    now,
    entries.map(({ row }) => row),
  );
  const reasons: Record<string, number> = {};
  let count = 0;
  for await (const chunk of rowsInChunks(deps, provider, entries)) {
    const rows = chunk.map(({ stored, reason }) => unpricedRow(stored, reason, now, alertId));
    const written = await writeOnce(deps, provider, deps.unpriced, rows);
    await quarantineReuses(deps, written.reuses, now, report);
    for (const row of written) reasons[row.reason] = (reasons[row.reason] ?? 0) + 1;
    count += written.length;
  }
  if (count === 0) return 0;
  deps.metrics.unpriced.inc({ provider }, count);
  await announce(deps, provider, alertId, reasons, now);
  return count;
}

/**
 * The rows a write stored, out of the pending set. Rows ClickHouse refused stay pending
 * (`keepRefusedPending`); rows whose provider request id was taken are not stored by this
 * write: taken by the same request, it was stored before (a replay) and leaves the pending set
 * silently; taken by another request, this one reused its id and is returned in `reuses`.
 */
async function writeOnce<Row extends LedgerRow | UnpricedRow>(
  deps: RoundDeps,
  provider: string,
  writer: WriteOnceTable<Row>,
  rows: readonly Row[],
): Promise<Row[] & { reuses: Reuse[] }> {
  const { refused, taken } = await writer.write(rows);
  const stored = await keepRefusedPending(deps, provider, writer.table, rows, refused);
  const written: Row[] = [];
  const reuses: Reuse[] = [];
  for (const row of stored) {
    const holder = taken.get(row);
    if (holder !== undefined && holder !== row.request_id) {
      const request = deps.pending.get(provider, row.provider_request_id);
      if (request?.request_id === row.request_id)
        reuses.push({ row: request, keptRequestId: holder });
      continue;
    }
    deps.pending.resolve(row);
    if (holder === undefined) written.push(row);
  }
  return Object.assign(written, { reuses });
}

/**
 * Requests that reused another request's provider request id (same provider): the provider's
 * cost for that id is the first request's, so they are never booked. Quarantined in
 * `billing.pricing_duplicates` with the reason and the request that keeps the id, counted, and
 * announced by an `unpriced_requests` alert per provider (what a restart would publish again).
 */
async function quarantineReuses(
  deps: RoundDeps,
  reuses: readonly Reuse[],
  now: Date,
  report: RoundReport,
): Promise<void> {
  const byProvider = Map.groupBy(reuses, ({ row }) => row.provider);
  for (const [provider, group] of byProvider) {
    for await (const chunk of rowsInChunks(deps, provider, group)) {
      await quarantineChunk(deps, provider, chunk, now, report);
    }
  }
}

/** One chunk of a provider's reuses quarantined (see `quarantineReuses`). */
async function quarantineChunk(
  deps: RoundDeps,
  provider: string,
  group: ReadonlyArray<Reuse & { stored: PendingRow }>,
  now: Date,
  report: RoundReport,
): Promise<void> {
  // Named by the requests, not the shared id: the request keeping the id may be unpriced in
  // the same minute, and its alert must keep an id of its own.
  const alertId = unpricedAlertId(
    provider,
    now,
    group.map(({ row }) => ({ provider_request_id: `${DUPLICATE_REASON}:${row.request_id}` })),
  );
  const rows = group.map(({ stored, keptRequestId }) =>
    duplicateRow(stored, keptRequestId, now, alertId),
  );
  const { refused, taken } = await deps.duplicates.write(rows);
  const stored = await keepRefusedPending(deps, provider, deps.duplicates.table, rows, refused);
  // Refused: quarantined by a later round once the table accepts it (set aside again, unless
  // still in the pending set, where the next write finds it again).
  const inPending = (row: PendingRef) =>
    deps.pending.requestIdOf(provider, row.provider_request_id) === row.request_id;
  deps.pending.setAside(
    group
      .filter((r, i) => refused.has(rows[i]!) && !inPending(r.row))
      .map(({ row, keptRequestId }) => ({ row, keptRequestId })),
  );
  for (const row of stored) deps.pending.resolve(row);
  const written = stored.filter((row) => !taken.has(row));
  if (written.length === 0) return;
  deps.metrics.duplicates.inc({ provider }, written.length);
  report.quarantined += written.length;
  deps.logger.error(
    { provider, requests: written.length, example: written[0]!.request_id },
    'requests reused a provider request id: quarantined, not booked',
  );
  await announce(deps, provider, alertId, reasonCounts(written), now);
}

function reasonCounts(rows: ReadonlyArray<{ reason: string }>): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const row of rows) reasons[row.reason] = (reasons[row.reason] ?? 0) + 1;
  return reasons;
}

/** The unpriced_requests alert of the rows stored under `alertId`: exactly what they hold. */
async function announce(
  deps: RoundDeps,
  provider: string,
  alertId: string,
  reasons: Record<string, number>,
  now: Date,
): Promise<void> {
  const unpriced = Object.values(reasons).reduce((sum, n) => sum + n, 0);
  await deps
    .publishAlerts([
      unpricedAlert({ alertId, provider, at: now, reasons, deadlineMs: deps.deadlineMs }),
    ])
    .catch((err: unknown) =>
      deps.logger.error({ err, provider }, 'could not publish the unpriced alert'),
    );
  deps.logger.warn({ provider, unpriced, reasons }, 'requests became unpriced');
}

const ABOVE_CEILING = /^cost \$[\d.]+ above the ceiling \$/;

/** The alert announcing one set of unpriced requests: a function of what is stored with them. */
export function unpricedAlert(set: {
  alertId: string;
  provider: string;
  at: Date;
  reasons: Record<string, number>;
  deadlineMs: number;
}): Alert {
  const count = Object.values(set.reasons).reduce((sum, n) => sum + n, 0);
  // Worked out from the reasons alone, so a re-published alert is the one first published.
  const all = (rule: (reason: string) => boolean) => Object.keys(set.reasons).every(rule);
  return {
    schemaVersion: 1,
    alertId: set.alertId,
    type: 'unpriced_requests',
    severity: 'warning',
    provider: set.provider,
    message: all((r) => ABOVE_CEILING.test(r))
      ? `${count} ${set.provider} request(s) not booked: cost above the ceiling`
      : all((r) => r === DUPLICATE_REASON)
        ? `${count} ${set.provider} request(s) not booked: their provider request id is another request's (quarantined in billing.pricing_duplicates)`
        : `${count} ${set.provider} request(s) passed the pricing deadline without a valid cost`,
    details: { count, deadlineMs: set.deadlineMs, reasons: set.reasons },
    createdAt: set.at.toISOString(),
  };
}

/**
 * One id per set of requests declared unpriced: deterministic (a re-sent alert keeps it) and
 * distinct for two rounds in one minute (several instances, or a schedule faster than a minute),
 * whose alerts would otherwise share an id and all but the first be dropped downstream.
 */
export function unpricedAlertId(
  provider: string,
  now: Date,
  rows: ReadonlyArray<{ provider_request_id: string }>,
): string {
  const ids = rows.map((row) => row.provider_request_id).sort();
  const digest = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16);
  return `unpriced_requests:${alertIdPart(provider)}:${now.toISOString().slice(0, 16)}:${digest}`;
}

function updateGauges(deps: RoundDeps, provider: string): void {
  deps.metrics.pending.set({ provider }, deps.pending.size(provider));
  const oldest = deps.pending.oldestFirstSeenMs(provider);
  deps.metrics.oldestPending.set(
    { provider },
    oldest === undefined ? 0 : (deps.now().getTime() - oldest) / 1000,
  );
}
