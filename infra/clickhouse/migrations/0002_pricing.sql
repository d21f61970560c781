-- Pricing (PRODUCT.md §3, §4, §8). Amounts are Int64 nano-USD.

-- Requests waiting for their cost, as the pricing service consumed them. Append-only: a request
-- is resolved by a row in ledger_entries or unpriced_entries, never by changing this table.
-- Kafka offsets are committed once these rows are stored, so pending work survives restarts.
CREATE TABLE IF NOT EXISTS billing.pricing_pending
(
    provider            LowCardinality(String),
    provider_request_id String,
    request_id          String,
    event_time          DateTime64(3, 'UTC'),
    user_id             String,
    bill_to             Nullable(String),
    model               LowCardinality(String),
    task                LowCardinality(String),
    first_seen_at       DateTime64(3, 'UTC') COMMENT 'when the pricing service first consumed the request: the deadline counts from here',
    source_partition    UInt32
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(first_seen_at)
ORDER BY (source_partition, provider, provider_request_id)
TTL toDateTime(first_seen_at) + INTERVAL 60 DAY;

-- One row per priced request. Rows are written once (checked before insert); the table's key is
-- the uniqueness rule, and the billing.ledger view reads it with FINAL, so even a row written
-- twice by a race between two instances is counted once, without waiting for merges.
CREATE TABLE IF NOT EXISTS billing.ledger_entries
(
    provider            LowCardinality(String),
    provider_request_id String                 COMMENT 'the id sent to the provider cost endpoint',
    request_id          String                 COMMENT 'router request id (billing.usage.request_id)',
    event_time          DateTime64(3, 'UTC')   COMMENT 'when the request finished at the router',
    priced_at           DateTime64(3, 'UTC')   COMMENT 'when nanobill received the cost',
    user_id             String,
    billed_account      String                 COMMENT 'the account that pays: an org (X-HF-Bill-To) or the user',
    attribution         LowCardinality(String) COMMENT 'org | user | user_fallback',
    attribution_reason  String DEFAULT ''      COMMENT 'why a user_fallback row was not billed to the org',
    bill_to             Nullable(String)       COMMENT 'X-HF-Bill-To as sent',
    model               LowCardinality(String),
    task                LowCardinality(String),
    cost_nano_usd       Int64                  COMMENT 'nano-USD (1e-9 USD)',
    cost_source         LowCardinality(String) COMMENT 'provider_api | hf_compute_time'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id);

CREATE VIEW IF NOT EXISTS billing.ledger AS
SELECT * FROM billing.ledger_entries FINAL;

-- Requests past the pricing deadline without a valid cost. Same write-once rule as the ledger.
CREATE TABLE IF NOT EXISTS billing.unpriced_entries
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
    unpriced_at         DateTime64(3, 'UTC'),
    reason              String                 COMMENT 'the last problem seen, e.g. a negative cost or no answer'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id);

CREATE VIEW IF NOT EXISTS billing.unpriced AS
SELECT * FROM billing.unpriced_entries FINAL;
