-- Each account's webhook signing secrets: generated on first use, shown once,
-- rotatable with an overlap window. Rows are never changed: a rotation inserts the next version.
-- The secret in force is the highest version's first row (by the server's insert time, then
-- secret_id), so processes that generate one at the same moment all settle on the same one; the
-- version before it stays valid until previous_valid_until. Secrets are stored encrypted
-- (AES-256-GCM under NANOBILL_SECRETS_KEY), never in clear. Not for finance.
CREATE TABLE IF NOT EXISTS billing.webhook_secrets
(
    account_id           String,
    version              UInt32                         COMMENT '1 for the first secret, +1 per rotation',
    secret_id            String                         COMMENT 'random hex id of this secret (also in the encryption''s associated data)',
    sealed               String                         COMMENT 'v1.<key id>.<base64url nonce|tag|ciphertext>: AES-256-GCM of the secret',
    previous_valid_until Nullable(DateTime64(3, 'UTC')) COMMENT 'until when the previous version still signs and verifies; NULL: not at all',
    created_at           DateTime64(3, 'UTC')           COMMENT 'the writer''s clock',
    inserted_at          DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'the server''s clock: the first insert of a version wins'
)
ENGINE = MergeTree
ORDER BY (account_id, version, inserted_at, secret_id);
