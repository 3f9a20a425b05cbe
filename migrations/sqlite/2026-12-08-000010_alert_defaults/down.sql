CREATE TABLE alert_required (
    therapist_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pain_threshold INTEGER CHECK (pain_threshold BETWEEN 0 AND 10),
    spike_delta INTEGER NOT NULL CHECK (spike_delta BETWEEN 1 AND 10),
    not_logging_days INTEGER NOT NULL CHECK (not_logging_days BETWEEN 1 AND 60),
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (therapist_id, patient_id)
);
-- Inherited fields take the therapist's defaults, else the built-in ones.
INSERT INTO alert_required
    SELECT s.therapist_id, s.patient_id,
           CASE WHEN s.pain_high_off THEN NULL WHEN s.pain_threshold IS NULL THEN d.pain_threshold ELSE s.pain_threshold END,
           COALESCE(s.spike_delta, d.spike_delta, 2),
           COALESCE(s.not_logging_days, d.not_logging_days, 7),
           s.version, s.updated_at
    FROM alert_settings s LEFT JOIN alert_defaults d ON d.therapist_id = s.therapist_id;
-- Linked patients without rules of their own had the therapist's defaults.
INSERT INTO alert_required
    SELECT c.therapist_id, c.patient_id, d.pain_threshold, d.spike_delta, d.not_logging_days, 1, d.updated_at
    FROM care_links c JOIN alert_defaults d ON d.therapist_id = c.therapist_id
    WHERE c.ended_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM alert_settings s
        WHERE s.therapist_id = c.therapist_id AND s.patient_id = c.patient_id);
DROP TABLE alert_settings;
ALTER TABLE alert_required RENAME TO alert_settings;
DROP TABLE alert_defaults;
