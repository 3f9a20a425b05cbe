-- Logins (DESIGN.md §3): one row per refresh-token family, so an account
-- can list where it is signed in and end a login. `last_used_at` and
-- `expires_at` follow the newest refresh token of the family; `ended_at`
-- is set when the login ends (sign-out, reuse detection, a new password,
-- or ended from another login).
CREATE TABLE logins (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    user_agent TEXT,
    ended_at TIMESTAMP
);
CREATE INDEX logins_user_idx ON logins (user_id, last_used_at);

-- The families that exist already become logins (without a user agent).
INSERT INTO logins (id, user_id, created_at, last_used_at, expires_at, ended_at)
SELECT family_id, MIN(user_id), MIN(created_at), MAX(created_at), MAX(expires_at),
       CASE WHEN COUNT(revoked_at) = COUNT(*) THEN MAX(revoked_at) END
FROM refresh_tokens
GROUP BY family_id;

-- A change of address is confirmed by a link mailed to the new address.
-- SQLite cannot alter a CHECK: the (small) table is rebuilt.
CREATE TABLE account_tokens_new (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL
        CHECK (purpose IN ('password_reset', 'verify_email', 'change_email')),
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
INSERT INTO account_tokens_new
    (token_hash, user_id, purpose, email, created_at, expires_at, used_at)
SELECT token_hash, user_id, purpose, email, created_at, expires_at, used_at
FROM account_tokens;
DROP TABLE account_tokens;
ALTER TABLE account_tokens_new RENAME TO account_tokens;
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
