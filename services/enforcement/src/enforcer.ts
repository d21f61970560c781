import { accountMonth } from '@nanobill/accounts';
import { attribute, type AccountHistory } from '@nanobill/attribution';
import {
  AccountStatus,
  Alert,
  spendingLimitOf,
  type AccountStatus as StatusMessage,
} from '@nanobill/contract';
import { monthOf } from '@nanobill/credits';
import {
  SpendTracker,
  accountStatus,
  alertKey,
  describeCrossing,
  statusChanged,
  thresholdCrossings,
  type AccountStatus as Decided,
  type CrossingContext,
} from '@nanobill/enforcement';
import { INT64_MAX, nanoToJson, type NanoUsd } from '@nanobill/money';

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

/** A ledger row as enforcement reads it. */
export interface PricedRequest {
  key: string;
  billedAccount: string;
  month: string;
  cost: NanoUsd;
  pricedAtMs: number;
}

/** What to publish: status changes (key = account id) and threshold alerts. */
export interface Decisions {
  statuses: StatusMessage[];
  alerts: Alert[];
}

export interface EnforcerOptions {
  history: AccountHistory;
  /** How long an estimate may wait for account facts before it is charged to the user. */
  graceMs: number;
}

/**
 * Spending limits without I/O (PRODUCT.md §6, §7): month-to-date spend per account from
 * estimates and ledger rows, the status each account should have, and the threshold alerts due.
 * The caller feeds it, publishes what `decide` returns, and hands back what it could not publish
 * with `unpublished`, so that the next `decide` tries again.
 *
 * An account is re-evaluated when its spend moved, its facts changed or the month turned; a
 * status is published when it differs from the last one published (status, basis, limit,
 * disabled providers) or belongs to an earlier month. Each threshold alerts once per account
 * and month: the keys already alerted are loaded at start-up and remembered.
 */
export class Enforcer {
  readonly tracker = new SpendTracker();
  readonly #history: AccountHistory;
  readonly #graceMs: number;
  readonly #published = new Map<string, StatusMessage>();
  readonly #alerted = new Set<string>();
  readonly #dirty = new Set<string>();
  #month: string;

  constructor(now: Date, options: EnforcerOptions) {
    this.#history = options.history;
    this.#graceMs = options.graceMs;
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

  /** Alert ids already raised (e.g. read from billing.alerts at start-up). */
  loadAlerted(alertIds: Iterable<string>): void {
    for (const id of alertIds) this.#alerted.add(id);
  }

  /** Counts a request's estimate against whoever will pay for it, as far as known now. */
  seen(request: SeenRequest, now: Date): void {
    const who = attribute(request, this.#history, { now, graceMs: this.#graceMs });
    // Facts still on their way: the user pays for now; the ledger row will say who really does.
    const accountId = who.decision === 'wait' ? request.userId : who.accountId;
    this.#touch(
      this.tracker.estimate(request.key, accountId, monthOf(request.timestamp), request.estimate),
    );
  }

  /** Counts a request's real cost, replacing its estimate. */
  priced(request: PricedRequest): void {
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

  /** Counts the ledger's priced sum of an account at start-up. */
  pricedSum(accountId: string, month: string, cost: NanoUsd): void {
    this.#touch(this.tracker.addPriced(accountId, month, cost));
  }

  /** New facts (plan, limit, disabled providers): re-evaluated at the next `decide`. */
  factsChanged(accountIds: Iterable<string>): void {
    for (const id of accountIds) this.#dirty.add(id);
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

  /** Statuses and alerts for the accounts re-evaluated since the last call. */
  decide(now: Date): Decisions {
    const decisions: Decisions = { statuses: [], alerts: [] };
    const accounts = [...this.#dirty];
    this.#dirty.clear();
    for (const accountId of accounts) this.#decideFor(accountId, now, decisions);
    return decisions;
  }

  /** Decisions that could not be published: forgotten as published, decided again next time. */
  unpublished(decisions: Decisions): void {
    for (const status of decisions.statuses) {
      if (this.#published.get(status.accountId) === status)
        this.#published.delete(status.accountId);
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

  #decideFor(accountId: string, now: Date, out: Decisions): void {
    const month = this.#month;
    const account = accountMonth(this.#history, accountId, month, now);
    const org = account.snapshot?.kind === 'org' ? account.snapshot : undefined;
    const limit = org ? spendingLimitOf(org) : undefined;
    const { priced, estimated, spend } = this.tracker.breakdown(accountId, month);
    const decided = accountStatus({
      kind: account.facts.kind,
      plan: account.facts.plan,
      grant: account.grant,
      limit,
      spend,
      disabledProviders: org?.disabledProviders,
    });
    const previous = this.#published.get(accountId);
    if (previous === undefined || previous.month !== month || changed(previous, decided)) {
      const status = AccountStatus.parse({
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
      this.#published.set(accountId, status);
      out.statuses.push(status);
    }

    const context: CrossingContext = {
      kind: account.facts.kind,
      plan: account.facts.plan,
      grant: account.grant,
      limit,
      payAsYouGo: account.payAsYouGo,
    };
    // Every threshold reached so far that has not alerted yet: robust to jumps, restarts and
    // limit changes alike.
    for (const crossing of thresholdCrossings(0n, spend, context)) {
      const alertId = alertKey(accountId, month, crossing.kind);
      if (this.#alerted.has(alertId)) continue;
      this.#alerted.add(alertId);
      const { severity, message } = describeCrossing(crossing, context);
      out.alerts.push(
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
  }
}

/** statusChanged over a published message and a new decision. */
function changed(previous: StatusMessage, next: Decided): boolean {
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
