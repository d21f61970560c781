-- Which unpriced_requests alert announces each unpriced request. Written with the row, before the
-- alert is published: a pricing process that dies in between re-publishes, at its next start,
-- the alerts of rows whose id is not in billing.alert_log (same id: the log keeps it once).
-- The billing.unpriced view keeps its columns.
ALTER TABLE billing.unpriced_entries
    ADD COLUMN IF NOT EXISTS alert_id String DEFAULT '' COMMENT 'the unpriced_requests alert announcing this request; empty: none (hf-inference refusals are counted, not alerted)';
