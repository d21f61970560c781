-- NOT RUN HERE. An example of the cluster variant of nanobill's schema (see ../README.md), written
-- for a ClickHouse cluster with ClickHouse Keeper and the macros {cluster}, {shard} and {replica}
-- defined on every node. No ClickHouse cluster exists on the development machines: this file has
-- not been executed against one, and `nanobill migrate` does not read it (it applies
-- ../migrations/ as written, for one server).
--
-- It is the end state of the migrations (0001..0018) for the core tables (usage, pending, ledger,
-- unpriced, the hourly rollup) and their views, not a migration-by-migration replay.
-- packages/clickhouse/test/cluster-example.it.test.ts checks that its tables have the columns
-- and types, and its views the columns, that the migrations give them. Naming: the replicated
-- table of each shard is `<name>_local`; the Distributed table over them keeps the name the code
-- queries and inserts into, so the services run unchanged. Each Distributed table is sharded by
-- the key its rows are deduplicated by (see the README for why).

CREATE DATABASE IF NOT EXISTS billing ON CLUSTER '{cluster}';

-- The migrations' record: ONE replicated table shared by every node of every shard (a fixed
-- path, no {shard}), so that any node answers "which migrations are applied" the same way.
CREATE TABLE IF NOT EXISTS billing.schema_migrations ON CLUSTER '{cluster}'
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
ORDER BY version;

-- billing.usage ---------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS billing.usage_local ON CLUSTER '{cluster}'
(
    request_id          String,
    event_time          DateTime64(3, 'UTC'),
    user_id             String,
    bill_to             Nullable(String),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    provider_model_id   Nullable(String),
    task                LowCardinality(String),
    billing_mode        Enum8('routed' = 1, 'custom_key' = 2),
    provider_request_id Nullable(String),
    status              UInt16,
    input_tokens        Nullable(UInt64),
    output_tokens       Nullable(UInt64),
    compute_time_ms     Nullable(UInt64),
    hardware            LowCardinality(Nullable(String)),
    extra               String DEFAULT '{}',
    schema_version      UInt8,
    source_partition    UInt32,
    source_offset       UInt64,
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), request_id);

-- A redelivered event is the same request id, so the same shard.
CREATE TABLE IF NOT EXISTS billing.usage ON CLUSTER '{cluster}' AS billing.usage_local
ENGINE = Distributed('{cluster}', 'billing', 'usage_local', cityHash64(request_id));

-- billing.pricing_pending, billing.ledger_entries, billing.unpriced_entries: one sharding key,
-- (provider, provider_request_id), so the three tables of one request live on one shard.
CREATE TABLE IF NOT EXISTS billing.pricing_pending_local ON CLUSTER '{cluster}'
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
    source_partition    UInt32,
    compute_time_ms     Nullable(UInt64),
    hardware            Nullable(String),
    input_tokens        Nullable(UInt64),
    output_tokens       Nullable(UInt64)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(first_seen_at)
ORDER BY (source_partition, provider, provider_request_id)
TTL toDateTime(first_seen_at) + INTERVAL 60 DAY;

CREATE TABLE IF NOT EXISTS billing.pricing_pending ON CLUSTER '{cluster}' AS billing.pricing_pending_local
ENGINE = Distributed('{cluster}', 'billing', 'pricing_pending_local', cityHash64(provider, provider_request_id));

CREATE TABLE IF NOT EXISTS billing.ledger_entries_local ON CLUSTER '{cluster}'
(
    provider            LowCardinality(String),
    provider_request_id String,
    request_id          String,
    event_time          DateTime64(3, 'UTC'),
    priced_at           DateTime64(3, 'UTC'),
    user_id             String,
    billed_account      String,
    attribution         LowCardinality(String),
    attribution_reason  String DEFAULT '',
    bill_to             Nullable(String),
    model               LowCardinality(String),
    task                LowCardinality(String),
    cost_nano_usd       Int64,
    cost_source         LowCardinality(String),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    input_tokens        Nullable(UInt64),
    output_tokens       Nullable(UInt64),
    INDEX inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id);

