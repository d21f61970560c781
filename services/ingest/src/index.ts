export {
  startIngest,
  INGEST_GROUP_ID,
  INGEST_CONSUMERS,
  type IngestOptions,
  type IngestService,
} from './service.js';
export { toUsageRow } from './usage-row.js';
export type { UsageRow } from '@nanobill/tables';
export { firstPerRequestId, storedRequestIds } from './usage-writer.js';
