DROP INDEX records_natural_key_idx;
CREATE UNIQUE INDEX records_natural_key_idx ON records (patient_id, kind, natural_key);
DROP INDEX records_live_idx;
CREATE INDEX records_live_idx ON records (patient_id, kind, date, pain_level) WHERE deleted_at IS NULL;
CREATE INDEX records_list_idx ON records (patient_id, kind, date, id);
