CREATE TABLE account_tokens_old (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
INSERT INTO account_tokens_old
    (token_hash, user_id, purpose, email, created_at, expires_at, used_at)
SELECT token_hash, user_id, purpose, email, created_at, expires_at, used_at
FROM account_tokens WHERE purpose <> 'change_email';
DROP TABLE account_tokens;
ALTER TABLE account_tokens_old RENAME TO account_tokens;
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
DROP TABLE logins;
