import { describe, expect, it } from 'vitest';
import { ComponentHealth } from '@nanobill/observability';
import { quietLogger, waitFor } from '@nanobill/testkit';
import {
  PENDING_LOADS_COMPONENT,
  type LoadedPage,
  type LoadPage,
  PendingLoads,
  PendingRequests,
  type PendingRef,
} from '../src/index.js';
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
    fromMs?: number;
    /** The page's rows; `nextFromMs` when more are stored after them. */
    answer(rows: PendingRef[], nextFromMs?: number): void;
    fail(error: Error): void;
  }> = [];
  const load = (partitions: number[], page: LoadPage) =>
    new Promise<LoadedPage>((resolve, fail) =>
      calls.push({
        partitions,
        fromMs: page.fromMs,
        answer: (rows, nextFromMs) => resolve({ rows, nextFromMs }),
        fail,
      }),
    );
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

function setup(inTurn = inOrder(), cap?: number) {
  const pending = new PendingRequests(cap);
  const health = new ComponentHealth();
  const loads = controlledLoads();
  const gauge = { held: 0, unloaded: 0 };
  const partitions = new PendingLoads({
    pending,
    load: loads.load,
    inTurn,
    health,
    logger: quietLogger(),
    delayMs: { first: 1, max: 4 },
    onHeld: (held) => (gauge.held = held),
    onUnloaded: (unloaded) => (gauge.unloaded = unloaded),
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

  it('with the set full: a consumed request is only stored, and its partition loaded again, oldest first, once a round made room', async () => {
    const { loads, partitions, pending, ids, gauge } = setup(inOrder(), 3);
    partitions.assign([0]);
    (await loads.next(1)).answer([row('a', 0), row('b', 0)]);
    await waitFor('loaded', async () => (ids().length === 2 ? true : undefined));
    partitions.accept(row('c', 0, '2026-11-25T11:00:00.000Z'));
    partitions.accept(row('d', 0, '2026-11-25T11:01:00.000Z')); // no room: stored only
    expect(ids()).toEqual(['a', 'b', 'c']);
    expect(gauge.unloaded).toBe(1);
    partitions.refill(); // no room yet: nothing asked
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads.calls).toHaveLength(1);
    pending.resolve(row('a', 0));
    pending.resolve(row('b', 0));
    partitions.refill();
    const again = await loads.next(2);
    expect(again.partitions).toEqual([0]);
    expect(again.fromMs).toBeUndefined(); // from the oldest: memory already holds some of them
    again.answer([
      row('c', 0, '2026-11-25T11:00:00.000Z'),
      row('d', 0, '2026-11-25T11:01:00.000Z'),
    ]);
    await waitFor('d loaded', async () => (ids().includes('d') ? true : undefined));
    expect(ids()).toEqual(['c', 'd']);
    expect(gauge.unloaded).toBe(0);
    // Loaded again: a new request joins at once.
    partitions.accept(row('e', 0));
    expect(ids()).toEqual(['c', 'd', 'e']);
    await partitions.stop();
  });

  it('a load larger than the room stops where the set is full, and goes on from there after a round', async () => {
    const { loads, partitions, pending, ids } = setup(inOrder(), 2);
    partitions.assign([0]);
    const stored = ['a', 'b', 'c'].map((id, i) => row(id, 0, `2026-11-25T10:0${i}:00.000Z`));
    (await loads.next(1)).answer(stored);
    await waitFor('a page', async () => (ids().length === 2 ? true : undefined));
    expect(ids()).toEqual(['a', 'b']);
    pending.resolve(stored[0]!);
    partitions.refill();
    const next = await loads.next(2);
    expect(next.fromMs).toBe(Date.parse(stored[2]!.first_seen_at)); // where the set was full
    next.answer([stored[2]!]);
    await waitFor('c', async () => (ids().includes('c') ? true : undefined));
    expect(ids()).toEqual(['b', 'c']);
    await partitions.stop();
  });

  it('reads a partition a page at a time: a page with more stored after it is followed by the next one', async () => {
    const { loads, partitions, ids, gauge } = setup();
    partitions.assign([0]);
    const next = Date.parse('2026-11-25T11:00:00.000Z');
    (await loads.next(1)).answer([row('a', 0)], next);
    const second = await loads.next(2);
    expect(second.fromMs).toBe(next);
    expect(gauge.unloaded).toBe(1);
    second.answer([row('b', 0, '2026-11-25T11:00:00.000Z')]);
    await waitFor('all', async () => (ids().length === 2 ? true : undefined));
    expect(gauge.unloaded).toBe(0);
    await partitions.stop();
  });
});
