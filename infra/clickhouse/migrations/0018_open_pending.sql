-- Requests still waiting for their cost (docs/contract.md §8): the pending rows whose
-- (provider, provider request id) has neither a ledger nor an unpriced row. One row per pending
-- row, with billing.pricing_pending's columns; the question "how many requests of a month are
-- still pending" is written here once (the statements service counts the distinct keys of a
-- month), not in each reader. The anti-joins read the raw tables, not their FINAL views: a key
-- is resolved as soon as any row of it is stored, merged or not. No aliases: in ClickHouse a
-- SELECT alias named like a column replaces that column in the WHERE.
-- The pricing service's reload of its partitions (services/pricing/src/writers.ts, loadPending)
-- does not read this view: it works per request id (a reuse of a provider request id is loaded
-- to be quarantined) and bounds every table it reads by time.
CREATE VIEW IF NOT EXISTS billing.open_pending AS
SELECT provider, provider_request_id, request_id, event_time, user_id, bill_to, model, task,
       first_seen_at, source_partition, compute_time_ms, hardware, input_tokens, output_tokens
FROM billing.pricing_pending
WHERE (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.ledger_entries)
  AND (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.unpriced_entries);
