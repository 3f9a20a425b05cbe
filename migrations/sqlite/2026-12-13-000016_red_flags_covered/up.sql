-- The overview and the daily series read each pain entry's red flags next
-- to its level: the covering index holds them too, so both still read the
-- index alone (SQLite does only when the index holds every column named).
DROP INDEX records_live_idx;
CREATE INDEX records_live_idx ON records (patient_id, kind, date, id, pain_level, duration_seconds, started_at, deleted_at, red_flags)
    WHERE deleted_at IS NULL;
