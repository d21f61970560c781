-- Requests that reused another request's provider request id (same provider, another request id).
-- The ledger and unpriced tables hold one row per (provider, provider_request_id), kept by the
-- request that reached it first: a reused id cannot be priced (the provider's cost is the first
-- request's) nor unpriced under that key, so the later request is quarantined here, with the
-- reason and the request that keeps the key, and announced by an unpriced_requests alert.
-- Every routed request that reached a provider is in exactly one of billing.ledger,
-- billing.unpriced, billing.pricing_pending (still waiting) and billing.pricing_duplicates.
CREATE TABLE IF NOT EXISTS billing.pricing_duplicates
(
    provider            LowCardinality(String),
    provider_request_id String,
    request_id          String,
    event_time          DateTime64(3, 'UTC'),
    user_id             String,
    bill_to             Nullable(String),
    model               LowCardinality(String),
    task                LowCardinality(String),
    first_seen_at       DateTime64(3, 'UTC'),
    quarantined_at      DateTime64(3, 'UTC'),
    reason              LowCardinality(String) COMMENT 'duplicate_provider_request_id',
    kept_request_id     String                 COMMENT 'the request that keeps the provider request id (its ledger or unpriced row)',
    alert_id            String                 COMMENT 'the unpriced_requests alert announcing it'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id, request_id);
