-- Inherited fields take the therapist's defaults, else the built-in ones;
-- a patient's "off" is a missing threshold again.
UPDATE alert_settings s SET
    pain_threshold = CASE WHEN s.pain_high_off THEN NULL ELSE COALESCE(s.pain_threshold, d.pain_threshold) END,
    spike_delta = COALESCE(s.spike_delta, d.spike_delta, 2),
    not_logging_days = COALESCE(s.not_logging_days, d.not_logging_days, 7)
FROM (SELECT t.therapist_id, a.pain_threshold, a.spike_delta, a.not_logging_days
      FROM (SELECT DISTINCT therapist_id FROM alert_settings) t
      LEFT JOIN alert_defaults a ON a.therapist_id = t.therapist_id) d
WHERE d.therapist_id = s.therapist_id;
-- Linked patients without rules of their own had the therapist's defaults.
INSERT INTO alert_settings (therapist_id, patient_id, pain_threshold, spike_delta, not_logging_days, version, updated_at)
    SELECT c.therapist_id, c.patient_id, d.pain_threshold, d.spike_delta, d.not_logging_days, 1, d.updated_at
    FROM care_links c JOIN alert_defaults d ON d.therapist_id = c.therapist_id
    WHERE c.ended_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM alert_settings s
        WHERE s.therapist_id = c.therapist_id AND s.patient_id = c.patient_id);
ALTER TABLE alert_settings
    DROP CONSTRAINT alert_settings_off_has_no_threshold,
    DROP COLUMN pain_high_off,
    ALTER COLUMN spike_delta SET NOT NULL,
    ALTER COLUMN not_logging_days SET NOT NULL;
DROP TABLE alert_defaults;
