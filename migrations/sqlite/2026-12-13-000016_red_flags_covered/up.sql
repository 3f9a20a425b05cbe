-- The overview and the daily series read each pain entry's red flags next
-- to its level, and the trends each stretch session's stretch (adherence
-- is judged per stretch): the covering index holds both, so every part of
-- those reads uses the index alone again (SQLite does only when the index
-- holds every column named).
DROP INDEX records_live_idx;
CREATE INDEX records_live_idx ON records (patient_id, kind, date, id, pain_level, duration_seconds, started_at, deleted_at, red_flags, stretch_id)
    WHERE deleted_at IS NULL;
