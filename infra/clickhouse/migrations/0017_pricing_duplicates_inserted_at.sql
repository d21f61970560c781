-- When a quarantine row was stored (set by ClickHouse at insert), as billing.ledger_entries and
-- billing.unpriced_entries have: the enforcement service follows the quarantined requests by it,
-- so that the estimate of a request that reused another's provider request id leaves the live
-- spend. Not `quarantined_at`: that is the pricing instance's clock, taken before a batched (and
-- possibly retried) insert, so a follower could pass it before the row becomes visible. Rows
-- stored before this migration get the migration's time.
ALTER TABLE billing.pricing_duplicates
    ADD COLUMN IF NOT EXISTS inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    COMMENT 'when the row was stored: what the enforcement service follows';
ALTER TABLE billing.pricing_duplicates MATERIALIZE COLUMN inserted_at;
ALTER TABLE billing.pricing_duplicates
    ADD INDEX IF NOT EXISTS inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1;
