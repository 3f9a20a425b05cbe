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

-- Read from the JSON of the rows a previous release wrote. jsonb refuses
-- the escape \u0000, which a note may hold; none of the values read here is
-- text, so replacing it for the parse loses nothing (`data` is not written).
-- A timestamp is kept to the microsecond, truncated as new writes are; one
-- outside the years 1900-9999 (which PostgreSQL may not hold, and which the
-- API now refuses) is left NULL, its raw value still in `data`.
CREATE OR REPLACE FUNCTION pg_temp.painline_json(data TEXT) RETURNS JSONB
    LANGUAGE sql IMMUTABLE AS $$ SELECT replace(data, E'\\u0000', E'\\u0001')::jsonb $$;
CREATE OR REPLACE FUNCTION pg_temp.painline_instant(v TEXT) RETURNS TIMESTAMP
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN v ~ E'^(19|[2-9][0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'
        THEN regexp_replace(v, E'(\\.[0-9]{6})[0-9]+', E'\\1')::timestamptz AT TIME ZONE 'UTC'
    END $$;

UPDATE records SET
    pain_level = (pg_temp.painline_json(data) ->> 'pain_level')::integer,
    recorded_at = pg_temp.painline_instant(pg_temp.painline_json(data) ->> 'recorded_at')
WHERE kind = 'pain_entry' AND deleted_at IS NULL;
UPDATE records SET
    started_at = pg_temp.painline_instant(pg_temp.painline_json(data) ->> 'started_at'),
    duration_minutes = (pg_temp.painline_json(data) ->> 'duration_minutes')::integer
WHERE kind = 'massage_session' AND deleted_at IS NULL;
UPDATE records SET
    duration_seconds = (pg_temp.painline_json(data) ->> 'duration_seconds')::integer,
    stretch_id = pg_temp.painline_json(data) ->> 'stretch_id'
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

DROP FUNCTION pg_temp.painline_json(TEXT);
DROP FUNCTION pg_temp.painline_instant(TEXT);
