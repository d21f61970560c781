-- Usage graphs read one row per bucket and key: the hourly rollup by (member, provider, model,
-- task) still holds about one row per priced request when an org has many members and models
-- (1M requests → 850k rows), too many for a 30-day graph to answer in 100 ms. These tables keep,
-- per billed account, one row per hour (or UTC day) and value of ONE dimension: a 30-day graph by
-- member reads at most members × 720 rows by hour, members × 30 by day (a window's partial days
-- at its edges come from the hourly table).
CREATE TABLE IF NOT EXISTS billing.usage_by_key_hourly
(
    billed_account String,
    dimension      LowCardinality(String) COMMENT 'member | provider | model | task',
    key            String                 COMMENT 'the user id, provider, model or task',
    hour           DateTime('UTC'),
    requests       UInt64,
    input_tokens   UInt64,
    output_tokens  UInt64,
    cost_nano_usd  Int64
)
ENGINE = SummingMergeTree((requests, input_tokens, output_tokens, cost_nano_usd))
PARTITION BY toYYYYMM(hour)
ORDER BY (billed_account, dimension, hour, key);

CREATE TABLE IF NOT EXISTS billing.usage_by_key_daily
(
    billed_account String,
    dimension      LowCardinality(String) COMMENT 'member | provider | model | task',
    key            String,
    day            Date                   COMMENT 'toDate(event_time, ''UTC'')',
    requests       UInt64,
    input_tokens   UInt64,
    output_tokens  UInt64,
    cost_nano_usd  Int64
)
ENGINE = SummingMergeTree((requests, input_tokens, output_tokens, cost_nano_usd))
PARTITION BY toYYYYMM(day)
ORDER BY (billed_account, dimension, day, key);

-- Each ledger row is counted once per dimension (ARRAY JOIN over the four).
CREATE MATERIALIZED VIEW IF NOT EXISTS billing.usage_by_key_hourly_mv TO billing.usage_by_key_hourly AS
SELECT billed_account, d.1 AS dimension, d.2 AS key, toStartOfHour(event_time, 'UTC') AS hour,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.ledger_entries
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
GROUP BY billed_account, dimension, key, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.usage_by_key_daily_mv TO billing.usage_by_key_daily AS
SELECT billed_account, d.1 AS dimension, d.2 AS key, toDate(event_time, 'UTC') AS day,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(cost_nano_usd) AS cost_nano_usd
FROM billing.ledger_entries
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
GROUP BY billed_account, dimension, key, day;

-- Backfill from the hourly rollup (already the whole ledger), once each.
INSERT INTO billing.usage_by_key_hourly
SELECT billed_account, d.1 AS dimension, d.2 AS key, hour,
       sum(requests), sum(input_tokens), sum(output_tokens), sum(cost_nano_usd)
FROM billing.usage_hourly
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
WHERE (SELECT count() FROM billing.usage_by_key_hourly) = 0
GROUP BY billed_account, dimension, key, hour;

INSERT INTO billing.usage_by_key_daily
SELECT billed_account, d.1 AS dimension, d.2 AS key, toDate(hour, 'UTC') AS day,
       sum(requests), sum(input_tokens), sum(output_tokens), sum(cost_nano_usd)
FROM billing.usage_hourly
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
WHERE (SELECT count() FROM billing.usage_by_key_daily) = 0
GROUP BY billed_account, dimension, key, day;
