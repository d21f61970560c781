-- No sum of money can overflow (PRODUCT §3). One request's cost fits an Int64 (the ceilings of
-- the providers file are checked against it), but the rollups add costs up, twice: the
-- materialized views sum each insert block, and background merges of a SummingMergeTree add rows
-- of one key together, silently wrapping past 2^63-1 nano-USD (about $9.2 billion). Both now add
-- in Int128, whose range no number of requests can leave.
ALTER TABLE billing.usage_hourly MODIFY COLUMN cost_nano_usd Int128 COMMENT 'nano-USD (1e-9 USD); Int128: a sum of costs';
ALTER TABLE billing.usage_by_key_hourly MODIFY COLUMN cost_nano_usd Int128;
ALTER TABLE billing.usage_by_key_daily MODIFY COLUMN cost_nano_usd Int128;

ALTER TABLE billing.usage_hourly_mv MODIFY QUERY
SELECT billed_account, toStartOfHour(event_time, 'UTC') AS hour, user_id, provider, model, task,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(toInt128(cost_nano_usd)) AS cost_nano_usd
FROM billing.ledger_entries
GROUP BY billed_account, hour, user_id, provider, model, task;

ALTER TABLE billing.usage_by_key_hourly_mv MODIFY QUERY
SELECT billed_account, d.1 AS dimension, d.2 AS key, toStartOfHour(event_time, 'UTC') AS hour,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(toInt128(cost_nano_usd)) AS cost_nano_usd
FROM billing.ledger_entries
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
GROUP BY billed_account, dimension, key, hour;

ALTER TABLE billing.usage_by_key_daily_mv MODIFY QUERY
SELECT billed_account, d.1 AS dimension, d.2 AS key, toDate(event_time, 'UTC') AS day,
       count() AS requests,
       sum(ifNull(input_tokens, 0)) AS input_tokens,
       sum(ifNull(output_tokens, 0)) AS output_tokens,
       sum(toInt128(cost_nano_usd)) AS cost_nano_usd
FROM billing.ledger_entries
ARRAY JOIN [('member', user_id), ('provider', toString(provider)), ('model', toString(model)), ('task', toString(task))] AS d
GROUP BY billed_account, dimension, key, day;
