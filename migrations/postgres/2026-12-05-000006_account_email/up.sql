-- Account e-mail: whether the address is verified, the one-time tokens that
-- mails carry, the mail outbox and the requests for mail, for throttling.

ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMP;

-- One-time tokens sent by mail (password reset, address verification),
-- stored only as SHA-256 hashes. A newer one of the same purpose voids the
-- older ones (`used_at` set without use).
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Every mail, written in the transaction of the request that causes it and
-- sent by the background sender. `claimed_until` is the lease of the
-- instance sending it; `sent_at` or `given_up_at` ends its life. The
-- message is kept formatted (RFC 5322), so a retry sends the same bytes
-- with the same Message-ID. Not tied to users: a mail to an account that
-- is erased meanwhile is still a mail that was promised.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    given_up_at TIMESTAMP
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND given_up_at IS NULL;

-- Requests that send mail to an address given by the caller (password
-- reset, a new verification mail), for throttling across instances.
CREATE TABLE mail_requests (
    id TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX mail_requests_email_idx ON mail_requests (purpose, email, at);
CREATE INDEX mail_requests_ip_idx ON mail_requests (purpose, client_ip, at);
