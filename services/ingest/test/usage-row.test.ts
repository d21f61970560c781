import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { RoutedRequestEvent } from '@nanobill/contract';
import { firstPerRequestId, toUsageRow } from '../src/index.js';

const event: RoutedRequestEvent = {
  schemaVersion: 1,
  requestId: 'req-1',
  timestamp: '2026-11-25T12:00:00.123Z',
  userId: 'user-1',
  provider: 'hf-inference',
  model: 'black-forest-labs/FLUX.1-dev',
  task: 'text-to-image',
  billingMode: 'routed',
  status: 200,
  computeTimeMs: 10_000,
  hardware: 'nvidia-a10g',
};

describe('toUsageRow', () => {
  it('maps every contract field and keeps the source position', () => {
    expect(toUsageRow(event, { partition: 3, offset: '42' })).toEqual({
      request_id: 'req-1',
      event_time: '2026-11-25T12:00:00.123Z',
      user_id: 'user-1',
      bill_to: null,
      provider: 'hf-inference',
      model: 'black-forest-labs/FLUX.1-dev',
      provider_model_id: null,
      task: 'text-to-image',
      billing_mode: 'routed',
      provider_request_id: null,
      status: 200,
      input_tokens: null,
      output_tokens: null,
      compute_time_ms: 10_000,
      hardware: 'nvidia-a10g',
      extra: '{}',
      schema_version: 1,
      source_partition: 3,
      source_offset: '42',
    });
  });

  it('keeps unknown fields as JSON in `extra`', () => {
    const row = toUsageRow(
      { ...event, routerRegion: 'eu', trace: { id: 1 } } as RoutedRequestEvent,
      {
        partition: 0,
        offset: '0',
      },
    );
    expect(JSON.parse(row.extra)).toEqual({ routerRegion: 'eu', trace: { id: 1 } });
  });
});

describe('firstPerRequestId', () => {
  it('keeps exactly one row per request id, the first, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<string>('a', 'b', 'c', 'd'), { maxLength: 50 }),
        (ids) => {
          const rows = ids.map((id, i) =>
            toUsageRow({ ...event, requestId: id }, { partition: 0, offset: String(i) }),
          );
          const kept = firstPerRequestId(rows);
          expect(kept.map((r) => r.request_id)).toEqual([...new Set(ids)]);
          for (const row of kept)
            expect(row.source_offset).toBe(String(ids.indexOf(row.request_id)));
        },
      ),
    );
  });
});
