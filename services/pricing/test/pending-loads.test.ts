import { describe, expect, it } from 'vitest';
import { ComponentHealth } from '@nanobill/observability';
import { quietLogger, waitFor } from '@nanobill/testkit';
import { PENDING_LOADS_COMPONENT, PendingLoads, PendingRequests } from '../src/index.js';
import type { PendingRow } from '@nanobill/tables';

function row(id: string, partition: number, firstSeenAt = '2026-11-25T10:00:00.000Z'): PendingRow {
  return {
    provider: 'groq',
    provider_request_id: id,
    request_id: `r-${id}`,
    event_time: '2026-11-25T09:59:00.000Z',
    user_id: 'u1',
    bill_to: null,
    model: 'm',
    task: 'chat',
    first_seen_at: firstSeenAt,
    source_partition: partition,
    compute_time_ms: null,
    hardware: null,
    input_tokens: null,
    output_tokens: null,
  };
}

/** A load answered (or failed) by the test, one call at a time. */
function controlledLoads() {
  const calls: Array<{
    partitions: number[];
    answer(rows: PendingRow[]): void;
    fail(error: Error): void;
  }> = [];
  const load = (partitions: number[]) =>
    new Promise<PendingRow[]>((answer, fail) => calls.push({ partitions, answer, fail }));
  const next = (n: number) => waitFor(`load call ${n}`, async () => calls[n - 1], 5_000, 5);
  return { load, calls, next };
}

const inOrder = () => {
  let turn: Promise<unknown> = Promise.resolve();
  return (work: () => Promise<void>) => {
    const result = turn.then(work);
    turn = result.catch(() => undefined);
    return result;
  };
};

function setup(inTurn = inOrder()) {
  const pending = new PendingRequests();
  const health = new ComponentHealth();
  const loads = controlledLoads();
  const gauge = { held: 0 };
  const partitions = new PendingLoads({
    pending,
    load: loads.load,
    inTurn,
    health,
    logger: quietLogger(),
    delayMs: { first: 1, max: 4 },
    onHeld: (held) => (gauge.held = held),
  });
  const ids = () => pending.ids('groq').sort();
  return { pending, health, loads, partitions, ids, gauge };
}

describe('PendingLoads', () => {
  it('holds a partition back until its load works: consumed requests wait, then join the loaded ones', async () => {
    const { loads, partitions, ids } = setup();
    partitions.assign([0, 1]);
    partitions.accept(row('fresh-0', 0, '2026-11-25T11:00:00.000Z'));
    partitions.accept(row('stored-0', 0, '2026-11-25T11:00:00.000Z')); // redelivered, seen later
    const first = await loads.next(1);
    expect(first.partitions).toEqual([0, 1]);
    expect(ids()).toEqual([]);
    first.answer([row('stored-0', 0), row('stored-1', 1)]);
    await waitFor('the merge', async () => (ids().length > 0 ? true : undefined));
    expect(ids()).toEqual(['fresh-0', 'stored-0', 'stored-1']);
    // Loaded: a new request of partition 0 is pending at once.
    partitions.accept(row('later-0', 0));
    expect(ids()).toContain('later-0');
    await partitions.stop();
  });

  it('keeps the earliest first-seen time of a request stored earlier and redelivered meanwhile', async () => {
    const { loads, partitions, pending } = setup();
    partitions.assign([0]);
    partitions.accept(row('x', 0, '2026-11-25T11:00:00.000Z'));
    (await loads.next(1)).answer([row('x', 0, '2026-11-25T10:00:00.000Z')]);
    await waitFor('the merge', async () => (pending.size() === 1 ? true : undefined));
    expect(pending.oldestFirstSeenMs('groq')).toBe(Date.parse('2026-11-25T10:00:00.000Z'));
    await partitions.stop();
  });

  it('a failed load: /readyz names the partitions and the error, it is retried, healthy once loaded', async () => {
    const { loads, partitions, health, ids, gauge } = setup();
    partitions.assign([2, 0]);
    partitions.accept(row('held-0', 0));
    partitions.accept(row('held-2', 2));
    // Stored, in no pending gauge yet: the held gauge shows them.
    expect(gauge.held).toBe(2);
    (await loads.next(1)).fail(new Error('connect ECONNREFUSED'));
    await waitFor('the problem reported', async () =>
      health.problems().length ? true : undefined,
    );
    expect(health.problems()).toEqual([
      [
        PENDING_LOADS_COMPONENT,
        expect.stringMatching(
          /^pending requests of partitions 0, 2 not loaded: attempt 1 failed: Error: connect ECONNREFUSED; retrying in 0 s$/,
        ),
      ],
    ]);
    (await loads.next(2)).fail(new Error('connect ECONNREFUSED'));
    const third = await loads.next(3);
    expect(health.problems()[0]?.[1]).toMatch(/attempt 2 failed/);
    expect(third.partitions).toEqual([0, 2]);
    expect(gauge.held).toBe(2);
    third.answer([row('a', 0)]);
    await waitFor('healthy', async () => (health.problems().length === 0 ? true : undefined));
    expect(ids()).toEqual(['a', 'held-0', 'held-2']);
    expect(gauge.held).toBe(0);
    await partitions.stop();
  });

  it('a partition revoked during its load is not merged from it; one assigned again is loaded again', async () => {
    const { loads, partitions, ids } = setup();
    partitions.assign([0, 1]);
    const first = await loads.next(1);
    partitions.assign([1]); // 0 revoked
    partitions.assign([0, 1]); // 0 assigned again: the first load may predate the last owner's rows
    first.answer([row('old-0', 0), row('one', 1)]);
    const second = await loads.next(2);
    expect(ids()).toEqual(['one']);
    expect(second.partitions).toEqual([0]);
    second.answer([row('old-0', 0), row('new-0', 0)]);
    await waitFor('partition 0 loaded', async () => (ids().length === 3 ? true : undefined));
    expect(ids()).toEqual(['new-0', 'old-0', 'one']);
    await partitions.stop();
  });

  it('revoking a partition forgets its requests, held ones included', async () => {
    const { loads, partitions, ids } = setup();
    partitions.assign([0, 1]);
    partitions.accept(row('held-1', 1));
    (await loads.next(1)).answer([row('a', 0), row('b', 1)]);
    await waitFor('loaded', async () => (ids().length === 3 ? true : undefined));
    partitions.assign([0]);
    expect(ids()).toEqual(['a']);
    await partitions.stop();
  });

  it('a load waits for the round in progress: the pending set never changes under a round', async () => {
    const inTurn = inOrder();
    const { loads, partitions, ids } = setup(inTurn);
    let endRound!: () => void;
    const round = inTurn(() => new Promise<void>((resolve) => (endRound = resolve)));
    partitions.assign([0]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads.calls).toHaveLength(0);
    endRound();
    await round;
    (await loads.next(1)).answer([row('a', 0)]);
    await waitFor('loaded', async () => (ids().length === 1 ? true : undefined));
    await partitions.stop();
  });

  it('stop ends the retries and clears the report', async () => {
    const { loads, partitions, health } = setup();
    partitions.assign([0]);
    (await loads.next(1)).fail(new Error('down'));
    await waitFor('reported', async () => (health.problems().length ? true : undefined));
    const retry = await loads.next(2); // in flight when stop() comes
    const stopped = partitions.stop();
    retry.fail(new Error('down'));
    await stopped;
    expect(health.problems()).toEqual([]);
    expect(loads.calls).toHaveLength(2);
  });
});
