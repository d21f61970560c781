import type { Logger } from '@nanobill/observability';
import type { EnforcementMetrics } from './metrics.js';

/** Runs `work` for one account, row or event; a throw is reported and counted, not passed on. */
export type Isolated = (stage: string, subject: string, work: () => void) => void;

/** One bad account, row or event never stops the others: reported, counted, skipped. */
export function isolation(metrics: EnforcementMetrics, logger: Logger): Isolated {
  return (stage, subject, work) => {
    try {
      work();
    } catch (err) {
      metrics.failures.inc({ stage });
      logger.error({ err, stage, subject }, 'enforcement skipped one account, row or event');
    }
  };
}
