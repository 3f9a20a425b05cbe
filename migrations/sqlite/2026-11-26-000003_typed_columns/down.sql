-- Puts the typed values back into each row's JSON, where the previous
-- release reads them, and rebuilds the table without the typed columns.
-- A value the up migration left NULL (an implausible timestamp) is taken
-- from the JSON, where it stayed.
CREATE TABLE records_old (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    date DATE,
    author_id TEXT NOT NULL,
    author_role TEXT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    change_seq BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    natural_key TEXT
);

INSERT INTO records_old
SELECT id, patient_id, kind, date, author_id, author_role,
       CASE
           WHEN deleted_at IS NOT NULL THEN data
           WHEN kind = 'pain_entry' THEN json_set(data,
               '$.date', date,
               '$.pain_level', pain_level,
               '$.recorded_at', coalesce(replace(recorded_at, ' ', 'T') || 'Z',
                                         json_extract(data, '$.recorded_at')))
           WHEN kind = 'massage_session' THEN json_set(data,
               '$.date', date,
               '$.started_at', coalesce(replace(started_at, ' ', 'T') || 'Z',
                                        json_extract(data, '$.started_at')),
               '$.duration_minutes', duration_minutes)
           WHEN kind = 'stretch_session' THEN json_set(data,
               '$.date', date,
               '$.stretch_id', stretch_id,
               '$.duration_seconds', duration_seconds)
           WHEN kind = 'assessment' THEN json_set(data, '$.date', date)
           WHEN kind = 'condition' THEN json_set(data, '$.condition', natural_key)
           ELSE data
       END,
       version, change_seq, created_at, updated_at, deleted_at, natural_key
FROM records;

DROP TABLE records;
ALTER TABLE records_old RENAME TO records;

CREATE INDEX records_list_idx ON records (patient_id, kind, date, id);
CREATE UNIQUE INDEX records_feed_idx ON records (patient_id, change_seq);
CREATE UNIQUE INDEX records_natural_key_idx ON records (patient_id, kind, natural_key);

ALTER TABLE idempotency_keys ADD COLUMN status INTEGER NOT NULL DEFAULT 201;
