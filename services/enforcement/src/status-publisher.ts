import type { AccountStatus, Alert } from '@nanobill/contract';
import {
  ACCOUNT_STATUS_TOPIC,
  ALERTS_TOPIC,
  PartlyPublishedError,
  onTopic,
  outgoing,
  publishOutgoing,
  tombstone,
  type BatchSender,
  type Outgoing,
  type TopicDefinition,
} from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';
import type { Decisions } from './enforcer.js';
import type { Isolated } from './isolated.js';
import type { EnforcementMetrics } from './metrics.js';

export interface StatusPublisherDeps {
  producer: BatchSender;
  topics: { accountStatus: string; alerts: string };
  /** Decisions that could not be sent: handed back, to be decided again and re-sent. */
  unpublished(decisions: Decisions): void;
  isolated: Isolated;
  metrics: EnforcementMetrics;
  logger: Logger;
}

/** One message of a decision, with what it publishes (handed back if it could not be sent). */
interface Decided {
  message: Outgoing;
  source:
    | { kind: 'status'; status: AccountStatus }
    | { kind: 'retired'; status: AccountStatus }
    | { kind: 'alert'; alert: Alert };
}

/**
 * Publishes the enforcer's decisions: statuses to the compacted status topic (a tombstone for a
 * retired one), threshold alerts to the alerts topic. One publish at a time: two statuses of one
 * account must reach the topic in decision order. Each request is bounded (`PUBLISH_LIMITS`): a
 * month turn republishes every account. What a failed request did not send is handed back.
 */
export class StatusPublisher {
  #publishing: Promise<void> = Promise.resolve();
  readonly #statuses: TopicDefinition<AccountStatus>;
  readonly #alerts: TopicDefinition<Alert>;

  constructor(private readonly deps: StatusPublisherDeps) {
    this.#statuses = onTopic(ACCOUNT_STATUS_TOPIC, deps.topics.accountStatus);
    this.#alerts = onTopic(ALERTS_TOPIC, deps.topics.alerts);
  }

  /** Publishes `decisions` after those before; `causedAt`: when the event deciding them came. */
  publish(decisions: Decisions, causedAt?: number): Promise<void> {
    const next = this.#publishing.then(() => this.#send(decisions, causedAt));
    this.#publishing = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every publish begun has ended (whether it failed or not). */
  drained(): Promise<void> {
    return this.#publishing;
  }

  async #send(decisions: Decisions, causedAt: number | undefined): Promise<void> {
    const decided = this.#decided(decisions);
    try {
      await publishOutgoing(
        this.deps.producer,
        decided.map((d) => d.message),
      );
    } catch (error) {
      this.deps.metrics.publishFailures.inc();
      // What was sent stays published; the rest is decided again and re-sent.
      const sent = error instanceof PartlyPublishedError ? error.sent : 0;
      this.deps.unpublished(decisionsOf(decided.slice(sent)));
      throw error;
    }
    this.#report(decisions, causedAt);
  }

  /**
   * Every message of `decisions`, statuses and tombstones first, in decision order. A status or
   * alert its topic's schema refuses (a bug) is left out, reported and counted (stage `publish`):
   * every reader would refuse it, and the other accounts' decisions go on.
   */
  #decided(decisions: Decisions): Decided[] {
    const decided: Decided[] = [];
    for (const status of decisions.statuses) {
      this.deps.isolated('publish', status.accountId, () =>
        decided.push({
          message: outgoing(this.#statuses, status),
          source: { kind: 'status', status },
        }),
      );
    }
    for (const status of decisions.retired) {
      decided.push({
        message: tombstone(this.#statuses.topic, status.accountId),
        source: { kind: 'retired', status },
      });
    }
    for (const alert of decisions.alerts) {
      this.deps.isolated('publish', alert.alertId, () =>
        decided.push({ message: outgoing(this.#alerts, alert), source: { kind: 'alert', alert } }),
      );
    }
    return decided;
  }

  #report(decisions: Decisions, causedAt: number | undefined): void {
    const { metrics, logger } = this.deps;
    for (const s of decisions.statuses) metrics.statusChanges.inc({ status: s.status });
    metrics.statusChanges.inc({ status: 'retired' }, decisions.retired.length);
    for (const a of decisions.alerts) {
      if (a.type === 'spend_threshold') {
        metrics.alerts.inc({ threshold: String(a.details.threshold) });
      }
    }
    if (causedAt !== undefined && decisions.statuses.length > 0) {
      metrics.decisionSeconds.observe((Date.now() - causedAt) / 1000);
    }
    if (decisions.statuses.some((s) => s.status !== 'ok') || decisions.alerts.length > 0) {
      logger.info(
        {
          statuses: decisions.statuses
            .filter((s) => s.status !== 'ok')
            .map((s) => [s.accountId, s.status]),
          alerts: decisions.alerts.map((a) => a.alertId),
        },
        'account statuses and alerts published',
      );
    }
    if (decisions.retired.length > 0) {
      logger.info({ retired: decisions.retired.length }, "idle accounts' statuses retired");
    }
  }
}

function decisionsOf(decided: readonly Decided[]): Decisions {
  const decisions: Decisions = { statuses: [], retired: [], alerts: [] };
  for (const { source } of decided) {
    if (source.kind === 'status') decisions.statuses.push(source.status);
    else if (source.kind === 'retired') decisions.retired.push(source.status);
    else decisions.alerts.push(source.alert);
  }
  return decisions;
}
