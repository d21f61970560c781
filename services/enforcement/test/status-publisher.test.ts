import { describe, expect, it } from 'vitest';
import type { AccountStatus, Alert } from '@nanobill/contract';
import { PUBLISH_LIMITS, type BatchSender } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger } from '@nanobill/testkit';
import type { Decisions } from '../src/enforcer.js';
import { isolation } from '../src/isolated.js';
import { createEnforcementMetrics } from '../src/metrics.js';
import { StatusPublisher } from '../src/status-publisher.js';

const topics = { accountStatus: 'status-topic', alerts: 'alerts-topic' };

const status = (accountId: string, extra: Partial<AccountStatus> = {}): AccountStatus => ({
  schemaVersion: 1,
  accountId,
  kind: 'user',
  plan: 'free',
  month: '2026-11',
  status: 'ok',
  reason: 'within the credits',
  basis: 'credits',
  spendNanoUsd: '0',
  pricedNanoUsd: '0',
  estimatedNanoUsd: '0',
  limitNanoUsd: '100000000',
  disabledProviders: [],
  updatedAt: '2026-11-26T08:00:00.000Z',
  ...extra,
});

const alert = (alertId: string): Alert => ({
  schemaVersion: 1,
  alertId,
  type: 'spend_threshold',
  severity: 'warning',
  accountId: 'acme',
  message: '80 % of the limit',
  details: { threshold: 80 },
  createdAt: '2026-11-26T08:00:00.000Z',
});

/** A publisher over a producer that records requests and refuses the `failAt`-th, if any. */
function publisherWith(failAt?: number) {
  const requests: Array<Array<[string, Array<string | null>]>> = [];
  const producer: BatchSender = {
    sendBatch: async ({ topicMessages }) => {
      if (requests.length === failAt) throw new Error('broker away');
      requests.push(
        (topicMessages ?? []).map((t) => [
          t.topic,
          t.messages.map((m) => (m.value === null ? null : String(m.key))),
        ]),
      );
      return [];
    },
  };
  const handedBack: Decisions[] = [];
  const registry = createMetricsRegistry();
  const metrics = createEnforcementMetrics(registry);
  const logger = quietLogger();
  const publisher = new StatusPublisher({
    producer,
    topics,
    unpublished: (decisions) => handedBack.push(decisions),
    isolated: isolation(metrics, logger),
    metrics,
    logger,
  });
  return { publisher, requests, handedBack, registry };
}

describe('StatusPublisher', () => {
  it('sends statuses, then tombstones, then alerts, in decision order', async () => {
    const { publisher, requests, handedBack } = publisherWith();
    await publisher.publish({
      statuses: [status('a'), status('b')],
      retired: [status('idle')],
      alerts: [alert('threshold:2026-11:acme:limit_80')],
    });
    expect(requests).toEqual([
      [
        ['status-topic', ['a', 'b', null]],
        ['alerts-topic', ['threshold:2026-11:acme:limit_80']],
      ],
    ]);
    expect(handedBack).toEqual([]);
  });

  it('a month turn is sent in bounded requests; what a failed request did not send is handed back', async () => {
    const { publisher, requests, handedBack } = publisherWith(1);
    const statuses = Array.from({ length: PUBLISH_LIMITS.maxMessages + 10 }, (_, i) =>
      status(`account-${i}`),
    );
    const failure = await publisher
      .publish({ statuses, retired: [], alerts: [] })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ total: statuses.length });
    const { sent } = failure as { sent: number };
    // The first request carried what fit (by count and bytes); the second one failed.
    expect(requests).toHaveLength(1);
    expect(requests[0]![0]![1]).toHaveLength(sent);
    expect(sent).toBeGreaterThan(0);
    expect(handedBack).toEqual([{ statuses: statuses.slice(sent), retired: [], alerts: [] }]);
  });

  it('leaves out a status its schema refuses (counted), and sends the others', async () => {
    const { publisher, requests, registry } = publisherWith();
    await publisher.publish({
      statuses: [status('a'), status('b', { spendNanoUsd: '-5' }), status('c')],
      retired: [],
      alerts: [],
    });
    expect(requests).toEqual([[['status-topic', ['a', 'c']]]]);
    expect(
      await registry.getSingleMetricAsString('nanobill_enforcement_account_failures_total'),
    ).toMatch(/stage="publish"} 1/);
  });
});
