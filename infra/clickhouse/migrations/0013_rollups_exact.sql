-- The usage rollups (0006, 0008) equal billing.ledger even when a priced request reaches
-- billing.ledger_entries twice (two pricing instances racing, a replayed writer): the materialized
-- views see every raw insert, while the ledger's FINAL keeps one row per request. Every raw insert
-- is now kept in billing.ledger_inserts, and the statements singleton corrects the rollups for
-- each request inserted more than once (billing.rollup_corrections, README "billing.usage_hourly").

-- Corrections take requests and tokens away: the rollups' counts become signed (sums are read
-- with sum() as before; a SummingMergeTree row whose sums all reach 0 is dropped by merges).
ALTER TABLE billing.usage_hourly MODIFY COLUMN requests Int64 COMMENT 'priced requests';
ALTER TABLE billing.usage_hourly MODIFY COLUMN input_tokens Int64 COMMENT 'requests without usage count 0';
ALTER TABLE billing.usage_hourly MODIFY COLUMN output_tokens Int64;
ALTER TABLE billing.usage_by_key_hourly MODIFY COLUMN requests Int64;
ALTER TABLE billing.usage_by_key_hourly MODIFY COLUMN input_tokens Int64;
ALTER TABLE billing.usage_by_key_hourly MODIFY COLUMN output_tokens Int64;
ALTER TABLE billing.usage_by_key_daily MODIFY COLUMN requests Int64;
ALTER TABLE billing.usage_by_key_daily MODIFY COLUMN input_tokens Int64;
ALTER TABLE billing.usage_by_key_daily MODIFY COLUMN output_tokens Int64;

-- Every raw insert into the ledger, as the rollups saw it; never merged (MergeTree), so a request
-- inserted twice stays visible as two rows whatever the ledger's merges do. Keyed like the ledger:
-- the corrections look requests up by key.
CREATE TABLE IF NOT EXISTS billing.ledger_inserts
(
    provider            LowCardinality(String),
    provider_request_id String,
    billed_account      String,
    event_time          DateTime64(3, 'UTC'),
    user_id             String,
    model               LowCardinality(String),
    task                LowCardinality(String),
    input_tokens        Nullable(UInt64),
    output_tokens       Nullable(UInt64),
    cost_nano_usd       Int64,
    inserted_at         DateTime64(3, 'UTC') COMMENT 'billing.ledger_entries.inserted_at of this raw row',
    INDEX inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.ledger_inserts_mv TO billing.ledger_inserts AS
SELECT provider, provider_request_id, billed_account, event_time, user_id, model, task,
       input_tokens, output_tokens, cost_nano_usd, inserted_at
FROM billing.ledger_entries;

-- The ledger's rows from before this migration, raw (duplicates not merged away yet included, so
-- that they are corrected too). Only rows older than the first one the view copied, of requests
-- it has not copied: safe to run again, and beside a pricing service that keeps writing.
INSERT INTO billing.ledger_inserts
SELECT provider, provider_request_id, billed_account, event_time, user_id, model, task,
       input_tokens, output_tokens, cost_nano_usd, inserted_at
FROM billing.ledger_entries
WHERE inserted_at < (SELECT if(count() = 0, now64(3), min(inserted_at)) FROM billing.ledger_inserts)
  AND (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.ledger_inserts);

-- What the rollups must add (negative: take away) for requests inserted more than once, per
-- request and rollup key: the ledger's row (+1) minus every raw insert. Its own views add it to
-- the three rollups, as the ledger's views do for priced requests.
CREATE TABLE IF NOT EXISTS billing.rollup_corrections
(
    provider            LowCardinality(String),
    provider_request_id String,
    billed_account      String,
    event_time          DateTime64(3, 'UTC'),
    user_id             String,
    model               LowCardinality(String),
    task                LowCardinality(String),
    requests            Int64,
    input_tokens        Int64,
    output_tokens       Int64,
    cost_nano_usd       Int128,
    corrected_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.rollup_corrections_hourly_mv TO billing.usage_hourly AS
SELECT billed_account, toStartOfHour(event_time, 'UTC') AS hour, user_id, provider, model, task,
       sum(requests) AS requests,
       sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.rollup_corrections
GROUP BY billed_account, hour, user_id, provider, model, task;

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.rollup_corrections_by_key_hourly_mv TO billing.usage_by_key_hourly AS
SELECT billed_account, d.1 AS dimension, d.2 AS key, toStartOfHour(event_time, 'UTC') AS hour,
       sum(requests) AS requests,
       sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.rollup_corrections
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
GROUP BY billed_account, dimension, key, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.rollup_corrections_by_key_daily_mv TO billing.usage_by_key_daily AS
SELECT billed_account, d.1 AS dimension, d.2 AS key, toDate(event_time, 'UTC') AS day,
       sum(requests) AS requests,
       sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.rollup_corrections
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
GROUP BY billed_account, dimension, key, day;

-- How far the corrections have looked: raw inserts from `checked_until` minus an overlap on are
-- looked at again by the next pass.
CREATE TABLE IF NOT EXISTS billing.rollup_checks
(
    checked_until DateTime64(3, 'UTC'),
    corrected     UInt64 COMMENT 'correction rows written by the pass'
)
ENGINE = MergeTree
ORDER BY checked_until
TTL toDateTime(checked_until) + INTERVAL 30 DAY;
