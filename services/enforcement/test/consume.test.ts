import { describe, expect, it } from 'vitest';
import { requestClassifier, type RoutedRequestEvent } from '@nanobill/contract';
import { RecentCosts } from '@nanobill/enforcement';
import type { KafkaMessage } from '@nanobill/kafka';
import { createMetricsRegistry } from '@nanobill/observability';
import { quietLogger } from '@nanobill/testkit';
import { eventHandler } from '../src/consume.js';
import type { Decisions, SeenRequest } from '../src/enforcer.js';
import { isolation } from '../src/isolated.js';
import { createEnforcementMetrics } from '../src/metrics.js';
import { llmEvent } from './support.js';

const NOW = new Date('2026-11-26T08:00:00.000Z');
const MIN = 60_000;

const message = (value: string, offset: number, appendedAt = NOW): KafkaMessage => ({
  key: null,
  value: Buffer.from(value),
  timestamp: String(appendedAt.getTime()),
  attributes: 0,
  offset: String(offset),
  headers: {},
});

describe('eventHandler: one batch of request events', () => {
  it('estimates the events pricing will price, counts the others by outcome, publishes what changed', async () => {
    const seen: SeenRequest[] = [];
    const decided: Decisions = { statuses: [], retired: [], alerts: [] };
    const published: Array<[Decisions, number | undefined]> = [];
    const registry = createMetricsRegistry();
    const metrics = createEnforcementMetrics(registry);
    const handle = eventHandler({
      classify: requestClassifier({ providers: ['groq'] }),
      enforcer: { seen: (request) => void seen.push(request), decide: () => decided },
      sources: {
        hardwarePrice: () => undefined,
        tokenPricing: () => undefined,
        recent: new RecentCosts(),
        ceiling: () => undefined,
      },
      publish: async (decisions, causedAt) => void published.push([decisions, causedAt]),
      isolated: isolation(metrics, quietLogger()),
      metrics,
      now: () => NOW,
      priceMemoryMs: 10 * MIN,
    });
    const fresh = llmEvent('alice', new Date(NOW.getTime() - MIN));
    const old = llmEvent('bob', new Date(NOW.getTime() - 20 * MIN));
    const customKey: RoutedRequestEvent = {
      ...llmEvent('carol', NOW),
      billingMode: 'custom_key',
    };
    const appended = new Date(NOW.getTime() - 1_000);
    await handle({
      topic: 'requests',
      partition: 0,
      messages: [
        message('not json', 0),
        message(JSON.stringify(old), 1),
        message(JSON.stringify(customKey), 2),
        message(JSON.stringify(fresh), 3, appended),
      ],
    });

    expect(seen).toEqual([
      expect.objectContaining({ userId: 'alice', timestamp: fresh.timestamp }),
    ]);
    expect(published).toEqual([[decided, appended.getTime()]]);
    const events = await registry.getSingleMetricAsString('nanobill_enforcement_events_total');
    for (const outcome of ['invalid', 'too_old', 'skip_custom_key', 'estimated']) {
      expect(events).toContain(`outcome="${outcome}"} 1`);
    }
  });
});
