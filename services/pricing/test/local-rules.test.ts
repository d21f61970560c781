import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatUsd, hfInferenceCostNano } from '@nanobill/money';
import type { RoutedRequestEvent } from '@nanobill/contract';
import { PendingRequests, priceComputeTime } from '../src/index.js';
import { unpricedAlertId } from '../src/round.js';

const event: RoutedRequestEvent = {
  schemaVersion: 1,
  requestId: 'r1',
  timestamp: '2026-11-25T12:00:00.000Z',
  userId: 'u1',
  provider: 'groq',
  model: 'openai/gpt-oss-120b',
  task: 'conversational',
  billingMode: 'routed',
  providerRequestId: 'groq-1',
  status: 200,
};

const HOUR = 3_600;

describe('priceComputeTime', () => {
  const hardware = new Map([['nvidia-a10g', '0.00012']]);
  const hf = { ...event, provider: 'hf-inference', computeTimeMs: 10_000, hardware: 'nvidia-a10g' };

  it('10 s on a $0.00012/s machine costs $0.0012 = 1,200,000 nano-USD (the seed)', () => {
    expect(priceComputeTime(hf, hardware, HOUR)).toEqual({ ok: true, cost: 1_200_000n });
  });
  it('rounds once, half-up, to the nano-USD', () => {
    // 1 ms × 0.0000083 USD/s = 8.3 nano-USD → 8; 5 ms × 0.0000001 USD/s = 0.5 → 1
    expect(
      priceComputeTime(
        { ...hf, computeTimeMs: 1, hardware: 'cpu' },
        new Map([['cpu', '0.0000083']]),
        HOUR,
      ),
    ).toEqual({ ok: true, cost: 8n });
    expect(
      priceComputeTime(
        { ...hf, computeTimeMs: 5, hardware: 'cpu' },
        new Map([['cpu', '0.0000001']]),
        HOUR,
      ),
    ).toEqual({ ok: true, cost: 1n });
  });
  it('refuses unknown hardware and missing compute time with a reason', () => {
    expect(priceComputeTime({ ...hf, hardware: 'tpu' }, hardware, HOUR)).toEqual({
      ok: false,
      reason: 'no price configured for hardware "tpu"',
      aboveCeiling: false,
    });
    expect(priceComputeTime({}, hardware, HOUR).ok).toBe(false);
  });
  it('books the ceiling itself, and refuses one millisecond more with the costs in the reason', () => {
    expect(priceComputeTime({ ...hf, computeTimeMs: 3_600_000 }, hardware, HOUR)).toEqual({
      ok: true,
      cost: 432_000_000n, // 3,600 s × $0.00012
    });
    expect(priceComputeTime({ ...hf, computeTimeMs: 3_600_001 }, hardware, HOUR)).toEqual({
      ok: false,
      aboveCeiling: true,
      reason:
        'cost $0.43200012 above the ceiling $0.432 (3600001 ms of nvidia-a10g; at most 3600 s per request)',
    });
  });
  it('any compute time the contract accepts: booked exactly, or refused above the ceiling, never wrapped', () => {
    const prices = ['0.00012', '0.0000083', '1234.5', '0.000000001'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom(...prices),
        fc.integer({ min: 1, max: 30 * 24 * 3600 }),
        (computeTimeMs, price, maxSeconds) => {
          const result = priceComputeTime(
            { computeTimeMs, hardware: 'h' },
            new Map([['h', price]]),
            maxSeconds,
          );
          const exact = hfInferenceCostNano(computeTimeMs, price);
          if (computeTimeMs <= maxSeconds * 1000) {
            return result.ok && result.cost === exact && exact >= 0n;
          }
          return (
            !result.ok &&
            result.aboveCeiling &&
            result.reason.startsWith(`cost ${formatUsd(exact)} above`)
          );
        },
      ),
    );
  });
});

describe('PendingRequests', () => {
  const row = (id: string, firstSeen: string, partition = 0) => ({
    provider: 'groq',
    provider_request_id: id,
    request_id: `r-${id}`,
    event_time: '2026-11-25T12:00:00.000Z',
    user_id: 'u1',
    bill_to: null,
    model: 'm',
    task: 't',
    first_seen_at: firstSeen,
    source_partition: partition,
    compute_time_ms: null,
    hardware: null,
    input_tokens: null,
    output_tokens: null,
  });

  it('keeps the earliest first-seen time of a request seen twice', () => {
    const pending = new PendingRequests();
    pending.add(row('a', '2026-11-25T12:05:00.000Z'));
    pending.add(row('a', '2026-11-25T12:01:00.000Z'));
    pending.add(row('a', '2026-11-25T12:09:00.000Z'));
    expect(pending.size()).toBe(1);
    expect(pending.get('groq', 'a')?.first_seen_at).toBe('2026-11-25T12:01:00.000Z');
  });

  it('lists the overdue requests with their last problem, and forgets resolved and dropped ones', () => {
    const pending = new PendingRequests();
    pending.add(row('a', '2026-11-25T12:00:00.000Z', 0));
    pending.add(row('b', '2026-11-25T13:00:00.000Z', 1));
    pending.noteProblem('groq', 'a', 'invalid cost: negative (-5)');
    expect(pending.overdue('groq', Date.parse('2026-11-25T12:30:00.000Z'))).toEqual([
      {
        row: {
          provider: 'groq',
          provider_request_id: 'a',
          request_id: 'r-a',
          first_seen_at: '2026-11-25T12:00:00.000Z',
          source_partition: 0,
        },
        problem: 'invalid cost: negative (-5)',
      },
    ]);
    pending.dropPartitions(new Set([1]));
    expect(pending.ids('groq')).toEqual(['a']);
    pending.resolve(row('a', '2026-11-25T12:00:00.000Z', 0));
    expect(pending.size()).toBe(0);
    expect(pending.providers()).toEqual([]);
  });
});

describe('unpricedAlertId', () => {
  const at = new Date('2026-11-25T12:34:56.789Z');
  const rows = (...ids: string[]) => ids.map((provider_request_id) => ({ provider_request_id }));

  it('is the same for the same requests, whatever their order (a re-sent alert)', () => {
    expect(unpricedAlertId('groq', at, rows('a', 'b'))).toBe(
      unpricedAlertId('groq', at, rows('b', 'a')),
    );
    expect(unpricedAlertId('groq', at, rows('a'))).toMatch(
      /^unpriced_requests:groq:2026-11-25T12:34:[0-9a-f]{16}$/,
    );
  });

  it('differs for two rounds of one minute that declare different requests', () => {
    expect(unpricedAlertId('groq', at, rows('a'))).not.toBe(
      unpricedAlertId('groq', new Date(at.getTime() + 1_000), rows('c')),
    );
  });
});
