-- Typed, checked columns for what the server filters, orders and aggregates
-- on. They are the only copy of these values: the JSON in `data` keeps the
-- rest of each object. Rows a previous release wrote get them from their JSON.
ALTER TABLE records
    ADD CONSTRAINT records_author_role CHECK (author_role IN ('patient', 'therapist')),
    -- Pain entries.
    ADD COLUMN pain_level INTEGER CHECK (pain_level BETWEEN 0 AND 10),
    ADD COLUMN recorded_at TIMESTAMP,
    -- Massage sessions.
    ADD COLUMN started_at TIMESTAMP,
    ADD COLUMN duration_minutes INTEGER CHECK (duration_minutes BETWEEN 1 AND 300),
    -- Stretch sessions.
    ADD COLUMN duration_seconds INTEGER CHECK (duration_seconds BETWEEN 1 AND 7200),
    ADD COLUMN stretch_id TEXT;

UPDATE records SET
    pain_level = (data::jsonb ->> 'pain_level')::integer,
    recorded_at = (data::jsonb ->> 'recorded_at')::timestamptz AT TIME ZONE 'UTC'
WHERE kind = 'pain_entry' AND deleted_at IS NULL;
UPDATE records SET
    started_at = (data::jsonb ->> 'started_at')::timestamptz AT TIME ZONE 'UTC',
    duration_minutes = (data::jsonb ->> 'duration_minutes')::integer
WHERE kind = 'massage_session' AND deleted_at IS NULL;
UPDATE records SET
    duration_seconds = (data::jsonb ->> 'duration_seconds')::integer,
    stretch_id = data::jsonb ->> 'stretch_id'
WHERE kind = 'stretch_session' AND deleted_at IS NULL;

-- A live object has the values its kind cannot do without.
ALTER TABLE records
    ADD CONSTRAINT records_pain_entry_level
        CHECK (kind <> 'pain_entry' OR deleted_at IS NOT NULL OR pain_level IS NOT NULL),
    ADD CONSTRAINT records_massage_session_duration
        CHECK (kind <> 'massage_session' OR deleted_at IS NOT NULL OR duration_minutes IS NOT NULL),
    ADD CONSTRAINT records_stretch_session_values
        CHECK (kind <> 'stretch_session' OR deleted_at IS NOT NULL
               OR (duration_seconds IS NOT NULL AND stretch_id IS NOT NULL));

-- The saved status of an idempotent POST was never read: it is always 201.
ALTER TABLE idempotency_keys DROP COLUMN status;
