import { HF_INFERENCE, type RoutedRequestEvent } from '@nanobill/contract';
import {
  CATALOG,
  LLM_TASKS,
  hfInferenceCompute,
  modelIdOf,
  providerModelIdOf,
  type Provider,
} from './catalog.js';
import { createRng, cumulate, pickWeighted, seed32, type Rng } from './prng.js';

export interface EventGeneratorOptions {
  /** Same seed and options → same event stream. Default 42. */
  seed?: number;
  /** Number of distinct users (`user-00042`). Default 5000. */
  users?: number;
  /** Number of distinct orgs (`org-0007`). Default 300. */
  orgs?: number;
  /** Share of events with a `billTo`. Default 0.25. */
  billToShare?: number;
  /** Share of `billTo` values naming an org the user does not belong to. Default 0.04. */
  nonMemberBillToShare?: number;
  /** Share of events with `billingMode: 'custom_key'` (never on hf-inference). Default 0.08. */
  customKeyShare?: number;
  /** Share of events with a 4xx/5xx status. Default 0.03. */
  failedShare?: number;
  /** Share of failed events that never reached the provider (no providerRequestId). Default 0.4. */
  unreachedShareOfFailed?: number;
  /** Simulated time of the first event. Default 2026-01-01T00:00:00.000Z (determinism). */
  startTime?: Date;
  /**
   * Simulated time advances by 1/n s per event (default 1000 events per simulated second); or a
   * clock returning the current time (epoch ms or Date), e.g. `Date.now` for a live stream.
   */
  eventsPerSecondOfSimTime?: number | (() => number | Date);
  /** Prepended to every requestId. Default ''. */
  requestIdPrefix?: string;
}

export interface EventGenerator {
  readonly seed: number;
  /** How many events `next()` has returned. */
  readonly generated: number;
  next(): RoutedRequestEvent;
  take(n: number): RoutedRequestEvent[];
  /** All user ids, `user-00000` … */
  users(): readonly string[];
  /** All org names, `org-0000` … */
  orgs(): readonly string[];
  /** The orgs a user belongs to (deterministic from seed, users, orgs); [] when unknown. */
  orgsOf(userId: string): readonly string[];
  /** Org name → member user ids, for every org (possibly with no member). */
  orgMembers(): ReadonlyMap<string, readonly string[]>;
}

const DEFAULT_START = Date.UTC(2026, 0, 1);

/** HTTP statuses of failed requests, with relative weights. */
const UNREACHED_STATUSES = cumulatedTable([
  [400, 25],
  [401, 20],
  [402, 15],
  [403, 10],
  [404, 8],
  [429, 12],
  [502, 6],
  [503, 4],
]);
const REACHED_FAILED_STATUSES = cumulatedTable([
  [400, 20],
  [422, 15],
  [429, 20],
  [500, 25],
  [502, 8],
  [503, 7],
  [504, 5],
]);

/** How many orgs a user belongs to: 0, 1, 2, 3. */
const ORGS_PER_USER = cumulate([30, 50, 15, 5]);

/** Log-normal token counts: median and sigma per LLM task. */
const TOKENS: Record<string, { input: [number, number]; output: [number, number] }> = {
  conversational: { input: [900, 1.3], output: [280, 1.1] },
  'image-text-to-text': { input: [1600, 0.9], output: [200, 1.0] },
};
const MAX_INPUT_TOKENS = 131_072;
const MAX_OUTPUT_TOKENS = 16_384;
const MAX_COMPUTE_MS = 600_000;

interface ModelChoice {
  task: string;
  model: string;
  providerModelId: string;
}

interface ProviderTable {
  provider: Provider;
  taskCumulative: number[];
  tasks: { cumulative: number[]; choices: ModelChoice[] }[];
}

function cumulatedTable(rows: readonly (readonly [number, number])[]) {
  return { values: rows.map((r) => r[0]), cumulative: cumulate(rows.map((r) => r[1])) };
}

function at<T>(array: readonly T[], index: number): T {
  const value = array[index];
  if (value === undefined) throw new Error(`index ${index} out of range (${array.length})`);
  return value;
}

function share(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0 && v <= 1)) throw new Error(`${name} must be within [0, 1], got ${v}`);
  return v;
}

