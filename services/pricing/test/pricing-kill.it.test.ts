import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openClickHouse } from '@nanobill/clickhouse';
import { ensureTopics } from '@nanobill/kafka';
import { trueCostNanoUsd } from '@nanobill/provider-simulator';
import { produce, queryValue, spawnTs, tempDir, testKafka, uniqueName } from '@nanobill/testkit';
import { asMessages, routedEvents, simulatedProviders } from './support.js';

const CHILD = fileURLToPath(new URL('./fixtures/pricing-child.ts', import.meta.url));

const startChild = (env: Record<string, string>) => spawnTs(CHILD, { ...process.env, ...env });

describe('pricing SIGKILLed in the middle of a round', () => {
  it('restarts and leaves the ledger exact: every request once, at its true cost', async () => {
    const { simulator, file } = await simulatedProviders({
      'sim-kill': { faults: [{ kind: 'slow', delayMs: 400 }], concurrency: 1 },
    });
    try {
      const kafka = testKafka();
      const topics = { requests: uniqueName('it-requests'), alerts: uniqueName('it-alerts') };
      await ensureTopics(kafka, [
        { topic: topics.requests, numPartitions: 3 },
        { topic: topics.alerts, numPartitions: 1 },
      ]);
      const events = routedEvents('sim-kill', 25_000);
      await produce(kafka, topics.requests, asMessages(events));
      const dataDir = tempDir();
      const providersFile = join(dataDir, 'providers.json');
      writeFileSync(providersFile, JSON.stringify(file));
      const env = {
        DATA_DIR: dataDir,
        NANOBILL_PROVIDERS_FILE: providersFile,
        TOPIC_REQUESTS: topics.requests,
        TOPIC_ALERTS: topics.alerts,
        GROUP: uniqueName('pricing-kill'),
        EXPECTED: String(events.length),
      };

      const first = startChild(env);
      while (simulator.calls().length < 2) {
        if (first.child.exitCode !== null)
          throw new Error(`child exited early: ${(await first.exited).stderr}`);
        await sleep(20);
      }
      first.child.kill('SIGKILL'); // the first answer is in, the second call is on its way
      expect((await first.exited).signal).toBe('SIGKILL');
      const callsBeforeKill = simulator.calls().length;

      const second = startChild({ ...env, EXPECTED: '1' });
      const done = await second.exited;
      expect(done.code, done.stderr).toBe(0);
      const report = JSON.parse(done.stdout.trim().split('\n').at(-1)!) as {
        priced: number;
        stillPending: number;
      };
      expect(report.stillPending).toBe(0);
      console.log(
        `pricing kill test: ${callsBeforeKill} calls before the kill, ${report.priced} requests priced after the restart`,
      );

      const clickhouse = openClickHouse({ dataDir });
      try {
        const total = events.reduce(
          (sum, e) => sum + trueCostNanoUsd('sim-kill', e.providerRequestId!),
          0n,
        );
        expect(
          BigInt(
            await queryValue(clickhouse, 'SELECT sum(toInt128(cost_nano_usd)) FROM billing.ledger'),
          ),
        ).toBe(total);
        expect(Number(await queryValue(clickhouse, 'SELECT count() FROM billing.ledger'))).toBe(
          events.length,
        );
        expect(
          Number(await queryValue(clickhouse, 'SELECT count() FROM billing.ledger_entries')),
        ).toBe(events.length);
        // The restarted instance priced requests it reloaded from billing.pricing_pending: their
        // usage survives the reload, and the hourly rollup matches the ledger.
        const inputTokens = events.reduce((sum, e) => sum + BigInt(e.usage?.inputTokens ?? 0), 0n);
        expect(inputTokens).toBeGreaterThan(0n);
        expect(
          await queryValue(
            clickhouse,
            `SELECT (toString(sum(requests)), toString(sum(input_tokens)), toString(sum(toInt128(cost_nano_usd))))
             FROM billing.usage_hourly`,
          ),
        ).toEqual([String(events.length), String(inputTokens), String(total)]);
      } finally {
        await clickhouse.close();
      }
    } finally {
      await simulator.close();
    }
  });
});
