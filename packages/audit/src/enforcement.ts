import { setTimeout as sleep } from 'node:timers/promises';
import { accountMonth } from '@nanobill/accounts';
import { DEFAULT_GRACE_MS, attribute, type AccountHistory } from '@nanobill/attribution';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { spendingLimitOf, type AccountStatus as Published } from '@nanobill/contract';
import { accountStatus, statusChanged } from '@nanobill/enforcement';
import {
  checked,
  nano,
  skipped,
  type CheckResult,
  type Confirmation,
  type Example,
} from './result.js';
import { readHistory } from './history.js';
import { rows, yyyymm } from './sql.js';

/** What the enforcement service holds per account for its month (`EnforcementService.books()`). */
export interface EnforcementBooks {
  month: string;
  accounts: Array<{ accountId: string; priced: bigint; estimated: bigint; outstanding: number }>;
}

/** The running enforcement service, as the audit sees it. */
export interface AuditedEnforcement {
  books(): EnforcementBooks;
  /** Follows the ledger and facts now; the check compares right after one. */
  tick?(): Promise<void>;
}

export interface EnforcementCheckOptions {
  month: string;
  now: () => Date;
  /** Undefined when enforcement does not run in this process: the check is skipped. */
  enforcement: AuditedEnforcement | undefined;
  /** The latest status per account on billing.account-status.v1; undefined: not compared. */
  publishedStatuses?: () => Promise<Map<string, Published>>;
  /** Enforcement's attribution grace (default the attribution default). */
  graceMs?: number;
  /**
   * Requests this recent are estimated by any running enforcement service (it estimates events
   * up to its price memory old, 10 minutes by default): each one still pending must be among
   * the account's outstanding estimates. Default 10 minutes.
   */
  freshMs?: number;
  confirmation: Confirmation;
}

/**
 * The enforcement check (docs/finance.md "Audit: the books checked", 4), right after a tick of the
 * service and against a ledger that did not change meanwhile:
 * - each account's priced spend = its ledger month-to-date (billing.ledger, by billed account),
 *   to the nano-USD;
 * - its outstanding estimates lie between the open requests of the last `freshMs` (every one is
 *   estimated) and all open requests of the month (an estimate of a request priced or unpriced
 *   is a leak); an open request is a routed request that reached a provider, in neither the
 *   ledger nor unpriced, attributed as enforcement does; no estimated amount without
 *   outstanding requests;
 * - the latest published status is the one `accountStatus` gives for that spend, the facts and
 *   the limit (status, basis, limit), of this month; no status at all reads as ok.
 * A live pipeline moves while it is read: a violation is reported only when every attempt found
 * it with the same figures.
 */
export async function checkEnforcement(
  clickhouse: ClickHouseClient,
  options: EnforcementCheckOptions,
): Promise<CheckResult> {
  const { month, enforcement } = options;
  if (enforcement === undefined) {
    return skipped('enforcement', month, 'enforcement not running here');
  }
  let persistent: Map<string, Example> | undefined;
  let last: { summary: string } | undefined;
  for (let attempt = 0; attempt < options.confirmation.attempts; attempt++) {
    if (attempt > 0) await sleep(options.confirmation.delayMs);
    const run = await oneComparison(clickhouse, enforcement, options);
    if (run === 'moved') continue;
    if ('skipped' in run) return skipped('enforcement', month, run.skipped);
    last = run;
    const found = new Map(run.examples.map((e) => [JSON.stringify(e), e]));
    persistent =
      persistent === undefined ? found : new Map([...persistent].filter(([key]) => found.has(key)));
    if (persistent.size === 0) break;
  }
  if (last === undefined) {
    return skipped('enforcement', month, 'the ledger changed during every attempt');
  }
  return checked('enforcement', month, {
    examples: [...(persistent?.values() ?? [])],
    summary: last.summary,
  });
}

type Comparison = { examples: Example[]; summary: string } | { skipped: string } | 'moved';

