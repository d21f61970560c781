import { AccountStatus } from '@nanobill/contract';
import { startTopicView, type Kafka, type Supervision } from '@nanobill/kafka';
import { Gauge, type Logger, type Registry } from '@nanobill/observability';

const LAG_METRIC = 'nanobill_api_status_view_lag_messages';

export interface StatusView {
  /** The latest status published for the account. */
  get(accountId: string): AccountStatus | undefined;
  readonly size: number;
  /**
   * Whether the topic has been read up to where it was at start. Until then a missing status
   * proves nothing (the account may be blocked further on): the API answers 503.
   */
  readonly caughtUp: boolean;
  /** Messages the view is behind the topic's end, as of its last fetch. */
  readonly lag: number;
  /** Resolves once the topic has been read up to where it was at start. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** A view with no statuses, caught up: for an API whose status route nobody asks (benchmarks). */
export const NO_STATUSES: StatusView = {
  get: () => undefined,
  size: 0,
  caughtUp: true,
  lag: 0,
  ready: Promise.resolve(),
  stop: async () => undefined,
};

/**
 * Every account's latest status, from the compacted `billing.account-status.v1`. Its consumer
 * is supervised (not ready in `/readyz` until caught up; restarted when it stops): a restarted
 * view rereads the topic into a fresh table and swaps it in once caught up, so the statuses it
 * answers never step back to older values while it rereads.
 */
export async function startStatusView(options: {
  kafka: Kafka;
  topic: string;
  logger: Logger;
  supervision?: Supervision;
  /** Its name in `/readyz`; default `account status view`. */
  name?: string;
}): Promise<StatusView> {
  let statuses = new Map<string, AccountStatus>();
  let rereading: Map<string, AccountStatus> | undefined;
  let caughtUp = false;
  let lag = 0;
  const gauge = lagGauge(options.supervision?.metrics);
  const view = await startTopicView({
    ...options,
    name: options.name ?? 'account status view',
    onReread: () => (rereading = new Map()),
    onLag: (messages) => {
      lag = messages;
      gauge?.set(messages);
    },
    onCaughtUp: () => {
      caughtUp = true;
      if (rereading === undefined) return;
      statuses = rereading;
      rereading = undefined;
    },
    onRecord: (key, value) => {
      const table = rereading ?? statuses;
      if (value === null) {
        table.delete(key);
        return;
      }
      const parsed = AccountStatus.safeParse(safeJson(value));
      if (parsed.success) table.set(key, parsed.data);
      else options.logger.warn({ key, problem: parsed.error.message }, 'invalid account status');
    },
  });
  return {
    get: (accountId) => statuses.get(accountId),
    get size() {
      return statuses.size;
    },
    get caughtUp() {
      return caughtUp;
    },
    get lag() {
      return lag;
    },
    ready: view.ready,
    stop: view.stop,
  };
}

/** One gauge per process (a restarted API registers nothing twice). */
function lagGauge(registry: Registry | undefined): Gauge | undefined {
  if (registry === undefined) return undefined;
  return (
    (registry.getSingleMetric(LAG_METRIC) as Gauge | undefined) ??
    new Gauge({
      name: LAG_METRIC,
      help: 'Messages the API account status view is behind billing.account-status.v1 (as of its last fetch); until it has caught up once, /readyz names it and status answers are 503',
      registers: [registry],
    })
  );
}

function safeJson(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString());
  } catch {
    return undefined;
  }
}
