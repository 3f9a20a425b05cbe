ALTER TABLE alert_settings DROP COLUMN adherence_floor_pct;
ALTER TABLE alert_defaults DROP COLUMN adherence_floor_pct;
