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
-- patient's effective rules stay what they were. SQLite cannot drop a NOT
-- NULL constraint: the table is rebuilt.
CREATE TABLE alert_overrides (
    therapist_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pain_threshold INTEGER CHECK (pain_threshold BETWEEN 0 AND 10),
    pain_high_off BOOLEAN NOT NULL DEFAULT FALSE,
    spike_delta INTEGER CHECK (spike_delta BETWEEN 1 AND 10),
    not_logging_days INTEGER CHECK (not_logging_days BETWEEN 1 AND 60),
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (therapist_id, patient_id),
    CHECK (NOT (pain_high_off AND pain_threshold IS NOT NULL))
);
INSERT INTO alert_overrides
    SELECT therapist_id, patient_id, pain_threshold, pain_threshold IS NULL, spike_delta,
           not_logging_days, version, updated_at
    FROM alert_settings;
DROP TABLE alert_settings;
ALTER TABLE alert_overrides RENAME TO alert_settings;
