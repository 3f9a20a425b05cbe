-- Reminders (patients) and weekly digests (therapists), DESIGN.md §3: one
-- row per user and kind. `local_time` (HH:MM) on `days` (mon,…,sun) in the
-- user's time zone; `next_due_at` is that as a UTC instant, and `due_date`
-- the local date it is for (both NULL while disabled); `handled_date` is
-- the last local date a mail was queued or skipped for, so no local date
-- gets two. `version` is the settings' version (ETag; unsubscribing is a
-- change too). Instances find due rows through the partial index, one query
-- per wake-up, and claim them under a row lock.
CREATE TABLE mail_schedules (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('reminder', 'digest')),
    enabled BOOLEAN NOT NULL,
    local_time TEXT NOT NULL,
    days TEXT NOT NULL,
    next_due_at TIMESTAMP,
    due_date DATE,
    handled_date DATE,
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE INDEX mail_schedules_due_idx ON mail_schedules (next_due_at)
    WHERE next_due_at IS NOT NULL;

-- One-click unsubscribe links (RFC 8058), one per mail, stored hashed: a
-- token turns off the one schedule it was sent for, and nothing else.
CREATE TABLE unsubscribe_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('reminder', 'digest')),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX unsubscribe_tokens_created_idx ON unsubscribe_tokens (created_at);
