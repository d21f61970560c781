import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AccountHistory } from '@nanobill/attribution';
import { AccountSnapshot, ALERT_TYPES, type Alert, type AlertType } from '@nanobill/contract';
import type { DeliveryOutcome } from '@nanobill/webhooks';
import {
  afterAttempt,
  DeliveryQueue,
  type AttemptRecord,
  type DeliveryJob,
} from '../src/deliveries.js';
import type { RetryPolicy } from '@nanobill/retry';
import { ACCOUNT_ALERT_TYPES, deliveryUrl, destinationOf } from '../src/destination.js';
import { DlqWatch } from '../src/dlq-watch.js';

// Pure rules of the alerts worker (docs/contract.md §7): retries, the delivery queue, DLQ growth
// and where an alert goes. No Kafka, no ClickHouse, no HTTP.

const POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000 };
const AT = 1_700_000_000_000;

function job(alertId: string, overrides: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    alertId,
    accountId: 'acme',
    type: 'spend_threshold',
    url: 'https://hooks.example.com/nanobill',
    body: `{"alertId":"${alertId}"}`,
    attempt: 1,
    dueAtMs: AT,
    ...overrides,
  };
}

const OK: DeliveryOutcome = {
  ok: true,
  status: 204,
  error: null,
  durationMs: 12,
  retryable: false,
};
const HTTP_503: DeliveryOutcome = {
  ok: false,
  status: 503,
  error: 'HTTP 503',
  durationMs: 30,
  retryable: true,
};
const TIMEOUT: DeliveryOutcome = {
  ok: false,
  status: null,
  error: 'timeout',
  durationMs: 10_000,
  retryable: true,
};
const HTTP_400: DeliveryOutcome = {
  ok: false,
  status: 400,
  error: 'HTTP 400',
  durationMs: 8,
  retryable: false,
};

