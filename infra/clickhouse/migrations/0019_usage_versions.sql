-- A version of each account's usage graphs, cheap to read: the API keeps usage answers while it is
-- unchanged (services/api/src/usage-cache.ts). It counts the rows ever inserted into the two
-- rollups the graphs read (billing.usage_by_key_hourly and _daily), so it grows with every insert
-- that can change an answer (the ledger's views and the rollup corrections' views alike) and
-- never goes back (merges fold rows without inserting; nothing deletes from the rollups).
--
-- Fed by views ON the rollups, not on the ledger: ClickHouse commits a table's part before the
-- inserts of the views attached to it, so a version that counts a rollup part is read only after
-- that part is visible. A reader that takes the version first and the answer second therefore
-- never keeps an answer missing rows the version already counts (it may hold more: the next
-- version misses it, which is safe).
CREATE TABLE IF NOT EXISTS billing.usage_versions
(
    billed_account String,
    rollup_rows    UInt64 COMMENT 'rows inserted into the usage_by_key rollups for the account, ever'
)
ENGINE = SummingMergeTree(rollup_rows)
ORDER BY billed_account;

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.usage_versions_hourly_mv TO billing.usage_versions AS
SELECT billed_account, count() AS rollup_rows
FROM billing.usage_by_key_hourly
GROUP BY billed_account;

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.usage_versions_daily_mv TO billing.usage_versions AS
SELECT billed_account, count() AS rollup_rows
FROM billing.usage_by_key_daily
GROUP BY billed_account;
