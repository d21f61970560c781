import { AccountStatus } from '@nanobill/contract';
import { startTopicView, type Kafka } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';

export interface StatusView {
  /** The latest status published for the account. */
  get(accountId: string): AccountStatus | undefined;
  readonly size: number;
  /** Resolves once the topic has been read up to where it was at start. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** Every account's latest status, from the compacted `billing.account-status.v1`. */
export async function startStatusView(options: {
  kafka: Kafka;
  topic: string;
  logger: Logger;
}): Promise<StatusView> {
  const statuses = new Map<string, AccountStatus>();
  const view = await startTopicView({
    ...options,
    onRecord: (key, value) => {
      if (value === null) {
        statuses.delete(key);
        return;
      }
      const parsed = AccountStatus.safeParse(safeJson(value));
      if (parsed.success) statuses.set(key, parsed.data);
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
