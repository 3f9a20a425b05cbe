-- The write path, lighter. A new logbook row touched five indexes; it now touches
-- three, and the lists and the trends read one covering index:
--
-- * records_live_idx serves the lists (newest first by date and id) as
--   well as the overview and the trends (pain levels and stretch seconds
--   summed per day, the sessions, without reading rows). Every one of those reads only
--   live rows, so it replaces records_list_idx, which also held tombstones.
-- * records_natural_key_idx holds only the rows that have a name (a
--   precaution); every other row's NULL never collided anyway.
DROP INDEX records_list_idx;
DROP INDEX records_live_idx;
-- SQLite reads an index alone only when it holds every column the query
-- names, deleted_at among them (always NULL here).
CREATE INDEX records_live_idx ON records (patient_id, kind, date, id, pain_level, duration_seconds, started_at, deleted_at)
    WHERE deleted_at IS NULL;
DROP INDEX records_natural_key_idx;
CREATE UNIQUE INDEX records_natural_key_idx ON records (patient_id, kind, natural_key)
    WHERE natural_key IS NOT NULL;
