-- A therapist's alert rules for all their patients. Absent: the built-in
-- defaults (no pain threshold, a spike of 2 points, 7 days without an entry).
CREATE TABLE alert_defaults (
    therapist_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    pain_threshold INTEGER CHECK (pain_threshold BETWEEN 0 AND 10),
    spike_delta INTEGER NOT NULL CHECK (spike_delta BETWEEN 1 AND 10),
    not_logging_days INTEGER NOT NULL CHECK (not_logging_days BETWEEN 1 AND 60),
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A patient's rules become overrides of the therapist's defaults: a null
-- field inherits, and `pain_high_off` turns pain_high off for this patient
-- whatever the default. Saved rows keep their values, now as overrides, and
-- a saved row without a threshold (pain_high off, then) stays off, so every
-- patient's effective rules stay what they were.
ALTER TABLE alert_settings
    ALTER COLUMN spike_delta DROP NOT NULL,
    ALTER COLUMN not_logging_days DROP NOT NULL,
    ADD COLUMN pain_high_off BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE alert_settings SET pain_high_off = (pain_threshold IS NULL);
ALTER TABLE alert_settings
    ADD CONSTRAINT alert_settings_off_has_no_threshold
    CHECK (NOT (pain_high_off AND pain_threshold IS NOT NULL));