async function oneComparison(
  clickhouse: ClickHouseClient,
  enforcement: AuditedEnforcement,
  options: EnforcementCheckOptions,
): Promise<Comparison> {
  const { month } = options;
  const before = await ledgerVersion(clickhouse, month);
  await enforcement.tick?.();
  const books = enforcement.books();
  if (books.month !== month) return { skipped: `enforcement holds ${books.month}, not ${month}` };
  const now = options.now();
  const history = await readHistory(clickhouse);
  const [ledger, open, statuses] = await Promise.all([
    ledgerMonthToDate(clickhouse, month),
    openRequests(clickhouse, month, now, history, options),
    options.publishedStatuses?.(),
  ]);
  if ((await ledgerVersion(clickhouse, month)) !== before) return 'moved';

  const examples: Example[] = [];
  const held = new Map(books.accounts.map((a) => [a.accountId, a]));
  const accounts = new Set([...held.keys(), ...ledger.keys()]);
  for (const accountId of [...accounts].sort()) {
    const book = held.get(accountId) ?? { priced: 0n, estimated: 0n, outstanding: 0 };
    const priced = ledger.get(accountId) ?? 0n;
    if (book.priced !== priced) {
      examples.push({
        problem: 'priced spend differs from the ledger month-to-date',
        account_id: accountId,
        enforcement_priced_nano_usd: nano(book.priced),
        ledger_nano_usd: nano(priced),
      });
    }
    const requests = open.get(accountId) ?? { all: 0, fresh: 0 };
    if (book.outstanding > requests.all || book.outstanding < requests.fresh) {
      examples.push({
        problem:
          book.outstanding > requests.all
            ? 'estimates of requests no longer pending'
            : 'pending requests without an estimate',
        account_id: accountId,
        outstanding: book.outstanding,
        open_requests: requests.all,
        open_recent_requests: requests.fresh,
      });
    }
    if (book.estimated < 0n || (book.outstanding === 0 && book.estimated !== 0n)) {
      examples.push({
        problem: 'estimated amount without outstanding requests',
        account_id: accountId,
        outstanding: book.outstanding,
        estimated_nano_usd: nano(book.estimated),
      });
    }
    if (statuses !== undefined) {
      const problem = statusDisagreement(
        statuses.get(accountId),
        accountId,
        month,
        book.priced + book.estimated,
        history,
        now,
      );
      if (problem !== undefined) examples.push(problem);
    }
  }
  const openTotal = [...open.values()].reduce((n, r) => n + r.all, 0);
  return {
    examples,
    summary: `${accounts.size} accounts compared with the ledger; ${openTotal} open requests`,
  };
}

/** The status `accountStatus` gives for the spend and the facts, against the published one. */
function statusDisagreement(
  published: Published | undefined,
  accountId: string,
  month: string,
  spend: bigint,
  history: AccountHistory,
  now: Date,
): Example | undefined {
  const account = accountMonth(history, accountId, month, now);
  const org = account.snapshot?.kind === 'org' ? account.snapshot : undefined;
  const due = accountStatus({
    kind: account.facts.kind,
    plan: account.facts.plan,
    grant: account.grant,
    limit: org ? spendingLimitOf(org) : undefined,
    spend,
    disabledProviders: org?.disabledProviders,
  });
  const shown = {
    account_id: accountId,
    spend_nano_usd: nano(spend),
    due_status: due.status,
    due_basis: due.basis,
    due_limit_nano_usd: due.limit === undefined ? null : nano(due.limit),
  };
  // No status reads as ok (the router and the API treat a missing one so).
  if (published === undefined) {
    return due.status === 'ok' ? undefined : { problem: 'no status published', ...shown };
  }
  const differs =
    published.month !== month ||
    statusChanged(
      {
        status: published.status,
        reason: published.reason,
        basis: published.basis,
        spend: BigInt(published.spendNanoUsd),
        limit: published.limitNanoUsd === undefined ? undefined : BigInt(published.limitNanoUsd),
        disabledProviders: published.disabledProviders,
      },
      due,
    );
  if (!differs) return undefined;
  return {
    problem: 'published status disagrees with the spend and the limit',
    ...shown,
    published_month: published.month,
    published_status: published.status,
    published_basis: published.basis,
    published_limit_nano_usd: published.limitNanoUsd ?? null,
  };
}

