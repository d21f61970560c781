/**
 * What the parts of a process say about themselves, for `/readyz`: a consumer that stopped and
 * is being restarted, a view still reading its topic. A component is healthy unless it has
 * reported a problem; `/readyz` answers 503 naming each unhealthy one with its reason.
 */
export class ComponentHealth {
  readonly #problems = new Map<string, string>();

  /** The component does not work now, and why (replaces its earlier reason). */
  unhealthy(component: string, reason: string): void {
    this.#problems.set(component, reason);
  }

  /** The component works (again), or is gone. */
  healthy(component: string): void {
    this.#problems.delete(component);
  }

  /** The components that do not work now, with their reasons. */
  problems(): Array<[component: string, reason: string]> {
    return [...this.#problems];
  }
}
