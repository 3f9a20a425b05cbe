DROP INDEX records_live_idx;
CREATE INDEX records_live_idx ON records (patient_id, kind, date, id)
    INCLUDE (pain_level, duration_seconds, started_at) WHERE deleted_at IS NULL;
