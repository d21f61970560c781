// The end of every restart test: `nanobill audit` (docs/finance.md "Audit: the books checked") over
// the month, with the enforcement service of the test when it has one and the statuses it published
// on the world's status topic. Everything has settled when it runs: each check at once, no slack.
import { expect } from 'vitest';
import { AT_ONCE, readPublishedStatuses, renderAudit, runAudit } from '@nanobill/audit';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import type { EnforcementService } from '@nanobill/enforcement-service';
import type { Kafka } from '@nanobill/kafka';
import { quietLogger } from '@nanobill/testkit';

/** What the audit reads of a world: its ClickHouse and, for statuses, its status topic. */
export interface AuditedWorld {
  clickhouse: ClickHouseClient;
  kafka: Kafka;
  topics: { TOPIC_STATUS: string };
}

/** Money stays exact in `month` (YYYY-MM): every check of the audit finds nothing. */
export async function expectBooksBalanced(
  world: AuditedWorld,
  month: string,
  deadlineMs: number,
  enforcement?: EnforcementService,
): Promise<void> {
  const report = await runAudit({
    clickhouse: world.clickhouse,
    month,
    deadlineMs,
    enforcement,
    publishedStatuses: () =>
      readPublishedStatuses(world.kafka, world.topics.TOPIC_STATUS, quietLogger()),
    confirmation: AT_ONCE,
    settleMs: 0,
    draftSettleMs: 0,
    correctionGraceMs: 0,
  });
  const ran = report.results.filter((r) => r.skipped === undefined);
  expect(ran.length, renderAudit(report)).toBe(enforcement === undefined ? 4 : 5);
  expect(
    ran.filter((r) => !r.ok),
    renderAudit(report),
  ).toEqual([]);
  console.log(renderAudit(report));
}
