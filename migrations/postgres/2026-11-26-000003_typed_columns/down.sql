ALTER TABLE idempotency_keys ADD COLUMN status INTEGER NOT NULL DEFAULT 201;
ALTER TABLE records
    DROP CONSTRAINT records_author_role,
    DROP CONSTRAINT records_pain_entry_level,
    DROP CONSTRAINT records_massage_session_duration,
    DROP CONSTRAINT records_stretch_session_values,
    DROP COLUMN stretch_id,
    DROP COLUMN duration_seconds,
    DROP COLUMN duration_minutes,
    DROP COLUMN started_at,
    DROP COLUMN recorded_at,
    DROP COLUMN pain_level;
