-- Puts the typed values back into each row's JSON, where the previous
-- release reads them, then drops the typed columns. Rows whose JSON still
-- holds the values (written before the upgrade, untouched since) keep it as
-- it is. The JSON is edited as text: jsonb would refuse a note's \u0000.
CREATE OR REPLACE FUNCTION pg_temp.painline_json(data TEXT) RETURNS JSONB
    LANGUAGE sql IMMUTABLE AS $$ SELECT replace(data, E'\\u0000', E'\\u0001')::jsonb $$;
-- `fields` (a JSON object) and the object `data`, as one object.
CREATE OR REPLACE FUNCTION pg_temp.painline_merge(fields JSONB, data TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE AS $$ SELECT rtrim(fields::text, '}') || ', ' || substr(data, 2) $$;
CREATE OR REPLACE FUNCTION pg_temp.painline_iso(at TIMESTAMP) RETURNS TEXT
    LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

UPDATE records SET data = pg_temp.painline_merge(
    jsonb_build_object('date', date, 'pain_level', pain_level,
                       'recorded_at', pg_temp.painline_iso(recorded_at)), data)
WHERE kind = 'pain_entry' AND deleted_at IS NULL
  AND NOT pg_temp.painline_json(data) ? 'pain_level';
UPDATE records SET data = pg_temp.painline_merge(
    jsonb_build_object('date', date, 'started_at', pg_temp.painline_iso(started_at),
                       'duration_minutes', duration_minutes), data)
WHERE kind = 'massage_session' AND deleted_at IS NULL
  AND NOT pg_temp.painline_json(data) ? 'duration_minutes';
UPDATE records SET data = pg_temp.painline_merge(
    jsonb_build_object('date', date, 'stretch_id', stretch_id,
                       'duration_seconds', duration_seconds), data)
WHERE kind = 'stretch_session' AND deleted_at IS NULL
  AND NOT pg_temp.painline_json(data) ? 'duration_seconds';
UPDATE records SET data = pg_temp.painline_merge(jsonb_build_object('date', date), data)
WHERE kind = 'assessment' AND deleted_at IS NULL
  AND NOT pg_temp.painline_json(data) ? 'date';
UPDATE records SET data = pg_temp.painline_merge(jsonb_build_object('condition', natural_key), data)
WHERE kind = 'condition' AND deleted_at IS NULL
  AND NOT pg_temp.painline_json(data) ? 'condition';

DROP FUNCTION pg_temp.painline_json(TEXT);
DROP FUNCTION pg_temp.painline_merge(JSONB, TEXT);
DROP FUNCTION pg_temp.painline_iso(TIMESTAMP);

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

ALTER TABLE idempotency_keys ADD COLUMN status INTEGER NOT NULL DEFAULT 201;
