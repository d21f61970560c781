import { accountMonth } from '@nanobill/accounts';
import { attribute, type AccountHistory } from '@nanobill/attribution';
import {
  AccountStatus,
  Alert,
  alertIdPart,
  spendingLimitOf,
  type AccountStatus as StatusMessage,
} from '@nanobill/contract';
import { monthOf } from '@nanobill/calendar';
import {
  SpendTracker,
  accountStatus,
  alertKey,
  describeCrossing,
  statusChanged,
  thresholdCrossings,
  type AccountBooks,
  type DecidedStatus,
  type CrossingContext,
  type SpendBreakdown,
} from '@nanobill/enforcement';
import { INT64_MAX, nanoToJson, type NanoUsd } from '@nanobill/money';
import { WaitingEstimates } from './waiting.js';

/**
 * An amount as published in an AccountStatus, whose contract caps amounts at the Int64 maximum:
 * a spend beyond it (about $9.2 billion in a month) is shown as that maximum, still far above
 * any limit, so the status stays what it is rather than failing to publish.
 */
function published(amount: NanoUsd): string {
  return nanoToJson(amount > INT64_MAX ? INT64_MAX : amount);
}

/** A request seen but not priced yet, with what it will probably cost. */
export interface SeenRequest {
  /** pricingKey: the ledger's uniqueness rule. */
  key: string;
  userId: string;
  billTo?: string | null;
  timestamp: string;
  estimate: NanoUsd;
}

/** A request pricing gave up on (billing.unpriced) as enforcement reads it. */
export interface UnpricedRequest {
  key: string;
  /** The request's month (UTC). */
  month: string;
  unpricedAtMs: number;
}

/**
 * A request pricing quarantined (billing.pricing_duplicates) for reusing the provider request id
 * of another request, the keeper: both have one `key`.
 */
export interface QuarantinedRequest extends UnpricedRequest {
  /** The keeper has its ledger or unpriced row: an estimate still under the key is not its. */
  keeperSettled: boolean;
}

/** A ledger row as enforcement reads it. */
export interface PricedRequest {
  key: string;
  billedAccount: string;
  month: string;
  cost: NanoUsd;
  pricedAtMs: number;
}

/**
 * What to publish: status changes (key = account id), statuses retired (a tombstone for the key:
 * the account is `ok` with nothing to say, see `retirable`) and alerts.
 */
export interface Decisions {
  statuses: StatusMessage[];
  /** The statuses removed from the topic (the last one published of each account). */
  retired: StatusMessage[];
  alerts: Alert[];
}

export interface EnforcerOptions {
  history: AccountHistory;
  /** How long an estimate may wait for account facts before it is charged to the user. */
  graceMs: number;
  /**
   * An account whose decision threw (e.g. facts the credit rules refuse): reported here, and
   * with an `account_decision_failed` operations alert once per account and month; the other
   * accounts' decisions go on.
   */
  onAccountFailure?: (accountId: string, error: unknown) => void;
}

/**
 * Spending limits without I/O (docs/contract.md §6, §7): month-to-date spend per account from
 * estimates and ledger rows, the status each account should have, and the threshold alerts due.
 * The caller feeds it, publishes what `decide` returns, and hands back what it could not publish
 * with `unpublished`, so that the next `decide` tries again.
 *
 * An account is re-evaluated when its spend moved, its facts changed or the month turned; a
 * status is published when it differs from the last one published (status, basis, limit,
 * disabled providers) or belongs to an earlier month. Each threshold alerts once per account
 * and month: the keys already alerted are loaded at start-up and remembered.
 *
 * Facts first (docs/contract.md §5: within the grace, unknown facts never block anyone): an
 * estimate whose payer attribution cannot name yet waits aside (`WaitingEstimates`), counted
 * against nobody, and joins the account that pays when its facts arrive or the grace ends.
 *
 * One account's failure never stops the others: each account is decided on its own, a failure
 * is reported (`onAccountFailure`, an operations alert) and the account is tried again when its
 * spend or facts move.
 */
