import { afterAll, describe, expect, it } from 'vitest';
import * as testkit from '../src/index.js';
import type { TestBed } from '../src/index.js';

// The testkit's own seams: the test bed (real broker, embedded ClickHouse), the ledger row
// builder, and the barrier.
describe('ledgerEntry', () => {
  it('bills a user’s own request to the user, another user’s to the org, each with ids of its own', () => {
    const own = testkit.ledgerEntry({ account: 'alice', nano: 5n, at: '2026-10-01T00:00:00.000Z' });
    const member = testkit.ledgerEntry({
      account: 'acme',
      user: 'alice',
      nano: 7,
      at: '2026-10-01T00:00:00.000Z',
      pricedAt: '2026-10-01T00:01:00.000Z',
    });
    expect(own).toMatchObject({
      user_id: 'alice',
      billed_account: 'alice',
      attribution: 'user',
      bill_to: null,
      cost_nano_usd: '5',
      priced_at: '2026-10-01T00:00:00.000Z',
    });
    expect(member).toMatchObject({
      user_id: 'alice',
      billed_account: 'acme',
      attribution: 'org',
      bill_to: 'acme',
      cost_nano_usd: '7',
      priced_at: '2026-10-01T00:01:00.000Z',
    });
    expect(member.request_id).not.toBe(own.request_id);
    expect(member.provider_request_id).not.toBe(own.provider_request_id);
  });

  it('takes other columns as given', () => {
    const given = { provider: 'hf-inference', request_id: 'fixed', input_tokens: 3 };
    const row = testkit.ledgerEntry({
      account: 'a',
      nano: '1',
      at: '2026-10-01T00:00:00.000Z',
      ...given,
    });
    expect(row).toMatchObject(given);
  });
});

describe('testBed (real broker, embedded ClickHouse)', () => {
  let bed: TestBed<'events' | 'facts'> | undefined;
  afterAll(async () => {
    await bed?.close();
  });

  it('creates its topics with their partitions (compacted where asked) and a migrated ClickHouse', async () => {
    bed = await testkit.testBed({ events: 3, facts: { partitions: 1, compact: true } });
    expect(bed.topics.events).toMatch(/^it-events-/);
    const admin = bed.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({
        topics: [bed.topics.events, bed.topics.facts],
      });
      const partitions = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
      expect(partitions).toEqual({ [bed.topics.events]: 3, [bed.topics.facts]: 1 });
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: bed.topics.facts, configNames: ['cleanup.policy'] }],
      });
      expect(configs.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    } finally {
      await admin.disconnect();
    }
    await testkit.insertLedgerEntries(bed.clickhouse, [
      testkit.ledgerEntry({ account: 'bed', nano: 2n, at: new Date().toISOString() }),
      testkit.ledgerEntry({ account: 'bed', nano: 3n, at: new Date().toISOString() }),
    ]);
    expect(
      await testkit.queryValue(
        bed.clickhouse,
        "SELECT toString(sum(cost_nano_usd)) FROM billing.ledger WHERE billed_account = 'bed'",
      ),
    ).toBe('5');
  });

  it('sendBarrier puts one message on every partition', async () => {
    const events = bed!.topics.events;
    const sent = await testkit.sendBarrier(bed!.kafka, events, (p) => ({
      key: `b${p}`,
      value: `p${p}`,
    }));
    expect(sent.map((m) => m.value)).toEqual(['p0', 'p1', 'p2']);
    const admin = bed!.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(events);
      expect(offsets.map((o) => [o.partition, o.high]).sort()).toEqual([
        [0, '1'],
        [1, '1'],
        [2, '1'],
      ]);
    } finally {
      await admin.disconnect();
    }
  });
});
