-- The write path, lighter. A new logbook row touched five indexes; it now touches
-- three, and the lists and the trends read one covering index:
--
-- * records_live_idx serves the lists (newest first by date and id) as
--   well as the overview and the trends (pain levels and stretch seconds
--   summed per day, the sessions, without reading rows). Every one of those reads only
--   live rows, so it replaces records_list_idx, which also held tombstones.
-- * records_natural_key_idx holds only the rows that have a name (a
--   precaution); every other row's NULL never collided anyway.
DROP INDEX records_list_idx;
DROP INDEX records_live_idx;
CREATE INDEX records_live_idx ON records (patient_id, kind, date, id)
    INCLUDE (pain_level, duration_seconds, started_at) WHERE deleted_at IS NULL;
DROP INDEX records_natural_key_idx;
CREATE UNIQUE INDEX records_natural_key_idx ON records (patient_id, kind, natural_key)
    WHERE natural_key IS NOT NULL;


-- A patient's new logbook object in one statement, so an app's PUT of a
-- fresh id costs one prepared round trip (autocommit), where BEGIN, the
-- patient's lock, the insert and COMMIT took four. It does what the
-- service's transaction does, in the same order: lock the patient's row
-- (writes for one patient take turns, so change numbers are handed out in
-- commit order), check that the time zone the body was validated against
-- is still theirs, insert the row as version 1 with the next change number
-- unless its id is taken, and only then move the counter.
--
-- Answers the row's change number, or:
--   0  the id is taken (nothing written; the service reads what is stored),
--  -1  the patient's account is gone,
--  -2  the patient's time zone changed since the body was checked.
CREATE FUNCTION painline_create_record(
    p_patient TEXT,
    p_timezone TEXT,
    p_id TEXT,
    p_kind TEXT,
    p_author TEXT,
    p_author_role TEXT,
    p_data TEXT,
    p_now TIMESTAMP,
    p_date DATE,
    p_natural_key TEXT,
    p_pain_level INTEGER,
    p_recorded_at TIMESTAMP,
    p_started_at TIMESTAMP,
    p_duration_minutes INTEGER,
    p_duration_seconds INTEGER,
    p_stretch_id TEXT
) RETURNS BIGINT
LANGUAGE plpgsql
AS $$
DECLARE
    seq BIGINT;
    zone TEXT;
BEGIN
    SELECT change_seq, timezone INTO seq, zone FROM users WHERE id = p_patient FOR UPDATE;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    IF zone <> p_timezone THEN
        RETURN -2;
    END IF;
    INSERT INTO records (id, patient_id, kind, author_id, author_role, data, version,
        change_seq, created_at, updated_at, date, natural_key, pain_level, recorded_at,
        started_at, duration_minutes, duration_seconds, stretch_id)
    VALUES (p_id, p_patient, p_kind, p_author, p_author_role, p_data, 1,
        seq + 1, p_now, p_now, p_date, p_natural_key, p_pain_level, p_recorded_at,
        p_started_at, p_duration_minutes, p_duration_seconds, p_stretch_id)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    UPDATE users SET change_seq = seq + 1 WHERE id = p_patient;
    RETURN seq + 1;
END;
$$;
