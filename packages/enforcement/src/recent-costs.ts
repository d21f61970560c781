import { roundHalfUp, type NanoUsd } from '@nanobill/money';
import { checkAmount, checkNonEmpty } from './check.js';

/** A ring of the last `size` costs and their running sum. */
class Window {
  readonly #costs: NanoUsd[] = [];
  #next = 0;
  #sum = 0n;

  constructor(private readonly size: number) {}

  add(nano: NanoUsd): void {
    if (this.#costs.length < this.size) {
      this.#costs.push(nano);
    } else {
      this.#sum -= this.#costs[this.#next]!;
      this.#costs[this.#next] = nano;
      this.#next = (this.#next + 1) % this.size;
    }
    this.#sum += nano;
  }

  /** The mean, rounded half-up to the nano-USD (integer only). */
  average(): NanoUsd | undefined {
    const n = this.#costs.length;
    return n === 0 ? undefined : roundHalfUp(this.#sum, BigInt(n));
  }
}

/**
 * The recent average real cost per provider and model, and per provider alone, over the last
 * `size` priced requests of each: the estimate of a request without token usage (docs/contract.md
 * §6). A window of recent costs, not an all-time mean, so that a price change shows within `size`
 * requests.
 */
export class RecentCosts {
  readonly #byModel = new Map<string, Window>();
  readonly #byProvider = new Map<string, Window>();

  constructor(private readonly size = 200) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
  }

  record(provider: string, model: string, nano: NanoUsd): void {
    checkNonEmpty('provider', provider);
    checkNonEmpty('model', model);
    checkAmount('nano', nano);
    this.#window(this.#byModel, `${provider}\u0000${model}`).add(nano);
    this.#window(this.#byProvider, provider).add(nano);
  }

  modelAverage(provider: string, model: string): NanoUsd | undefined {
    return this.#byModel.get(`${provider}\u0000${model}`)?.average();
  }

  providerAverage(provider: string): NanoUsd | undefined {
    return this.#byProvider.get(provider)?.average();
  }

  #window(map: Map<string, Window>, key: string): Window {
    let window = map.get(key);
    if (window === undefined) map.set(key, (window = new Window(this.size)));
    return window;
  }
}
