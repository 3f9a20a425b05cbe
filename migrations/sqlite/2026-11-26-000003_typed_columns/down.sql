ALTER TABLE idempotency_keys ADD COLUMN status INTEGER NOT NULL DEFAULT 201;
ALTER TABLE records DROP COLUMN stretch_id;
ALTER TABLE records DROP COLUMN duration_seconds;
ALTER TABLE records DROP COLUMN duration_minutes;
ALTER TABLE records DROP COLUMN started_at;
ALTER TABLE records DROP COLUMN recorded_at;
ALTER TABLE records DROP COLUMN pain_level;
