import { describe, expect, it } from 'vitest';
import { CROSSING_KINDS, ESTIMATE_SOURCES } from '@nanobill/enforcement';
import { createMetricsRegistry } from '@nanobill/observability';
import { createEnforcementMetrics } from '../src/metrics.js';

/** The help text of one metric of a fresh registry, as /metrics shows it. */
async function helpOf(name: string): Promise<string> {
  const registry = createMetricsRegistry();
  createEnforcementMetrics(registry);
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  expect(metric, name).toBeDefined();
  return metric!.help;
}

// Label values that come from the rule packages' closed lists: the help text names each one, so
// whoever reads /metrics (or builds a panel) sees every value the code can emit.
describe('enforcement metric help texts name the label values emitted', () => {
  it.each([
    ['nanobill_enforcement_threshold_alerts_total', CROSSING_KINDS],
    ['nanobill_enforcement_estimates_total', ESTIMATE_SOURCES],
  ] as const)('%s', async (name, values) => {
    const help = await helpOf(name);
    expect(values.length).toBeGreaterThan(0);
    expect(values.filter((value) => !help.includes(value))).toEqual([]);
  });
});
