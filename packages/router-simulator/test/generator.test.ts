import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_PROVIDERS,
  HF_INFERENCE,
  RoutedRequestEvent,
  decodeRequestEvent,
} from '@nanobill/contract';
import {
  CATALOG,
  HF_INFERENCE_HARDWARE,
  LLM_TASKS,
  modelIdOf,
  providerModelIdOf,
  type Provider,
} from '../src/catalog.js';
import { createEventGenerator, encodeEvent } from '../src/generator.js';

const N = 20_000;
const events = createEventGenerator({ seed: 2024 }).take(N);
const share = (pred: (e: RoutedRequestEvent) => boolean, of = events) =>
  of.filter(pred).length / of.length;
const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('createEventGenerator', () => {
  it('produces 20,000 events that all pass RoutedRequestEvent.parse, with unique requestIds', () => {
    for (const e of events) expect(RoutedRequestEvent.parse(e)).toEqual(e);
    expect(new Set(events.map((e) => e.requestId)).size).toBe(N);
  });

  it('is deterministic: the same seed and options give the same events, another seed others', () => {
    const a = createEventGenerator({ seed: 99, requestIdPrefix: 'r-' }).take(100);
    const b = createEventGenerator({ seed: 99, requestIdPrefix: 'r-' }).take(100);
    const c = createEventGenerator({ seed: 100, requestIdPrefix: 'r-' }).take(100);
    expect(a).toEqual(b);
    expect(c.map((e) => e.userId)).not.toEqual(a.map((e) => e.userId));
    expect(new Set([...a, ...c].map((e) => e.requestId)).size).toBe(200);
  });

  it('writes UUID-shaped requestIds after the prefix and UTC timestamps with milliseconds', () => {
    const g = createEventGenerator({
      requestIdPrefix: 'demo-x-',
      startTime: new Date('2026-03-01T10:00:00Z'),
    });
    const sample = g.take(1000);
    for (const e of sample) {
      expect(e.requestId.startsWith('demo-x-')).toBe(true);
      expect(e.requestId.slice('demo-x-'.length)).toMatch(UUID);
      expect(e.timestamp).toMatch(ISO_MS_Z);
    }
    expect(sample[0]?.timestamp).toBe('2026-03-01T10:00:00.000Z');
    // 1000 events per simulated second by default.
    expect(sample[999]?.timestamp).toBe('2026-03-01T10:00:00.999Z');
    expect(g.generated).toBe(1000);
    for (const e of events.slice(0, 2000)) {
      if (e.providerRequestId === undefined) continue;
      expect(e.providerRequestId.startsWith(`${e.provider}-`)).toBe(true);
      expect(e.providerRequestId.slice(e.provider.length + 1)).toMatch(UUID);
    }
  });

  it('advances simulated time at eventsPerSecondOfSimTime, or reads a clock', () => {
    const slow = createEventGenerator({ startTime: new Date(0), eventsPerSecondOfSimTime: 2 }).take(
      5,
    );
    expect(slow.map((e) => e.timestamp.slice(17))).toEqual([
      '00.000Z',
      '00.500Z',
      '01.000Z',
      '01.500Z',
      '02.000Z',
    ]);
    let now = Date.parse('2026-11-25T12:00:00.123Z');
    const live = createEventGenerator({ eventsPerSecondOfSimTime: () => now++ }).take(2);
    expect(live.map((e) => e.timestamp)).toEqual([
      '2026-11-25T12:00:00.123Z',
      '2026-11-25T12:00:00.124Z',
    ]);
  });

  it('matches the configured shares: billTo, custom_key, failures, failures never reaching the provider', () => {
    expect(share((e) => e.billTo !== undefined)).toBeCloseTo(0.25, 1);
    expect(Math.abs(share((e) => e.billTo !== undefined) - 0.25)).toBeLessThan(0.02);
    expect(Math.abs(share((e) => e.billingMode === 'custom_key') - 0.08)).toBeLessThan(0.01);
    const failed = events.filter((e) => e.status >= 400);
    expect(Math.abs(failed.length / N - 0.03)).toBeLessThan(0.007);
    const unreached = share((e) => e.providerRequestId === undefined, failed);
    expect(unreached).toBeGreaterThan(0.25);
    expect(unreached).toBeLessThan(0.55);
    // Only failed requests can miss the provider; successes are 200.
    for (const e of events) {
      if (e.providerRequestId === undefined) expect(e.status).toBeGreaterThanOrEqual(400);
      if (e.status < 400) expect(e.status).toBe(200);
    }

    const custom = createEventGenerator({
      seed: 5,
      billToShare: 0.6,
      customKeyShare: 0.3,
      failedShare: 0.2,
    }).take(10_000);
    expect(Math.abs(share((e) => e.billTo !== undefined, custom) - 0.6)).toBeLessThan(0.03);
    expect(Math.abs(share((e) => e.billingMode === 'custom_key', custom) - 0.3)).toBeLessThan(0.03);
    expect(Math.abs(share((e) => e.status >= 400, custom) - 0.2)).toBeLessThan(0.03);
    const none = createEventGenerator({
      seed: 5,
      billToShare: 0,
      customKeyShare: 0,
      failedShare: 0,
    }).take(5_000);
    expect(
      none.every((e) => e.billTo === undefined && e.billingMode === 'routed' && e.status === 200),
    ).toBe(true);
  });

  it('never uses a custom key on hf-inference (HF is the provider there)', () => {
    expect(events.some((e) => e.provider === HF_INFERENCE && e.billingMode === 'custom_key')).toBe(
      false,
    );
  });

  it('bills mostly orgs the user belongs to, a few not, and exposes memberships', () => {
    const g = createEventGenerator({ seed: 2024 });
    const billed = g.take(N).filter((e) => e.billTo !== undefined);
    const member = share((e) => g.orgsOf(e.userId).includes(e.billTo ?? ''), billed);
    expect(member).toBeGreaterThan(0.9);
    expect(member).toBeLessThan(1);
    expect(g.users()).toHaveLength(5000);
    expect(g.orgs()).toHaveLength(300);
    expect(g.users()[42]).toBe('user-00042');
    expect(g.orgs()[7]).toBe('org-0007');
    const members = g.orgMembers();
    expect(members.size).toBe(300);
    for (const [org, users] of members) for (const u of users) expect(g.orgsOf(u)).toContain(org);
    for (const u of g.users()) for (const org of g.orgsOf(u)) expect(members.get(org)).toContain(u);
    expect(g.orgsOf('nobody')).toEqual([]);
    // Memberships depend on seed, users and orgs only, not on how many events were drawn.
    expect(createEventGenerator({ seed: 2024 }).orgMembers()).toEqual(members);
  });

  it('uses all 18 providers, each with a task and model of its catalog', () => {
    expect(new Set(events.map((e) => e.provider))).toEqual(new Set(DEFAULT_PROVIDERS));
    for (const e of events) {
      const entry = CATALOG[e.provider as Provider];
      const task = entry.tasks[e.task];
      expect(task, `${e.provider} serves ${e.task}`).toBeDefined();
      const model = task?.models.find((m) => modelIdOf(m) === e.model);
      expect(model, `${e.provider} ${e.task} ${e.model}`).toBeDefined();
      if (model !== undefined)
        expect(e.providerModelId).toBe(providerModelIdOf(e.provider as Provider, model));
    }
  });

  it('gives computeTimeMs and hardware to hf-inference events that reached it, and only to them', () => {
    const hf = events.filter((e) => e.provider === HF_INFERENCE);
    expect(hf.length).toBeGreaterThan(500);
    for (const e of events) {
      const expected = e.provider === HF_INFERENCE && e.providerRequestId !== undefined;
      expect(e.computeTimeMs !== undefined, JSON.stringify(e)).toBe(expected);
      expect(e.hardware !== undefined).toBe(expected);
      if (expected) {
        expect(HF_INFERENCE_HARDWARE).toContain(e.hardware);
        expect(e.computeTimeMs).toBeGreaterThan(0);
      }
    }
    expect(new Set(hf.map((e) => e.task)).size).toBeGreaterThan(10);
  });

  it('gives usage to successful LLM events and to no other event', () => {
    const llm = events.filter((e) => LLM_TASKS.has(e.task));
    expect(llm.length / N).toBeGreaterThan(0.5);
    for (const e of events) {
      const expected = LLM_TASKS.has(e.task) && e.status < 400;
      expect(e.usage !== undefined, JSON.stringify(e)).toBe(expected);
    }
    const inputs = llm.flatMap((e) => (e.usage ? [e.usage.inputTokens] : [])).sort((a, b) => a - b);
    const median = inputs[Math.floor(inputs.length / 2)] ?? 0;
    expect(median).toBeGreaterThan(500);
    expect(median).toBeLessThan(2000);
    expect(inputs.at(-1)).toBeGreaterThan(10 * median); // a long tail
  });

  it('encodes events as JSON bytes that the contract decoder accepts', () => {
    for (const e of events.slice(0, 2000)) {
      expect(decodeRequestEvent(encodeEvent(e))).toEqual({ ok: true, value: e });
    }
  });

  it('refuses impossible options', () => {
    expect(() => createEventGenerator({ billToShare: 1.5 })).toThrow(/billToShare/);
    expect(() => createEventGenerator({ users: 0 })).toThrow(/users/);
    expect(() => createEventGenerator({ eventsPerSecondOfSimTime: 0 })).toThrow(
      /eventsPerSecondOfSimTime/,
    );
    expect(() => createEventGenerator({ startTime: new Date('nope') })).toThrow(/startTime/);
  });

  it('property: for any seed and shares, the first 500 events are valid and unique', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        fc.record({
          billToShare: fc.double({ min: 0, max: 1, noNaN: true }),
          customKeyShare: fc.double({ min: 0, max: 1, noNaN: true }),
          failedShare: fc.double({ min: 0, max: 1, noNaN: true }),
          users: fc.integer({ min: 1, max: 50 }),
          orgs: fc.integer({ min: 1, max: 5 }),
        }),
        (seed, options) => {
          const batch = createEventGenerator({ seed, ...options }).take(500);
          for (const e of batch) expect(RoutedRequestEvent.safeParse(e).success).toBe(true);
          expect(new Set(batch.map((e) => e.requestId)).size).toBe(500);
        },
      ),
      { numRuns: 60 },
    );
  });
});