-- Two copies of one priced request (a race between two pricing instances) hash to the same
-- shard; FINAL, applied by each shard to its own rows, keeps one.
CREATE TABLE IF NOT EXISTS billing.ledger_entries ON CLUSTER '{cluster}' AS billing.ledger_entries_local
ENGINE = Distributed('{cluster}', 'billing', 'ledger_entries_local', cityHash64(provider, provider_request_id));

CREATE OR REPLACE VIEW billing.ledger ON CLUSTER '{cluster}' AS
SELECT provider, provider_request_id, request_id, event_time, priced_at, user_id, billed_account,
       attribution, attribution_reason, bill_to, model, task, cost_nano_usd, cost_source,
       input_tokens, output_tokens
FROM billing.ledger_entries FINAL;

CREATE TABLE IF NOT EXISTS billing.unpriced_entries_local ON CLUSTER '{cluster}'
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
    reason              String,
    alert_id            String DEFAULT '' COMMENT 'the unpriced_requests alert announcing this request (0009)',
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when the row was stored (0016)',
    INDEX inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(event_time)
ORDER BY (provider, provider_request_id);

CREATE TABLE IF NOT EXISTS billing.unpriced_entries ON CLUSTER '{cluster}' AS billing.unpriced_entries_local
ENGINE = Distributed('{cluster}', 'billing', 'unpriced_entries_local', cityHash64(provider, provider_request_id));

-- The view's columns are those of 0002 (fixed when a view is created): alert_id and inserted_at
-- are plumbing, as in the migrations.
CREATE VIEW IF NOT EXISTS billing.unpriced ON CLUSTER '{cluster}' AS
SELECT provider, provider_request_id, request_id, event_time, user_id, bill_to, model, task,
       first_seen_at, unpriced_at, reason
FROM billing.unpriced_entries FINAL;

-- Requests still waiting for their cost (0018): pending rows whose key has neither a ledger nor
-- an unpriced row. The three tables share their sharding key, so a key's rows are on one shard.
CREATE VIEW IF NOT EXISTS billing.open_pending ON CLUSTER '{cluster}' AS
SELECT provider, provider_request_id, request_id, event_time, user_id, bill_to, model, task,
       first_seen_at, source_partition, compute_time_ms, hardware, input_tokens, output_tokens
FROM billing.pricing_pending
WHERE (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.ledger_entries)
  AND (provider, provider_request_id) NOT IN (SELECT provider, provider_request_id FROM billing.unpriced_entries);

-- billing.usage_hourly: the rollup lives next to the ledger rows it sums. The materialized view
-- is attached to the LOCAL ledger table, so it fires on the shard (and replica) that receives a
-- block, and writes to that shard's local rollup; reads sum() over every shard.
CREATE TABLE IF NOT EXISTS billing.usage_hourly_local ON CLUSTER '{cluster}'
(
    billed_account String,
    hour           DateTime('UTC'),
    user_id        String,
    provider       LowCardinality(String),
    model          LowCardinality(String),
    task           LowCardinality(String),
    requests       Int64 COMMENT 'signed since 0014: the corrections take requests away',
    input_tokens   Int64,
    output_tokens  Int64,
    cost_nano_usd  Int128 COMMENT 'a sum of costs: Int128, which no number of requests overflows'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}',
                                    (requests, input_tokens, output_tokens, cost_nano_usd))
PARTITION BY toYYYYMM(hour)
ORDER BY (billed_account, hour, user_id, provider, model, task);

-- Read-only in normal operation (rows come from the view); the sharding key only places the
-- rows of a direct INSERT such as a backfill, and any key keeps sum() exact.
CREATE TABLE IF NOT EXISTS billing.usage_hourly ON CLUSTER '{cluster}' AS billing.usage_hourly_local
ENGINE = Distributed('{cluster}', 'billing', 'usage_hourly_local', cityHash64(billed_account));

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.usage_hourly_mv ON CLUSTER '{cluster}'
TO billing.usage_hourly_local AS
SELECT billed_account, toStartOfHour(event_time, 'UTC') AS hour, user_id, provider, model, task,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(toInt128(cost_nano_usd)) AS cost_nano_usd
FROM billing.ledger_entries_local
GROUP BY billed_account, hour, user_id, provider, model, task;
