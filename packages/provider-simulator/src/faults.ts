import { inShare, trueCostNanoUsd } from './cost.js';

/**
 * Faults a simulated provider can be told to have. Each one may carry `times`: it then takes
 * effect on the next `times` calls and disappears; without it, it stays until cleared.
 * `share` (0..1) picks ids deterministically from their hash (see `inShare`).
 */
interface Repeat {
  times?: number;
}

/** Answers with this status and a JSON error body. */
export interface StatusFault extends Repeat {
  kind: 'status';
  status: number;
}
/** Answers 429 with `Retry-After: retryAfterSeconds`. */
export interface RateLimitFault extends Repeat {
  kind: 'rate-limit';
  retryAfterSeconds: number;
}
/** Reads the request and never answers: the socket stays open until the client gives up. */
export interface TimeoutFault extends Repeat {
  kind: 'timeout';
}
/** Waits `delayMs` before answering (whatever the answer is). */
export interface SlowFault extends Repeat {
  kind: 'slow';
  delayMs: number;
}
/**
 * Leaves `share` of the ids out. 'later' (the default): each picked id is left out the first
 * time this fault sees it and answered on later calls; 'never': left out for as long as the
 * fault is active.
 */
export interface DropIdsFault extends Repeat {
  kind: 'drop-ids';
  share: number;
  until?: 'later' | 'never';
}
/** `share` of the ids appear twice, with the same cost. */
export interface DuplicateIdsFault extends Repeat {
  kind: 'duplicate-ids';
  share: number;
}
/** Adds `count` ids that were not asked for (with plausible costs). */
export interface UnknownIdsFault extends Repeat {
  kind: 'unknown-ids';
  count: number;
}
export type BadCostKind = 'negative' | 'fractional' | 'string' | 'huge';
/** `share` of the ids get a bad cost: -5, 1.5, "1200" or 12345678901234567890 (> 2^53). */
export interface BadCostFault extends Repeat {
  kind: 'bad-cost';
  cost: BadCostKind;
  share: number;
}
/**
 * `share` of the ids are answered with this cost instead of their true one: a decimal string of
 * digits written into the JSON as a number, of any size (e.g. far above what a request costs).
 */
export interface FixedCostFault extends Repeat {
  kind: 'fixed-cost';
  costNanoUsd: string;
  share: number;
}
/** The JSON answer is cut in half. */
export interface MalformedJsonFault extends Repeat {
  kind: 'malformed-json';
}
/** The (valid) JSON answer is served as `text/html; charset=utf-8`. */
export interface WrongContentTypeFault extends Repeat {
  kind: 'wrong-content-type';
}
/**
 * The (valid) JSON answer is padded with a `"padding"` string field up to `bytes` bytes. Sent
 * with Content-Length unless `chunked`, so a client must cap what it reads, not just the header.
 */
export interface OversizedBodyFault extends Repeat {
  kind: 'oversized-body';
  bytes: number;
  chunked?: boolean;
}

export type Fault =
  | StatusFault
  | RateLimitFault
  | TimeoutFault
  | SlowFault
  | DropIdsFault
  | DuplicateIdsFault
  | UnknownIdsFault
  | BadCostFault
  | FixedCostFault
  | MalformedJsonFault
  | WrongContentTypeFault
  | OversizedBodyFault;
export type FaultKind = Fault['kind'];

/** The raw JSON text of each bad cost. */
export const BAD_COST_TEXT: Readonly<Record<BadCostKind, string>> = {
  negative: '-5',
  fractional: '1.5',
  string: '"1200"',
  huge: '12345678901234567890',
};

type Terminal = StatusFault | RateLimitFault | TimeoutFault;
const TERMINAL: ReadonlySet<FaultKind> = new Set(['status', 'rate-limit', 'timeout']);

interface ActiveFault {
  fault: Fault;
  remaining: number | undefined;
  /** drop-ids 'later': ids already left out once by this fault. */
  dropped: Set<string>;
}

/** What one call will suffer. Taking a plan consumes one use of each fault that takes effect. */
export interface CallPlan {
  delayMs: number;
  /** Replaces the answer: an error status, a 429 or no answer at all. */
  terminal: Terminal | undefined;
  /** The kinds that take effect on this call, in the order they were set. */
  applied: FaultKind[];
  active: readonly ActiveFault[];
}

function check(ok: boolean, fault: Fault, what: string): void {
  if (!ok) throw new RangeError(`invalid ${fault.kind} fault: ${what} (${JSON.stringify(fault)})`);
}
const isShare = (n: number) => Number.isFinite(n) && n >= 0 && n <= 1;
const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;

export function validateFault(fault: Fault): void {
  if (fault.times !== undefined) check(isCount(fault.times) && fault.times > 0, fault, 'times');
  switch (fault.kind) {
    case 'status':
      check(
        Number.isInteger(fault.status) && fault.status >= 100 && fault.status <= 599,
        fault,
        'status',
      );
      check(fault.status !== 200, fault, 'status 200 is not a fault');
      return;
    case 'rate-limit':
      return check(isCount(fault.retryAfterSeconds), fault, 'retryAfterSeconds');
    case 'slow':
      return check(isCount(fault.delayMs), fault, 'delayMs');
    case 'drop-ids':
      check(isShare(fault.share), fault, 'share');
      return check([undefined, 'later', 'never'].includes(fault.until), fault, 'until');
    case 'duplicate-ids':
      return check(isShare(fault.share), fault, 'share');
    case 'bad-cost':
      check(isShare(fault.share), fault, 'share');
      return check(Object.hasOwn(BAD_COST_TEXT, fault.cost), fault, 'cost');
    case 'fixed-cost':
      check(isShare(fault.share), fault, 'share');
      return check(/^(0|[1-9]\d{0,400})$/.test(fault.costNanoUsd), fault, 'costNanoUsd');
    case 'unknown-ids':
      return check(isCount(fault.count), fault, 'count');
    case 'oversized-body':
      return check(isCount(fault.bytes), fault, 'bytes');
    case 'timeout':
    case 'malformed-json':
    case 'wrong-content-type':
      return;
    default:
      throw new RangeError(`unknown fault ${JSON.stringify(fault)}`);
  }
}

