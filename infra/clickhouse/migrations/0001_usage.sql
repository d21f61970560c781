-- One row per routed request, custom-key ones included (PRODUCT.md §8).
-- Exact without FINAL: the ingest service checks request ids before it inserts, so a redelivered
-- event never becomes a second row. The sort key starts with the event's day so that this check
-- reads only the days a batch touches.
CREATE TABLE IF NOT EXISTS billing.usage
(
    request_id          String                          COMMENT 'router request id, unique per request',
    event_time          DateTime64(3, 'UTC')            COMMENT 'when the request finished at the router',
    user_id             String                          COMMENT 'authenticated user',
    bill_to             Nullable(String)                COMMENT 'X-HF-Bill-To header value (an org name), if sent',
    provider            LowCardinality(String),
    model               LowCardinality(String)          COMMENT 'HF model id',
    provider_model_id   Nullable(String),
    task                LowCardinality(String)          COMMENT 'pipeline tag',
    billing_mode        Enum8('routed' = 1, 'custom_key' = 2),
    provider_request_id Nullable(String)                COMMENT 'provider response id; NULL when the provider was never reached',
    status              UInt16                          COMMENT 'HTTP status returned to the client',
    input_tokens        Nullable(UInt64),
    output_tokens       Nullable(UInt64),
    compute_time_ms     Nullable(UInt64)                COMMENT 'hf-inference only',
    hardware            LowCardinality(Nullable(String)) COMMENT 'hf-inference only',
    extra               String DEFAULT '{}'             COMMENT 'event fields unknown to this version, as JSON',
    schema_version      UInt8,
    source_partition    UInt32                          COMMENT 'Kafka partition of inference.requests.v1',
    source_offset       UInt64                          COMMENT 'Kafka offset of inference.requests.v1',
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), request_id);
