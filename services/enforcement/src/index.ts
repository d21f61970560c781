export {
  ENFORCEMENT_GROUP_ID,
  startEnforcement,
  type EnforcementOptions,
  type EnforcementService,
} from './service.js';
export {
  Enforcer,
  retirable,
  type Decisions,
  type PricedRequest,
  type SeenRequest,
  type UnpricedRequest,
} from './enforcer.js';
export type { AccountsFeed } from './catch-up.js';
