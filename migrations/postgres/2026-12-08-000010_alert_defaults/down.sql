-- Inherited fields take the therapist's defaults, else the built-in ones.
UPDATE alert_settings s SET
    pain_threshold = COALESCE(s.pain_threshold, d.pain_threshold),
    spike_delta = COALESCE(s.spike_delta, d.spike_delta, 2),
    not_logging_days = COALESCE(s.not_logging_days, d.not_logging_days, 7)
FROM (SELECT t.therapist_id, a.pain_threshold, a.spike_delta, a.not_logging_days
      FROM (SELECT DISTINCT therapist_id FROM alert_settings) t
      LEFT JOIN alert_defaults a ON a.therapist_id = t.therapist_id) d
WHERE d.therapist_id = s.therapist_id;
ALTER TABLE alert_settings
    ALTER COLUMN spike_delta SET NOT NULL,
    ALTER COLUMN not_logging_days SET NOT NULL;
DROP TABLE alert_defaults;
