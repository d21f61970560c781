// @nanobill/attribution: who pays for a request (docs/contract.md §5). Pure, no I/O.
export { AccountHistory, type SnapshotOrigin } from './history.js';
export {
  attribute,
  DEFAULT_GRACE_MS,
  type Attribution,
  type AttributionOptions,
  type AttributionRequest,
  type Billed,
  type Decision,
  type FallbackCause,
} from './attribute.js';
