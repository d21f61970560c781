import { AccountStatus } from '@nanobill/contract';
import { startTopicView, type Kafka, type Supervision } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';

export interface StatusView {
  /** The latest status published for the account. */
  get(accountId: string): AccountStatus | undefined;
  readonly size: number;
  /** Resolves once the topic has been read up to where it was at start. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

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
  const view = await startTopicView({
    ...options,
    name: options.name ?? 'account status view',
    onReread: () => (rereading = new Map()),
    onCaughtUp: () => {
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
    ready: view.ready,
    stop: view.stop,
  };
}

function safeJson(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString());
  } catch {
    return undefined;
  }
}
