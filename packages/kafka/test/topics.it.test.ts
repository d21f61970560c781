import { describe, expect, it } from 'vitest';
import { ensureTopics } from '../src/index.js';
import { testKafka, uniqueName } from '@nanobill/testkit';

describe('ensureTopics (real broker)', () => {
  it('processes starting together all get usable topics: no "already exists" failure, leaders elected', async () => {
    const specs = [
      { topic: uniqueName('it-topics-a'), numPartitions: 6 },
      {
        topic: uniqueName('it-topics-b'),
        numPartitions: 1,
        configs: { 'cleanup.policy': 'compact' },
      },
    ];
    const starts = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const kafka = testKafka();
        await ensureTopics(kafka, specs);
        // What a service does next: read offsets of every partition (needs their leaders).
        const admin = kafka.admin();
        await admin.connect();
        try {
          return await Promise.all(specs.map((s) => admin.fetchTopicOffsets(s.topic)));
        } finally {
          await admin.disconnect();
        }
      }),
    );
    for (const offsets of starts) expect(offsets.map((o) => o.length)).toEqual([6, 1]);
  });
});
