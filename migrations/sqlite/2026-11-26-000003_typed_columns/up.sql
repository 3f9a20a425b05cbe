-- Typed, checked columns for what the server filters, orders and aggregates
-- on. They are the only copy of these values: the JSON in `data` keeps the
-- rest of each object. SQLite cannot add CHECK constraints to a table, so
-- the table is rebuilt (nothing references `records`), and the values are
-- copied out of the JSON of the rows a previous release wrote.
CREATE TABLE records_new (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    date DATE,
    author_id TEXT NOT NULL,
    author_role TEXT NOT NULL CHECK (author_role IN ('patient', 'therapist')),
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    change_seq BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    natural_key TEXT,
    -- Pain entries.
    pain_level INTEGER CHECK (pain_level BETWEEN 0 AND 10),
    recorded_at TIMESTAMP,
    -- Massage sessions.
    started_at TIMESTAMP,
    duration_minutes INTEGER CHECK (duration_minutes BETWEEN 1 AND 300),
    -- Stretch sessions.
    duration_seconds INTEGER CHECK (duration_seconds BETWEEN 1 AND 7200),
    stretch_id TEXT,
    -- A live object has the values its kind cannot do without.
    CONSTRAINT records_pain_entry_level
        CHECK (kind <> 'pain_entry' OR deleted_at IS NOT NULL OR pain_level IS NOT NULL),
    CONSTRAINT records_massage_session_duration
        CHECK (kind <> 'massage_session' OR deleted_at IS NOT NULL OR duration_minutes IS NOT NULL),
    CONSTRAINT records_stretch_session_values
        CHECK (kind <> 'stretch_session' OR deleted_at IS NOT NULL
               OR (duration_seconds IS NOT NULL AND stretch_id IS NOT NULL))
);

-- Timestamps in the JSON are RFC 3339 UTC ("2026-11-25T08:00:00.5Z"); the
-- column holds diesel's form ("2026-11-25 08:00:00.5"), truncated to the
-- microsecond as new writes are. One outside the years 1900-9999 (which the
-- API now refuses) is left NULL, its raw value still in `data`.
INSERT INTO records_new
SELECT id, patient_id, kind, date, author_id, author_role, data, version, change_seq,
       created_at, updated_at, deleted_at, natural_key,
       CASE kind WHEN 'pain_entry' THEN json_extract(data, '$.pain_level') END,
       CASE WHEN kind = 'pain_entry' AND json_extract(data, '$.recorded_at')
                GLOB '[1-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*Z'
            AND substr(json_extract(data, '$.recorded_at'), 1, 4) >= '1900'
           THEN substr(replace(replace(json_extract(data, '$.recorded_at'), 'T', ' '), 'Z', ''), 1, 26) END,
       CASE WHEN kind = 'massage_session' AND json_extract(data, '$.started_at')
                GLOB '[1-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*Z'
            AND substr(json_extract(data, '$.started_at'), 1, 4) >= '1900'
           THEN substr(replace(replace(json_extract(data, '$.started_at'), 'T', ' '), 'Z', ''), 1, 26) END,
       CASE kind WHEN 'massage_session' THEN json_extract(data, '$.duration_minutes') END,
       CASE kind WHEN 'stretch_session' THEN json_extract(data, '$.duration_seconds') END,
       CASE kind WHEN 'stretch_session' THEN json_extract(data, '$.stretch_id') END
FROM records;

DROP TABLE records;
ALTER TABLE records_new RENAME TO records;

CREATE INDEX records_list_idx ON records (patient_id, kind, date, id);
CREATE UNIQUE INDEX records_feed_idx ON records (patient_id, change_seq);
CREATE UNIQUE INDEX records_natural_key_idx ON records (patient_id, kind, natural_key);

-- The saved status of an idempotent POST was never read: it is always 201.
ALTER TABLE idempotency_keys DROP COLUMN status;
