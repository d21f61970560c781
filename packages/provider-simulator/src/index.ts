export {
  startProviderSimulator,
  type ProviderSimulator,
  type ProviderSimulatorOptions,
  type SimulatedCall,
  type SimulatedModel,
  type SimulatedProvider,
} from './server.js';
export {
  BAD_COST_TEXT,
  validateFault,
  type BadCostFault,
  type FixedCostFault,
  type BadCostKind,
  type DropIdsFault,
  type DuplicateIdsFault,
  type Fault,
  type FaultKind,
  type MalformedJsonFault,
  type OversizedBodyFault,
  type RateLimitFault,
  type SlowFault,
  type StatusFault,
  type TimeoutFault,
  type UnknownIdsFault,
  type WrongContentTypeFault,
} from './faults.js';
export {
  MAX_COST_NANO_USD,
  MIN_COST_NANO_USD,
  idFraction,
  inShare,
  stableHash64,
  trueCostNanoUsd,
} from './cost.js';
export { defaultSimulatedProviders, simulatedModels, simulatedTokenPricing } from './providers.js';
export { FAULTS_ENV, FaultSpecError, SIMULATE_ENV, parseFaults } from './fault-spec.js';
export {
  simulateProviders,
  simulatorToken,
  startSimulatedProviders,
} from './simulated-providers.js';
