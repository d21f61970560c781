import type { SeenRequest } from './enforcer.js';

interface Waiting {
  request: SeenRequest;
  /** The account whose first snapshot attribution waits for. */
  waitingFor: string;
  /** Second (epoch) the grace ends: the answer is final then, whatever has arrived. */
  untilSecond: number;
}

/**
 * Estimates whose payer is not known yet (attribution answered `wait`: the user's or the org's
 * first snapshot may still be on its way, docs/contract.md §5). They count against nobody
 * meanwhile, so that unknown facts never block anyone, and are attributed again when the awaited
 * account gets facts or the grace ends, whichever comes first (at most the grace: a request naming
 * an org that never appears is charged to its user then).
 *
 * Indexed by key, by the account awaited and by the second the grace ends, so that neither new
 * facts nor the passing of time scan every waiting request.
 */
export class WaitingEstimates {
  readonly #byKey = new Map<string, Waiting>();
  readonly #byAccount = new Map<string, Set<string>>();
  readonly #bySecond = new Map<number, Set<string>>();

  get size(): number {
    return this.#byKey.size;
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  add(request: SeenRequest, waitingFor: string, until: Date): void {
    if (this.#byKey.has(request.key)) return;
    const untilSecond = Math.ceil(until.getTime() / 1000);
    this.#byKey.set(request.key, { request, waitingFor, untilSecond });
    index(this.#byAccount, waitingFor, request.key);
    index(this.#bySecond, untilSecond, request.key);
  }

  /** Forgets a request (priced or unpriced meanwhile: the ledger decides). */
  delete(key: string): void {
    const waiting = this.#byKey.get(key);
    if (waiting === undefined) return;
    this.#byKey.delete(key);
    unindex(this.#byAccount, waiting.waitingFor, key);
    unindex(this.#bySecond, waiting.untilSecond, key);
  }

  /** The requests waiting for one of `accounts`, or whose grace has ended at `now`. */
  due(accounts: Iterable<string>, now: Date): SeenRequest[] {
    const keys = new Set<string>();
    for (const account of accounts)
      for (const key of this.#byAccount.get(account) ?? []) keys.add(key);
    const second = now.getTime() / 1000;
    for (const [until, set] of this.#bySecond)
      if (until <= second) for (const key of set) keys.add(key);
    return [...keys].map((key) => this.#byKey.get(key)!.request);
  }
}

function index<K>(map: Map<K, Set<string>>, at: K, key: string): void {
  let set = map.get(at);
  if (set === undefined) map.set(at, (set = new Set()));
  set.add(key);
}

function unindex<K>(map: Map<K, Set<string>>, at: K, key: string): void {
  const set = map.get(at);
  set?.delete(key);
  if (set?.size === 0) map.delete(at);
}