/** Changes whenever a ledger row of the month is stored. */
async function ledgerVersion(clickhouse: ClickHouseClient, month: string): Promise<string> {
  const [version] = await rows<{ v: string }>(
    clickhouse,
    `SELECT concat(toString(count()), '/', toString(max(inserted_at))) AS v
     FROM billing.ledger_entries WHERE toYYYYMM(event_time) = {m:UInt32}`,
    { m: yyyymm(month) },
  );
  return version?.v ?? '';
}

/**
 * The SQL of docs/finance.md "Audit: the books checked": the ledger month-to-date per billed
 * account.
 */
export const LEDGER_MONTH_TO_DATE_SQL = `
SELECT billed_account, toString(sum(toInt128(cost_nano_usd))) AS cost_nano_usd
FROM billing.ledger WHERE toYYYYMM(event_time) = {m:UInt32}
GROUP BY billed_account`;

export async function ledgerMonthToDate(
  clickhouse: ClickHouseClient,
  month: string,
): Promise<Map<string, bigint>> {
  const found = await rows<{ billed_account: string; cost_nano_usd: string }>(
    clickhouse,
    LEDGER_MONTH_TO_DATE_SQL,
    { m: yyyymm(month) },
  );
  return new Map(found.map((r) => [r.billed_account, BigInt(r.cost_nano_usd)]));
}

/**
 * The SQL of docs/finance.md "Audit: the books checked": requests still waiting for their cost, per
 * user, org named and minute.
 */
export const OPEN_REQUESTS_SQL = `
SELECT user_id, bill_to, toUnixTimestamp(toStartOfMinute(event_time)) * 1000 AS minute_ms,
       count() AS requests,
       countIf(event_time >= fromUnixTimestamp64Milli({fresh:Int64})) AS recent
FROM billing.usage
WHERE toYYYYMM(event_time) = {m:UInt32} AND billing_mode = 'routed'
  AND provider_request_id IS NOT NULL
  AND (provider, assumeNotNull(provider_request_id)) NOT IN
      (SELECT provider, provider_request_id FROM billing.ledger_entries
       WHERE toYYYYMM(event_time) = {m:UInt32})
  AND (provider, assumeNotNull(provider_request_id)) NOT IN
      (SELECT provider, provider_request_id FROM billing.unpriced_entries
       WHERE toYYYYMM(event_time) = {m:UInt32})
GROUP BY user_id, bill_to, minute_ms`;

/**
 * Open requests per paying account, attributed as enforcement does; those still waiting for
 * facts count for the user's upper bound only.
 */
async function openRequests(
  clickhouse: ClickHouseClient,
  month: string,
  now: Date,
  history: AccountHistory,
  options: EnforcementCheckOptions,
): Promise<Map<string, { all: number; fresh: number }>> {
  const found = await rows<{
    user_id: string;
    bill_to: string | null;
    minute_ms: string;
    requests: string;
    recent: string;
  }>(clickhouse, OPEN_REQUESTS_SQL, {
    m: yyyymm(month),
    fresh: now.getTime() - (options.freshMs ?? 10 * 60_000),
  });
  const open = new Map<string, { all: number; fresh: number }>();
  for (const r of found) {
    const who = attribute(
      { userId: r.user_id, billTo: r.bill_to, timestamp: new Date(Number(r.minute_ms)) },
      history,
      { now, graceMs: options.graceMs ?? DEFAULT_GRACE_MS },
    );
    // Still waiting for facts: enforcement holds the estimate aside, counted against nobody
    // until the facts arrive or the grace ends. It may count for the user by then (at most).
    const waiting = who.decision === 'wait';
    const accountId = waiting ? r.user_id : who.accountId;
    const counts = open.get(accountId) ?? { all: 0, fresh: 0 };
    counts.all += Number(r.requests);
    if (!waiting) counts.fresh += Number(r.recent);
    open.set(accountId, counts);
  }
  return open;
}
