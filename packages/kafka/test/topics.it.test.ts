import { describe, expect, it } from 'vitest';
import { ensureTopics, topicConfigDrift } from '../src/index.js';
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

  it('reports the configs an existing topic lacks (it is never changed by ensureTopics)', async () => {
    const kafka = testKafka();
    const topic = uniqueName('it-topics-old');
    // Created by hand, or by an older nanobill, without the config nanobill now wants.
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const spec = {
      topic,
      numPartitions: 1,
      configs: { 'message.timestamp.type': 'LogAppendTime' },
    };
    await ensureTopics(kafka, [spec]);
    expect(await topicConfigDrift(kafka, [spec])).toEqual([
      { topic, name: 'message.timestamp.type', wanted: 'LogAppendTime', actual: 'CreateTime' },
    ]);
    const fresh = { ...spec, topic: uniqueName('it-topics-new') };
    await ensureTopics(kafka, [fresh]);
    expect(await topicConfigDrift(kafka, [fresh])).toEqual([]);
  });
});
