// The start-up read of billing.usage lives with the table's module (owner: ingest).
export { unpricedUsage, type UnpricedUsage } from '@nanobill/tables';
