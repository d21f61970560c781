-- When an unpriced row was stored (set by ClickHouse at insert), as billing.ledger_entries has
-- since 0005: the enforcement service follows the unpriced requests by it, so that the estimate
-- of a request pricing gave up on leaves the live spend. Rows stored before this migration get
-- their unpriced_at (when pricing wrote them), written at once: left to the default, they would
-- read as "now" until materialized, and as the migration's time after. The billing.unpriced view
-- keeps its columns.
ALTER TABLE billing.unpriced_entries
    ADD COLUMN IF NOT EXISTS inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    COMMENT 'when the row was stored: what the enforcement service follows';
ALTER TABLE billing.unpriced_entries UPDATE inserted_at = unpriced_at WHERE inserted_at > unpriced_at
    SETTINGS mutations_sync = 2;
ALTER TABLE billing.unpriced_entries
    ADD INDEX IF NOT EXISTS inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1;
