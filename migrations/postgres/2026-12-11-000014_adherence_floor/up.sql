-- A new alert rule: `low_adherence` when the home programme's adherence
-- over the last 7 days is below the floor, a share 0..1 kept in
-- hundredths (50: 0.5). The therapist's default starts at the built-in
-- 0.5; a patient's override is null (inherits) until set.
ALTER TABLE alert_defaults ADD COLUMN adherence_floor_pct INTEGER NOT NULL DEFAULT 50
    CHECK (adherence_floor_pct BETWEEN 0 AND 100);
ALTER TABLE alert_settings ADD COLUMN adherence_floor_pct INTEGER
    CHECK (adherence_floor_pct BETWEEN 0 AND 100);
