import { z } from 'zod';
import { runAudit, readPublishedStatuses, type AuditedEnforcement } from '@nanobill/audit';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import { TOPICS } from '@nanobill/contract';
import type { Kafka } from '@nanobill/kafka';
import type { Logger } from '@nanobill/observability';

export const AuditRequest = z.object({
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'month must be YYYY-MM'),
});
export type AuditRequest = z.infer<typeof AuditRequest>;

/**
 * `nanobill audit` where it runs: the enforcement check needs the enforcement service of the
 * process (and the status topic); without it, that check says it was skipped.
 */
export function auditBooks(
  clickhouse: ClickHouseClient,
  request: AuditRequest,
  options: {
    deadlineMs: number;
    /** The attribution grace the services run with (NANOBILL_ATTRIBUTION_GRACE_MS). */
    graceMs: number;
    enforcement?: AuditedEnforcement;
    kafka?: Kafka;
    logger?: Logger;
    /** The status topic enforcement publishes to; default the contract's. */
    statusTopic?: string;
  },
) {
  const { kafka, logger, enforcement } = options;
  return runAudit({
    clickhouse,
    month: request.month,
    deadlineMs: options.deadlineMs,
    graceMs: options.graceMs,
    enforcement,
    publishedStatuses:
      enforcement && kafka && logger
        ? () => readPublishedStatuses(kafka, options.statusTopic ?? TOPICS.accountStatus, logger)
        : undefined,
  });
}