/**
 * The faults of one provider. On each call: every `slow` takes effect (delays add up); then the
 * first terminal fault (status, rate-limit, timeout) in list order, if any, takes effect alone;
 * otherwise every answer fault does. Only faults that take effect use up one of their `times`,
 * so `[{status 503, times 1}, {rate-limit, times 1}]` gives a 503, then a 429, then answers.
 */
export class ProviderFaults {
  #active: ActiveFault[] = [];

  set(faults: readonly Fault[]): void {
    for (const fault of faults) validateFault(fault);
    this.#active = faults.map((fault) => ({
      fault: { ...fault },
      remaining: fault.times,
      dropped: new Set(),
    }));
  }

  clear(): void {
    this.#active = [];
  }

  /** The faults still active, with `times` set to the uses left. */
  list(): Fault[] {
    return this.#active.map(({ fault, remaining }) =>
      remaining === undefined ? { ...fault } : { ...fault, times: remaining },
    );
  }

  take(): CallPlan {
    const terminal = this.#active.find((a) => TERMINAL.has(a.fault.kind));
    const effective = this.#active.filter((a) =>
      a.fault.kind === 'slow' ? true : terminal ? a === terminal : true,
    );
    for (const a of effective) if (a.remaining !== undefined) a.remaining -= 1;
    this.#active = this.#active.filter((a) => a.remaining === undefined || a.remaining > 0);
    let delayMs = 0;
    for (const { fault } of effective) if (fault.kind === 'slow') delayMs += fault.delayMs;
    return {
      delayMs,
      terminal: terminal?.fault as Terminal | undefined,
      applied: effective.map((a) => a.fault.kind),
      active: terminal ? [] : effective,
    };
  }
}

export interface RenderedAnswer {
  body: string;
  contentType: string;
  chunked: boolean;
  /** Ids given a valid cost, if the answer is one a correct client accepts; else empty. */
  answeredIds: string[];
}

function dropsId(a: ActiveFault, provider: string, id: string): boolean {
  if (a.fault.kind !== 'drop-ids' || !inShare(provider, id, 'drop-ids', a.fault.share))
    return false;
  if (a.fault.until === 'never') return true;
  if (a.dropped.has(id)) return false;
  a.dropped.add(id);
  return true;
}

/**
 * Builds the raw answer to a 200 call: the true costs of the (deduplicated) requested ids, then
 * the plan's answer faults. Raw text, so bad costs can be written as no JSON.stringify would.
 */
export function renderAnswer(
  provider: string,
  requestIds: readonly string[],
  plan: CallPlan,
  callSeq: number,
): RenderedAnswer {
  const faults = plan.active.map((a) => a.fault);
  const entries: string[] = [];
  const answered: string[] = [];
  for (const id of new Set(requestIds)) {
    let dropped = false;
    for (const a of plan.active) if (dropsId(a, provider, id)) dropped = true;
    if (dropped) continue;
    const bad = faults.find(
      (f) => f.kind === 'bad-cost' && inShare(provider, id, 'bad-cost', f.share),
    ) as BadCostFault | undefined;
    const fixed = bad
      ? undefined
      : (faults.find(
          (f) => f.kind === 'fixed-cost' && inShare(provider, id, 'fixed-cost', f.share),
        ) as FixedCostFault | undefined);
    const cost = bad
      ? BAD_COST_TEXT[bad.cost]
      : (fixed?.costNanoUsd ?? trueCostNanoUsd(provider, id).toString());
    const entry = `{"requestId":${JSON.stringify(id)},"costNanoUsd":${cost}}`;
    entries.push(entry);
    if (!bad && !fixed) answered.push(id);
    const duplicated = faults.some(
      (f) => f.kind === 'duplicate-ids' && inShare(provider, id, 'duplicate-ids', f.share),
    );
    if (duplicated) entries.push(entry);
  }
  let extra = 0;
  for (const f of faults) {
    if (f.kind !== 'unknown-ids') continue;
    for (let i = 0; i < f.count; i++) {
      const id = `unknown-${provider}-${callSeq}-${extra++}`;
      entries.push(
        `{"requestId":${JSON.stringify(id)},"costNanoUsd":${trueCostNanoUsd(provider, id)}}`,
      );
    }
  }

  let body = `{"requests":[${entries.join(',')}]}`;
  let contentType = 'application/json';
  let chunked = false;
  let acceptable = true;
  for (const f of faults) {
    if (f.kind === 'oversized-body') {
      const bare = `${body.slice(0, -1)},"padding":""}`;
      const pad = Math.max(0, f.bytes - Buffer.byteLength(bare));
      body = `${body.slice(0, -1)},"padding":"${'x'.repeat(pad)}"}`;
      chunked ||= f.chunked === true;
      acceptable = false;
    } else if (f.kind === 'wrong-content-type') {
      contentType = 'text/html; charset=utf-8';
      acceptable = false;
    }
  }
  if (faults.some((f) => f.kind === 'malformed-json')) {
    // Any proper prefix of a JSON object is invalid JSON.
    body = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
    acceptable = false;
  }
  return { body, contentType, chunked, answeredIds: acceptable ? answered : [] };
}
