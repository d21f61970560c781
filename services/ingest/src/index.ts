export { startIngest, INGEST_GROUP_ID, type IngestOptions, type IngestService } from './service.js';
export { toUsageRow, type UsageRow } from './usage-row.js';
export { firstPerRequestId } from './usage-writer.js';