describe('afterAttempt', () => {
  it('a 2xx is delivered, whatever the attempt number', () => {
    for (const attempt of [1, 3, 5, 9]) {
      const j = job('a1', { attempt });
      expect(afterAttempt(j, OK, AT, POLICY, () => 0.5)).toEqual({
        job: j,
        attemptedAtMs: AT,
        outcome: 'delivered',
        result: OK,
        nextAttemptAtMs: null,
      });
    }
  });

  it('a retryable failure is retried with exponential, capped, jittered backoff', () => {
    const retry = (attempt: number, draw: number, result = HTTP_503) =>
      afterAttempt(job('a1', { attempt }), result, AT, POLICY, () => draw);
    // attempt 1: ceiling 1 s; half of it.
    expect(retry(1, 0.5)).toEqual({
      job: job('a1'),
      attemptedAtMs: AT,
      outcome: 'retrying',
      result: HTTP_503,
      nextAttemptAtMs: AT + 500,
    });
    // attempt 3: ceiling 4 s.
    expect(retry(3, 0.5).nextAttemptAtMs).toBe(AT + 2_000);
    expect(retry(4, 0.25, TIMEOUT)).toMatchObject({
      outcome: 'retrying',
      result: TIMEOUT,
      nextAttemptAtMs: AT + 2_000,
    });
    // A draw of 0 still waits one millisecond: the next attempt is always later.
    expect(retry(1, 0).nextAttemptAtMs).toBe(AT + 1);
  });

  it('the delay is capped by maxDelayMs', () => {
    const policy: RetryPolicy = { maxAttempts: 20, baseDelayMs: 1_000, maxDelayMs: 60_000 };
    const record = afterAttempt(job('a1', { attempt: 15 }), HTTP_503, AT, policy, () => 0.999999);
    expect(record.outcome).toBe('retrying');
    // ceiling min(60 s, 1 s × 2^14) = 60 s; ⌊0.999999 × 60000⌋ = 59999.
    expect(record.nextAttemptAtMs).toBe(AT + 59_999);
  });

  it('a failure that will not pass is abandoned at once', () => {
    expect(afterAttempt(job('a1'), HTTP_400, AT, POLICY, () => 0.5)).toEqual({
      job: job('a1'),
      attemptedAtMs: AT,
      outcome: 'abandoned',
      result: HTTP_400,
      nextAttemptAtMs: null,
    });
  });

  it('a retryable failure is abandoned at the last attempt, retried before it', () => {
    expect(afterAttempt(job('a1', { attempt: 4 }), HTTP_503, AT, POLICY, () => 0.5).outcome).toBe(
      'retrying',
    );
    for (const attempt of [5, 6]) {
      expect(afterAttempt(job('a1', { attempt }), TIMEOUT, AT, POLICY, () => 0.5)).toMatchObject({
        outcome: 'abandoned',
        nextAttemptAtMs: null,
      });
    }
    // maxAttempts 1: no retry at all.
    const once: RetryPolicy = { ...POLICY, maxAttempts: 1 };
    expect(afterAttempt(job('a1'), HTTP_503, AT, once, () => 0.5).outcome).toBe('abandoned');
  });

  it('property: the outcome follows ok, retryable and the attempt number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.boolean(),
        fc.boolean(),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 2_000_000_000_000 }),
        (maxAttempts, attempt, baseDelayMs, extra, ok, retryable, draw, atMs) => {
          const policy: RetryPolicy = {
            maxAttempts,
            baseDelayMs,
            maxDelayMs: Math.max(1, baseDelayMs) + extra - 1,
          };
          const result: DeliveryOutcome = {
            ok,
            status: ok ? 200 : 500,
            error: ok ? null : 'HTTP 500',
            durationMs: 1,
            retryable,
          };
          const j = job('p', { attempt });
          const record = afterAttempt(j, result, atMs, policy, () => draw);
          expect(record.job).toBe(j);
          expect(record.result).toBe(result);
          expect(record.attemptedAtMs).toBe(atMs);
          if (ok) {
            expect(record.outcome).toBe('delivered');
            expect(record.nextAttemptAtMs).toBeNull();
          } else if (retryable && attempt < maxAttempts) {
            expect(record.outcome).toBe('retrying');
            const next = record.nextAttemptAtMs!;
            expect(next).toBeGreaterThan(atMs);
            expect(next).toBeLessThanOrEqual(atMs + policy.maxDelayMs);
            expect(Number.isSafeInteger(next)).toBe(true);
          } else {
            expect(record.outcome).toBe('abandoned');
            expect(record.nextAttemptAtMs).toBeNull();
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('DeliveryQueue', () => {
  const retrying = (j: DeliveryJob, nextAttemptAtMs: number): AttemptRecord => ({
    job: j,
    attemptedAtMs: j.dueAtMs,
    outcome: 'retrying',
    result: HTTP_503,
    nextAttemptAtMs,
  });
  const settled = (j: DeliveryJob, outcome: 'delivered' | 'abandoned'): AttemptRecord => ({
    job: j,
    attemptedAtMs: j.dueAtMs,
    outcome,
    result: outcome === 'delivered' ? OK : HTTP_400,
    nextAttemptAtMs: null,
  });

  it('holds one job per alert id, waiting or in flight', () => {
    const q = new DeliveryQueue();
    expect(q.size).toBe(0);
    expect(q.add(job('a1'))).toBe(true);
    // Another job for the same alert (e.g. a redelivered message): ignored.
    expect(q.add(job('a1', { url: 'https://other.example.com/', attempt: 3 }))).toBe(false);
    expect(q.size).toBe(1);

    const [inFlight] = q.due(AT, 10);
    expect(inFlight).toEqual(job('a1'));
    expect(q.size).toBe(1);
    // In flight: still not added again, and not handed out twice.
    expect(q.add(job('a1'))).toBe(false);
    expect(q.due(AT + 1_000_000, 10)).toEqual([]);
    expect(q.size).toBe(1);

    q.settle(settled(inFlight!, 'delivered'));
    expect(q.size).toBe(0);
    expect(q.due(AT + 1_000_000, 10)).toEqual([]);
  });

  it('hands out the jobs whose time has come, at most `limit`, in the order added', () => {
    const q = new DeliveryQueue();
    q.add(job('late', { dueAtMs: AT + 100 }));
    q.add(job('b', { dueAtMs: AT - 10 }));
    q.add(job('c', { dueAtMs: AT }));
    q.add(job('d', { dueAtMs: AT - 5 }));
    expect(q.size).toBe(4);

    expect(q.due(AT - 11, 10)).toEqual([]);
    expect(q.due(AT, 0)).toEqual([]);
    // A job not due yet does not hold up the ones behind it.
    expect(q.due(AT, 2).map((j) => j.alertId)).toEqual(['b', 'c']);
    expect(q.due(AT, 2).map((j) => j.alertId)).toEqual(['d']);
    expect(q.due(AT + 99, 2)).toEqual([]);
    expect(q.due(AT + 100, 2).map((j) => j.alertId)).toEqual(['late']);
    expect(q.size).toBe(4); // all in flight
  });

  it('a retry waits again with the next attempt number and the backoff time', () => {
    const q = new DeliveryQueue();
    q.add(job('a1'));
    const [first] = q.due(AT, 1);
    const record = afterAttempt(first!, HTTP_503, AT + 50, POLICY, () => 0.5);
    expect(record.nextAttemptAtMs).toBe(AT + 550);
    q.settle(record);
    expect(q.size).toBe(1);
    expect(q.add(job('a1'))).toBe(false);

    expect(q.due(AT + 549, 10)).toEqual([]);
    const [second] = q.due(AT + 550, 10);
    expect(second).toEqual({ ...job('a1'), attempt: 2, dueAtMs: AT + 550 });

    q.settle(retrying(second!, AT + 2_000));
    const [third] = q.due(AT + 2_000, 10);
    expect(third).toEqual({ ...job('a1'), attempt: 3, dueAtMs: AT + 2_000 });

    // Abandoned: gone, and a new job for the alert may be queued again.
    q.settle(settled(third!, 'abandoned'));
    expect(q.size).toBe(0);
    expect(q.due(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    expect(q.add(job('a1'))).toBe(true);
  });

  it('a release (attempt not recorded) retries later as the same attempt', () => {
    const q = new DeliveryQueue();
    q.add(job('a1', { attempt: 2 }));
    const [j] = q.due(AT, 1);
    q.release(j!, AT + 1_000);
    expect(q.size).toBe(1);
    expect(q.add(job('a1'))).toBe(false);
    expect(q.due(AT + 999, 1)).toEqual([]);
    expect(q.due(AT + 1_000, 1)).toEqual([{ ...job('a1'), attempt: 2, dueAtMs: AT + 1_000 }]);
  });

  it('property: every job is handed out once per attempt and never lost', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.nat(5),
            dueIn: fc.integer({ min: 0, max: 100 }),
            outcome: fc.constantFrom('delivered', 'retrying', 'abandoned', 'release'),
            limit: fc.integer({ min: 0, max: 4 }),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          const q = new DeliveryQueue();
          const inFlight = new Map<string, DeliveryJob>();
          const known = new Set<string>();
          let now = AT;
          for (const step of steps) {
            now += 10;
            const id = `a${step.id}`;
            expect(q.add(job(id, { dueAtMs: now + step.dueIn }))).toBe(!known.has(id));
            known.add(id);
            const handed = q.due(now, step.limit);
            expect(handed.length).toBeLessThanOrEqual(step.limit);
            for (const j of handed) {
              expect(j.dueAtMs).toBeLessThanOrEqual(now);
              expect(inFlight.has(j.alertId)).toBe(false);
              inFlight.set(j.alertId, j);
            }
            // Settle the oldest job in flight.
            const [first] = inFlight.values();
            if (first !== undefined) {
              inFlight.delete(first.alertId);
              if (step.outcome === 'release') q.release(first, now + step.dueIn);
              else if (step.outcome === 'retrying') q.settle(retrying(first, now + step.dueIn));
              else {
                q.settle(settled(first, step.outcome));
                known.delete(first.alertId);
              }
            }
            expect(q.size).toBe(known.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('DlqWatch', () => {
  const HOUR = 3_600_000;
  const T = Date.parse('2024-03-10T12:00:00.000Z');

  it('refuses a threshold or window that is not a positive integer', () => {
    for (const threshold of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new DlqWatch(threshold, HOUR)).toThrow(RangeError);
    }
    for (const windowMs of [0, -HOUR, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new DlqWatch(1, windowMs)).toThrow(RangeError);
    }
    expect(() => new DlqWatch(1, 1)).not.toThrow();
  });

  it('takes the first reading as the baseline, then alerts once per topic and window', () => {
    const w = new DlqWatch(5, HOUR);
    // However large, the first reading is only the baseline.
    expect(w.observe('billing.requests.dlq', 1_000n, T)).toBeUndefined();
    // Growth below the threshold.
    expect(w.observe('billing.requests.dlq', 1_004n, T + 60_000)).toBeUndefined();
    // Measured from the previous reading: +5 reaches the threshold.
    expect(w.observe('billing.requests.dlq', 1_009n, T + 120_000)).toEqual({
      alertId: 'dlq_growth:billing.requests.dlq:2024-03-10T12:00:00.000Z',
      grew: 5n,
      window: '2024-03-10T12:00:00.000Z',
    });
    // The same window: no second alert, however much it grows.
    expect(w.observe('billing.requests.dlq', 2_000n, T + HOUR - 1)).toBeUndefined();

    // Another topic has its own baseline and its own alert in the same window.
    expect(w.observe('billing.accounts.dlq', 7n, T + 180_000)).toBeUndefined();
    expect(w.observe('billing.accounts.dlq', 17n, T + 240_000)).toEqual({
      alertId: 'dlq_growth:billing.accounts.dlq:2024-03-10T12:00:00.000Z',
      grew: 10n,
      window: '2024-03-10T12:00:00.000Z',
    });

    // The next window alerts again.
    expect(w.observe('billing.requests.dlq', 2_006n, T + HOUR)).toEqual({
      alertId: 'dlq_growth:billing.requests.dlq:2024-03-10T13:00:00.000Z',
      grew: 6n,
      window: '2024-03-10T13:00:00.000Z',
    });
    // No growth, or a shrink (topic recreated): nothing.
    expect(w.observe('billing.requests.dlq', 2_006n, T + 2 * HOUR)).toBeUndefined();
    expect(w.observe('billing.requests.dlq', 3n, T + 2 * HOUR + 1)).toBeUndefined();
    // After the shrink the new reading is the reference.
    expect(w.observe('billing.requests.dlq', 8n, T + 2 * HOUR + 2)).toEqual({
      alertId: 'dlq_growth:billing.requests.dlq:2024-03-10T14:00:00.000Z',
      grew: 5n,
      window: '2024-03-10T14:00:00.000Z',
    });
  });

  it('windows are aligned on the epoch, not on the first alert', () => {
    const w = new DlqWatch(1, 15 * 60_000);
    w.observe('t', 0n, T);
    expect(w.observe('t', 1n, T + 14 * 60_000 + 59_999)?.window).toBe('2024-03-10T12:00:00.000Z');
    expect(w.observe('t', 2n, T + 15 * 60_000)?.window).toBe('2024-03-10T12:15:00.000Z');
  });

  it('handles offsets beyond 2^53 exactly', () => {
    const w = new DlqWatch(1, HOUR);
    const base = 2n ** 62n;
    w.observe('t', base, T);
    expect(w.observe('t', base + 1n, T)?.grew).toBe(1n);
  });
});

describe('destinationOf', () => {
  const OPS = 'https://ops.example.com/hook';
  const history = new AccountHistory();
  for (const s of [
    {
      schemaVersion: 1,
      accountId: 'acme',
      kind: 'org',
      plan: 'team',
      effectiveAt: '2024-01-01T00:00:00.000Z',
      seats: 1,
      members: ['alice'],
      alertWebhookUrl: 'https://acme.example.com/old',
    },
    {
      schemaVersion: 1,
      accountId: 'acme',
      kind: 'org',
      plan: 'team',
      effectiveAt: '2024-03-01T00:00:00.000Z',
      seats: 1,
      members: ['alice'],
      alertWebhookUrl: 'https://acme.example.com/new',
    },
    {
      schemaVersion: 1,
      accountId: 'alice',
      kind: 'user',
      plan: 'pro',
      effectiveAt: '2024-01-01T00:00:00.000Z',
      alertWebhookUrl: 'https://alice.example.com/hook',
    },
    {
      schemaVersion: 1,
      accountId: 'bob',
      kind: 'user',
      plan: 'free',
      effectiveAt: '2024-01-01T00:00:00.000Z',
    },
  ]) {
    history.add(AccountSnapshot.parse(s));
  }

  const alert = (type: AlertType, accountId?: string): Alert => ({
    schemaVersion: 1,
    alertId: `${type}:x`,
    type,
    severity: 'info',
    ...(accountId === undefined ? {} : { accountId }),
    message: 'm',
    details: {},
    createdAt: '2024-03-10T12:00:00.000Z',
  });

  it('account alerts go to the account webhook in force now', () => {
    expect(
      destinationOf(
        alert('spend_threshold', 'acme'),
        history,
        new Date('2024-03-10T00:00:00Z'),
        OPS,
      ),
    ).toBe('https://acme.example.com/new');
    expect(
      destinationOf(
        alert('spend_threshold', 'acme'),
        history,
        new Date('2024-02-29T23:59:59Z'),
        OPS,
      ),
    ).toBe('https://acme.example.com/old');
    expect(
      destinationOf(
        alert('attribution_fallback', 'alice'),
        history,
        new Date('2024-03-10T00:00:00Z'),
        OPS,
      ),
    ).toBe('https://alice.example.com/hook');
  });

  it('account alerts without a webhook, account or snapshot go nowhere (not to ops)', () => {
    const now = new Date('2024-03-10T00:00:00Z');
    expect(destinationOf(alert('spend_threshold', 'bob'), history, now, OPS)).toBeUndefined();
    expect(destinationOf(alert('spend_threshold', 'nobody'), history, now, OPS)).toBeUndefined();
    expect(destinationOf(alert('spend_threshold'), history, now, OPS)).toBeUndefined();
    // Before the account's first snapshot.
    expect(
      destinationOf(
        alert('spend_threshold', 'acme'),
        history,
        new Date('2023-12-31T00:00:00Z'),
        OPS,
      ),
    ).toBeUndefined();
  });

  it('operations alerts go to the ops webhook, or nowhere without one', () => {
    const now = new Date('2024-03-10T00:00:00Z');
    const ops = ALERT_TYPES.filter((t) => !ACCOUNT_ALERT_TYPES.has(t));
    expect([...ops].sort()).toEqual([
      'account_decision_failed',
      'books_out_of_balance',
      'cost_endpoint_failing',
      'dlq_growth',
      'storage_refused',
      'unpriced_requests',
      'webhook_delivery_failing',
    ]);
    for (const type of ops) {
      // Even with an account that has a webhook: on-call's, not the account's.
      expect(destinationOf(alert(type, 'acme'), history, now, OPS)).toBe(OPS);
      expect(destinationOf(alert(type), history, now, OPS)).toBe(OPS);
      expect(destinationOf(alert(type, 'acme'), history, now, undefined)).toBeUndefined();
    }
    expect([...ACCOUNT_ALERT_TYPES].sort()).toEqual(['attribution_fallback', 'spend_threshold']);
  });
});

describe('DlqWatch.unraise', () => {
  it('lets the next reading raise the same growth again when raising it failed', () => {
    const watch = new DlqWatch(1, 60_000);
    expect(watch.observe('dlq', 10n, 0)).toBeUndefined();
    const growth = watch.observe('dlq', 13n, 1_000)!;
    expect(growth).toMatchObject({ grew: 3n });
    watch.unraise('dlq', growth);
    expect(watch.observe('dlq', 13n, 2_000)).toEqual(growth);
    expect(watch.observe('dlq', 14n, 3_000)).toBeUndefined(); // raised now: once per window
  });
});

describe('deliveryUrl: where a logged alert is delivered', () => {
  const ops = 'https://hooks.example/ops/secret-token';
  it("an account alert goes to the URL logged (the account's webhook then)", () => {
    expect(deliveryUrl('spend_threshold', 'https://acme.example/hook', ops)).toBe(
      'https://acme.example/hook',
    );
  });
  it('an operations alert goes to the configured URL: the log keeps its origin only', () => {
    expect(deliveryUrl('dlq_growth', 'https://hooks.example', ops)).toBe(ops);
    expect(deliveryUrl('dlq_growth', 'https://hooks.example', undefined)).toBeUndefined();
  });
  it('nowhere when nothing was logged as its destination', () => {
    expect(deliveryUrl('spend_threshold', null, ops)).toBeUndefined();
    expect(deliveryUrl('dlq_growth', null, ops)).toBeUndefined();
  });
});
