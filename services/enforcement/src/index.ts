export {
  ENFORCEMENT_GROUP_ID,
  startEnforcement,
  type EnforcementOptions,
  type EnforcementService,
} from './service.js';
export { Enforcer, type Decisions, type PricedRequest, type SeenRequest } from './enforcer.js';