export class Enforcer {
  readonly tracker = new SpendTracker();
  readonly #history: AccountHistory;
  readonly #graceMs: number;
  readonly #published = new Map<string, StatusMessage>();
  readonly #alerted = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #waiting = new WaitingEstimates();
  /** Accounts that got facts since the last `decide`: estimates waiting for them move. */
  readonly #factsArrived = new Set<string>();
  readonly #onAccountFailure: (accountId: string, error: unknown) => void;
  #month: string;

  constructor(now: Date, options: EnforcerOptions) {
    this.#history = options.history;
    this.#graceMs = options.graceMs;
    this.#onAccountFailure = options.onAccountFailure ?? (() => undefined);
    this.#month = monthOf(now);
    this.tracker.rollover(this.#month);
  }

  get month(): string {
    return this.#month;
  }

  /** The last status published for an account (from the topic at start-up, then ours). */
  published(accountId: string): StatusMessage | undefined {
    return this.#published.get(accountId);
  }

  /** A status found on `billing.account-status.v1`; re-evaluated at the next `decide`. */
  loadPublished(status: StatusMessage): void {
    this.#published.set(status.accountId, status);
    this.#dirty.add(status.accountId);
  }

  /** A tombstone found on `billing.account-status.v1`: the account has no status (= ok). */
  loadRetired(accountId: string): void {
    this.#published.delete(accountId);
  }

  /** The month's books: every account's priced and estimated spend (the audit reads them). */
  books(): { month: string; accounts: AccountBooks[] } {
    return { month: this.#month, accounts: this.tracker.books(this.#month) };
  }

  /** Estimates waiting for facts (counted against nobody yet). */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Alert ids already raised (e.g. read from billing.alerts at start-up). */
  loadAlerted(alertIds: Iterable<string>): void {
    for (const id of alertIds) this.#alerted.add(id);
  }

  /**
   * Counts a request's estimate against whoever pays for it; while attribution waits for facts,
   * against nobody yet (see `WaitingEstimates`).
   */
  seen(request: SeenRequest, now: Date): void {
    if (this.#waiting.has(request.key)) return;
    const who = attribute(request, this.#history, { now, graceMs: this.#graceMs });
    if (who.decision === 'wait') {
      this.#waiting.add(request, who.waitingFor, who.until);
      return;
    }
    this.#touch(
      this.tracker.estimate(
        request.key,
        who.accountId,
        monthOf(request.timestamp),
        request.estimate,
      ),
    );
  }

  /** Counts a request's real cost, replacing its estimate. */
  priced(request: PricedRequest): void {
    this.#waiting.delete(request.key);
    this.#touch(
      this.tracker.price(
        request.key,
        request.billedAccount,
        request.month,
        request.cost,
        request.pricedAtMs,
      ),
    );
  }

  /**
   * A request pricing gave up on: its estimate leaves the spend (a price, before or after, still
   * counts: the ledger is the truth for money).
   */
  unpriced(request: UnpricedRequest): void {
    this.#waiting.delete(request.key);
    this.#touch(this.tracker.unpriced(request.key, request.month, request.unpricedAtMs));
  }

  /**
   * A request quarantined for reusing the keeper's provider request id (docs/architecture.md
   * "Spending limits"): never booked, so its estimate must leave the spend. The key is shared: once
   * the keeper is settled, an estimate under it is the reused request's (the keeper's price was
   * forgotten, or counted in the start-up sum) and leaves as an unpriced one does, while a price
   * stays; while the keeper still waits for its cost, the estimate stands for the keeper and stays
   * until its ledger or unpriced row replaces it.
   */
  quarantined(request: QuarantinedRequest): void {
    if (request.keeperSettled) this.unpriced(request);
  }

  /** Counts the ledger's priced sum of an account at start-up. */
  pricedSum(accountId: string, month: string, cost: NanoUsd): void {
    this.#touch(this.tracker.addPriced(accountId, month, cost));
  }

  /**
   * New facts (plan, limit, disabled providers, members): re-evaluated at the next `decide`,
   * where the estimates that waited for them move to the account that pays.
   */
  factsChanged(accountIds: Iterable<string>): void {
    for (const id of accountIds) {
      this.#dirty.add(id);
      this.#factsArrived.add(id);
    }
  }

  /** Every account with spend or a published status: re-evaluated at the next `decide`. */
  reviewAll(): void {
    for (const id of this.tracker.accounts(this.#month)) this.#dirty.add(id);
    for (const id of this.#published.keys()) this.#dirty.add(id);
  }

  /**
   * Moves to `now`'s month when it has turned (UTC): earlier months are forgotten and every
   * published status is reviewed, so that blocks lift. Returns whether it turned.
   */
  rollover(now: Date): boolean {
    const month = monthOf(now);
    if (month <= this.#month) return false;
    this.#month = month;
    this.tracker.rollover(month);
    this.#alerted.clear();
    this.reviewAll();
    return true;
  }

  /**
   * Statuses and alerts for the accounts re-evaluated since the last call, once the estimates
   * whose facts arrived (or whose grace ended) have joined the account that pays. Each account
   * on its own: one that fails is reported and left out, the others are decided.
   */
  decide(now: Date): Decisions {
    this.#attributeWaiting(now);
    const decisions: Decisions = { statuses: [], retired: [], alerts: [] };
    const accounts = [...this.#dirty];
    this.#dirty.clear();
    for (const accountId of accounts) {
      let decided: AccountDecision;
      try {
        decided = this.#decideFor(accountId, now);
      } catch (error) {
        this.#failed(accountId, error, now, decisions);
        continue;
      }
      this.#commit(accountId, decided, decisions);
    }
    return decisions;
  }

  /** Decisions that could not be published: forgotten as published, decided again next time. */
  unpublished(decisions: Decisions): void {
    for (const status of decisions.statuses) {
      if (this.#published.get(status.accountId) === status)
        this.#published.delete(status.accountId);
      this.#dirty.add(status.accountId);
    }
    for (const status of decisions.retired) {
      // Still on the topic: remembered as published again, so that it is retired next time.
      if (!this.#published.has(status.accountId)) this.#published.set(status.accountId, status);
      this.#dirty.add(status.accountId);
    }
    for (const alert of decisions.alerts) {
      this.#alerted.delete(alert.alertId);
      if (alert.accountId !== undefined) this.#dirty.add(alert.accountId);
    }
  }

  #touch(changes: { accountId: string; month: string }[]): void {
    for (const change of changes)
      if (change.month === this.#month) this.#dirty.add(change.accountId);
  }

  /** Estimates waiting for facts that arrived, or whose grace ended, join who pays. */
  #attributeWaiting(now: Date): void {
    const due = this.#waiting.due(this.#factsArrived, now);
    this.#factsArrived.clear();
    for (const request of due) {
      this.#waiting.delete(request.key);
      try {
        this.seen(request, now); // waits again if still unknown (e.g. the org came, the user not)
      } catch (error) {
        this.#onAccountFailure(request.userId, error); // one request, not the others
      }
    }
  }

  #failed(accountId: string, error: unknown, now: Date, out: Decisions): void {
    this.#onAccountFailure(accountId, error);
    const month = this.#month;
    const alertId = `account_decision_failed:${month}:${alertIdPart(accountId)}`;
    if (this.#alerted.has(alertId)) return;
    this.#alerted.add(alertId);
    const reason = error instanceof Error ? error.message : String(error);
    out.alerts.push(
      Alert.parse({
        schemaVersion: 1,
        alertId,
        type: 'account_decision_failed',
        severity: 'critical',
        accountId,
        message:
          `enforcement could not decide the status of account ${JSON.stringify(accountId)} ` +
          `for ${month}: ${reason}; its last status stands, the other accounts are decided`,
        details: { month, reason },
        createdAt: now.toISOString(),
      }),
    );
  }

  #commit(accountId: string, decided: AccountDecision, out: Decisions): void {
    if (decided.status === 'retire') {
      const previous = this.#published.get(accountId);
      this.#published.delete(accountId);
      if (previous !== undefined) out.retired.push(previous);
    } else if (decided.status !== undefined) {
      this.#published.set(accountId, decided.status);
      out.statuses.push(decided.status);
    }
    for (const alert of decided.alerts) {
      this.#alerted.add(alert.alertId);
      out.alerts.push(alert);
    }
  }

  /** The account's status (if it changed) and alerts due, without changing anything yet. */
  #decideFor(accountId: string, now: Date): AccountDecision {
    const month = this.#month;
    const account = accountMonth(this.#history, accountId, month, now);
    const org = account.snapshot?.kind === 'org' ? account.snapshot : undefined;
    const limit = org ? spendingLimitOf(org) : undefined;
    const breakdown = this.tracker.breakdown(accountId, month);
    const { priced, estimated, spend } = breakdown;
    const decided = accountStatus({
      kind: account.facts.kind,
      plan: account.facts.plan,
      grant: account.grant,
      limit,
      spend,
      disabledProviders: org?.disabledProviders,
    });
    const previous = this.#published.get(accountId);
    let status: AccountDecision['status'];
    if (previous !== undefined && previous.month !== month && retirable(decided, breakdown)) {
      status = 'retire';
    } else if (previous === undefined || previous.month !== month || changed(previous, decided)) {
      status = AccountStatus.parse({
        schemaVersion: 1,
        accountId,
        kind: account.facts.kind,
        plan: account.facts.plan,
        month,
        status: decided.status,
        reason: decided.reason,
        basis: decided.basis,
        spendNanoUsd: published(spend),
        pricedNanoUsd: published(priced),
        estimatedNanoUsd: published(estimated),
        ...(decided.limit === undefined ? {} : { limitNanoUsd: nanoToJson(decided.limit) }),
        disabledProviders: decided.disabledProviders,
        updatedAt: now.toISOString(),
      });
    }

    const context: CrossingContext = {
      kind: account.facts.kind,
      plan: account.facts.plan,
      grant: account.grant,
      limit,
      payAsYouGo: account.payAsYouGo,
    };
    const alerts: Alert[] = [];
    // Every threshold reached so far that has not alerted yet: robust to jumps, restarts and
    // limit changes alike.
    for (const crossing of thresholdCrossings(0n, spend, context)) {
      const alertId = alertKey(accountId, month, crossing.kind);
      if (this.#alerted.has(alertId)) continue;
      const { severity, message } = describeCrossing(crossing, context);
      alerts.push(
        Alert.parse({
          schemaVersion: 1,
          alertId,
          type: 'spend_threshold',
          severity,
          accountId,
          message,
          details: {
            threshold: crossing.kind,
            month,
            thresholdNanoUsd: nanoToJson(crossing.threshold),
            spendNanoUsd: nanoToJson(spend),
            ...(limit === undefined ? {} : { limitNanoUsd: nanoToJson(limit) }),
            grantNanoUsd: nanoToJson(account.grant),
          },
          createdAt: now.toISOString(),
        }),
      );
    }
    return { status, alerts };
  }
}

/** One account's decision: a new status, its retirement, or nothing new; and alerts due. */
interface AccountDecision {
  status: StatusMessage | 'retire' | undefined;
  alerts: Alert[];
}

/**
 * Whether an account's status from an earlier month can leave the topic (a tombstone) rather
 * than be republished for the new month: it is `ok`, carries no disabled providers and the
 * account has no activity in the month (nothing priced, nothing estimated). Readers take a
 * missing status for `ok` (docs/architecture.md, "Spending limits"), so the tombstone says exactly
 * what the republished status would, and the topic keeps only accounts with something to say.
 */
export function retirable(decided: DecidedStatus, month: SpendBreakdown): boolean {
  return (
    decided.status === 'ok' &&
    decided.disabledProviders.length === 0 &&
    month.spend === 0n &&
    month.outstanding === 0
  );
}

/** statusChanged over a published message and a new decision. */
function changed(previous: StatusMessage, next: DecidedStatus): boolean {
  return statusChanged(
    {
      status: previous.status,
      reason: previous.reason,
      basis: previous.basis,
      spend: BigInt(previous.spendNanoUsd),
      limit: previous.limitNanoUsd === undefined ? undefined : BigInt(previous.limitNanoUsd),
      disabledProviders: previous.disabledProviders,
    },
    next,
  );
}
