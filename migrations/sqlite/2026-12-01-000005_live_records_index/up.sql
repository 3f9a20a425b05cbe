-- A patient's live rows by kind and date, with the pain level: the
-- therapist's overview finds "the latest entry" and "the last massage" by
-- one index seek per patient and sums daily pain without reading rows,
-- where the list index made it read every row of each patient's history
-- (a page of 20 patients with two years each: 14,600 row reads).
CREATE INDEX records_live_idx ON records (patient_id, kind, date, pain_level) WHERE deleted_at IS NULL;