function count(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new Error(`${name} must be a positive integer, got ${v}`);
  return v;
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** 8 hex digits of an unsigned 32-bit integer (hot path: a table beats toString + padStart). */
function hex8(n: number): string {
  return (
    at(BYTE_HEX, n >>> 24) +
    at(BYTE_HEX, (n >>> 16) & 0xff) +
    at(BYTE_HEX, (n >>> 8) & 0xff) +
    at(BYTE_HEX, n & 0xff)
  );
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function buildProviderTable(provider: Provider): ProviderTable {
  const entries = Object.entries(CATALOG[provider].tasks);
  return {
    provider,
    taskCumulative: cumulate(entries.map(([, t]) => t.weight)),
    tasks: entries.map(([task, t]) => ({
      // Popularity within a task falls off as 1/rank.
      cumulative: cumulate(t.models.map((_, i) => 1 / (i + 1))),
      choices: t.models.map((m) => ({
        task,
        model: modelIdOf(m),
        providerModelId: providerModelIdOf(provider, m),
      })),
    })),
  };
}

function providerPicker(providers: readonly Provider[]) {
  return {
    tables: providers.map(buildProviderTable),
    cumulative: cumulate(providers.map((p) => CATALOG[p].weight)),
  };
}

function logNormal(rng: Rng, median: number, sigma: number, min: number, max: number): number {
  const x = Math.round(median * Math.exp(sigma * rng.normal()));
  return Math.min(max, Math.max(min, x));
}

/**
 * A deterministic stream of valid `RoutedRequestEvent`s shaped like an inference router's
 * traffic: providers weighted by share, tasks and models consistent with each provider,
 * skewed user activity, org billing, custom keys and failures in the chosen proportions.
 */
export function createEventGenerator(options: EventGeneratorOptions = {}): EventGenerator {
  const seed = options.seed ?? 42;
  const userCount = count('users', options.users, 5000);
  const orgCount = count('orgs', options.orgs, 300);
  const billToShare = share('billToShare', options.billToShare, 0.25);
  const nonMemberShare = share('nonMemberBillToShare', options.nonMemberBillToShare, 0.04);
  const customKeyShare = share('customKeyShare', options.customKeyShare, 0.08);
  const failedShare = share('failedShare', options.failedShare, 0.03);
  const unreachedShare = share('unreachedShareOfFailed', options.unreachedShareOfFailed, 0.4);
  const prefix = options.requestIdPrefix ?? '';
  const startMs = options.startTime?.getTime() ?? DEFAULT_START;
  if (!Number.isFinite(startMs)) throw new Error('startTime is not a valid date');
  const clockOrRate = options.eventsPerSecondOfSimTime ?? 1000;
  if (typeof clockOrRate === 'number' && !(clockOrRate > 0 && Number.isFinite(clockOrRate))) {
    throw new Error(`eventsPerSecondOfSimTime must be positive, got ${clockOrRate}`);
  }

  // Population: a stream of its own, so that it does not depend on how many events were drawn.
  const pop = createRng(seed, 1);
  const userWidth = Math.max(5, String(userCount - 1).length);
  const orgWidth = Math.max(4, String(orgCount - 1).length);
  const userIds = Array.from(
    { length: userCount },
    (_, i) => `user-${String(i).padStart(userWidth, '0')}`,
  );
  const orgIds = Array.from(
    { length: orgCount },
    (_, i) => `org-${String(i).padStart(orgWidth, '0')}`,
  );
  const userOrgs: number[][] = userIds.map(() => {
    const n = Math.min(orgCount, pickWeighted(pop, ORGS_PER_USER));
    const mine: number[] = [];
    while (mine.length < n) {
      // Org sizes are skewed: a few large orgs, many small ones.
      const org = Math.floor(orgCount * pop.float() ** 2);
      if (!mine.includes(org)) mine.push(org);
    }
    return mine;
  });
  // Activity rank → user index: a permutation, so heavy users are spread over the id range.
  let stride = (pop.u32() % userCount) | 1;
  while (gcd(stride, userCount) !== 1) stride++;
  const offset = pop.u32() % userCount;
  const userAtRank = (rank: number): number => (rank * stride + offset) % userCount;
  const memberRanks: number[] = [];
  for (let r = 0; r < userCount; r++)
    if (at(userOrgs, userAtRank(r)).length > 0) memberRanks.push(r);

  const orgsByUserId = new Map(
    userIds.map((u, i) => [u, at(userOrgs, i).map((o) => at(orgIds, o))]),
  );
  let membersByOrg: Map<string, string[]> | undefined;

  const providers = Object.keys(CATALOG) as Provider[];
  const routed = providerPicker(providers);
  const customKey = providerPicker(providers.filter((p) => p !== HF_INFERENCE));

  const rng = createRng(seed, 0);
  const seedHex = hex8(seed32(seed));
  let generated = 0;

  // Zipf-like activity: rank = n·u³ puts ~22% of the traffic on the top 1% of users.
  const skewed = (n: number): number => Math.floor(n * rng.float() ** 3);

  /** A random v4-style UUID: 8-4-4-4-12 hex digits. */
  const uuid = (): string => {
    const a = hex8(rng.u32());
    const b = hex8(rng.u32());
    const c = hex8((rng.u32() & 0x3fffffff) | 0x80000000);
    const d = hex8(rng.u32());
    return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
  };

  const timestamp = (index: number): string => {
    if (typeof clockOrRate === 'number') {
      return new Date(startMs + Math.floor((index * 1000) / clockOrRate)).toISOString();
    }
    return new Date(clockOrRate()).toISOString();
  };

  const pickUserAndBillTo = (): { userId: string; billTo?: string } => {
    if (!rng.chance(billToShare)) return { userId: at(userIds, userAtRank(skewed(userCount))) };
    if (memberRanks.length > 0 && !rng.chance(nonMemberShare)) {
      const user = userAtRank(at(memberRanks, skewed(memberRanks.length)));
      const mine = at(userOrgs, user);
      return { userId: at(userIds, user), billTo: at(orgIds, at(mine, rng.int(mine.length))) };
    }
    const user = userAtRank(skewed(userCount));
    const mine = at(userOrgs, user);
    let org = rng.int(orgCount);
    // A user in every org cannot name a foreign one; that only happens with very few orgs.
    for (let tries = 0; mine.includes(org) && tries < 8; tries++) org = rng.int(orgCount);
    return { userId: at(userIds, user), billTo: at(orgIds, org) };
  };

  const next = (): RoutedRequestEvent => {
    const index = generated++;
    // seed-derived 8 · counter high 4 · random 4 (version 4) · random 4 (variant) · counter low 12:
    // UUID-shaped, unique per generator while the counter is.
    const high = hex8(Math.floor(index / 0x1_0000_0000_0000) >>> 0);
    const mid = hex8(Math.floor(index / 0x1_0000_0000) >>> 0);
    const low = hex8(index >>> 0);
    const r = hex8((rng.u32() & 0x3fff0fff) | 0x80004000);
    const requestId = `${prefix}${seedHex}-${high.slice(4)}-${r.slice(4)}-${r.slice(0, 4)}-${mid.slice(4)}${low}`;

    const billingMode = rng.chance(customKeyShare) ? 'custom_key' : 'routed';
    const picker = billingMode === 'custom_key' ? customKey : routed;
    const table = at(picker.tables, pickWeighted(rng, picker.cumulative));
    const taskTable = at(table.tasks, pickWeighted(rng, table.taskCumulative));
    const { task, model, providerModelId } = at(
      taskTable.choices,
      pickWeighted(rng, taskTable.cumulative),
    );
    const { userId, billTo } = pickUserAndBillTo();

    const failed = rng.chance(failedShare);
    const reached = !failed || !rng.chance(unreachedShare);
    const statuses = reached ? REACHED_FAILED_STATUSES : UNREACHED_STATUSES;
    const status = failed ? at(statuses.values, pickWeighted(rng, statuses.cumulative)) : 200;

    // Built field by field so that optional fields are absent (not undefined) and keys keep the
    // contract's order; the test suite checks every shape against the zod schema.
    const event: Record<string, unknown> = {
      schemaVersion: 1,
      requestId,
      timestamp: timestamp(index),
      userId,
    };
    if (billTo !== undefined) event.billTo = billTo;
    event.provider = table.provider;
    event.model = model;
    event.providerModelId = providerModelId;
    event.task = task;
    event.billingMode = billingMode;
    if (reached) event.providerRequestId = `${table.provider}-${uuid()}`;
    event.status = status;

    const tokens = TOKENS[task];
    if (tokens !== undefined && LLM_TASKS.has(task) && !failed) {
      event.usage = {
        inputTokens: logNormal(rng, tokens.input[0], tokens.input[1], 1, MAX_INPUT_TOKENS),
        outputTokens: logNormal(rng, tokens.output[0], tokens.output[1], 1, MAX_OUTPUT_TOKENS),
      };
    }
    if (table.provider === HF_INFERENCE && reached) {
      const compute = hfInferenceCompute(task);
      // A request that failed at the provider still used some compute, usually less.
      const median = failed ? compute.medianMs * 0.3 : compute.medianMs;
      event.computeTimeMs = logNormal(rng, median, 0.8, 1, MAX_COMPUTE_MS);
      event.hardware = at(compute.hardware, skewed(compute.hardware.length));
    }
    return event as RoutedRequestEvent;
  };

  return {
    seed,
    get generated() {
      return generated;
    },
    next,
    take: (n) => Array.from({ length: n }, next),
    users: () => userIds,
    orgs: () => orgIds,
    orgsOf: (userId) => orgsByUserId.get(userId) ?? [],
    orgMembers: () => {
      if (membersByOrg === undefined) {
        const byOrg = new Map<string, string[]>(orgIds.map((o) => [o, []]));
        for (const [user, orgs] of orgsByUserId) for (const org of orgs) byOrg.get(org)?.push(user);
        membersByOrg = byOrg;
      }
      return membersByOrg;
    },
  };
}

/** The event as the router puts it on the topic: UTF-8 JSON. */
export function encodeEvent(event: RoutedRequestEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}
