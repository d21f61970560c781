export {
  createEventGenerator,
  encodeEvent,
  type EventGenerator,
  type EventGeneratorOptions,
} from './generator.js';
export { runRouterSimulator, type RouterSimulatorOptions } from './producer.js';
export { FastDefaultPartitioner } from './partitioner.js';
export {
  CATALOG,
  HF_INFERENCE_HARDWARE,
  LLM_TASKS,
  providerModelIdOf,
  type Provider,
  type ProviderEntry,
} from './catalog.js';
export { accountSnapshots } from './accounts.js';
export { createRng, type Rng } from './prng.js';
export { publishAccounts, runPrefix, simulatedTraffic } from './traffic.js';
