import { AccountStatus } from '@nanobill/contract';
import { startTopicView, type Kafka } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';

/**
 * The latest status published per account on the compacted `billing.account-status.v1` (what
 * the router and the API read), read from the beginning up to its end now. A tombstone removes
 * the account's status; a value the contract refuses is left out.
 */
export async function readPublishedStatuses(
  kafka: Kafka,
  topic: string,
  logger: Logger,
): Promise<Map<string, AccountStatus>> {
  const statuses = new Map<string, AccountStatus>();
  const view = await startTopicView({
    kafka,
    topic,
    logger,
    name: 'audit status view',
    onReread: () => statuses.clear(),
    onRecord: (key, value) => {
      if (value === null) {
        statuses.delete(key);
        return;
      }
      const parsed = AccountStatus.safeParse(JSON.parse(value.toString()));
      if (parsed.success) statuses.set(parsed.data.accountId, parsed.data);
    },
  });
  try {
    await view.ready;
  } finally {
    await view.stop();
  }
  return statuses;
}
