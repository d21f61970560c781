-- API tokens (PRODUCT.md §8: an org admin sees only their own org). Only a SHA-256 of each
-- token's secret is stored; the token itself is shown once, when created. A token is revoked
-- or re-dated by inserting a newer version of its row (version = updated_at).
CREATE TABLE IF NOT EXISTS billing.api_tokens
(
    token_id    String                          COMMENT 'public part of the token, e.g. the 12 hex digits in nbk_<id>_<secret>',
    kind        LowCardinality(String)          COMMENT 'org | finance | router',
    org         Nullable(String)                COMMENT 'org tokens: the only org they may see',
    secret_hash String                          COMMENT 'hex SHA-256 of the secret part',
    label       String DEFAULT '',
    created_at  DateTime64(3, 'UTC'),
    expires_at  Nullable(DateTime64(3, 'UTC')),
    revoked_at  Nullable(DateTime64(3, 'UTC')),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY token_id;
