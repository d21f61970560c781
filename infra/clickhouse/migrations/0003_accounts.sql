-- Account facts (PRODUCT.md §5). billing.accounts.v1 is compacted and keeps only the latest
-- snapshot of each account; the rules look at the facts in force at a request's time, so every
-- snapshot consumed is kept here. Append-only; a snapshot seen twice is harmless (readers keep
-- one per account and effectiveAt).
CREATE TABLE IF NOT EXISTS billing.account_snapshots
(
    account_id              String,
    kind                    LowCardinality(String)   COMMENT 'user | org',
    plan                    LowCardinality(String)   COMMENT 'users: free | pro; orgs: free | team | enterprise',
    effective_at            DateTime64(3, 'UTC')     COMMENT 'from when this snapshot is true',
    seats                   Nullable(UInt32)         COMMENT 'orgs',
    members                 Array(String)            COMMENT 'orgs: user ids',
    spending_limit_nano_usd Nullable(Int64)          COMMENT 'orgs: monthly limit on gross routed cost, nano-USD',
    disabled_providers      Array(String),
    alert_webhook_url       Nullable(String),
    snapshot                String                   COMMENT 'the snapshot as received (JSON), unknown fields included',
    ingested_at             DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (account_id, effective_at);

-- hf-inference requests wait in the same list as the others: they are priced in the round,
-- after their account facts are known.
ALTER TABLE billing.pricing_pending ADD COLUMN IF NOT EXISTS compute_time_ms Nullable(UInt64);
ALTER TABLE billing.pricing_pending ADD COLUMN IF NOT EXISTS hardware Nullable(String);
