-- Which copy of the database this is. Sync cursors carry it, so that a
-- phone's cursor from before a restore is refused (sync again from the
-- start) instead of trusted: the restored change counters are behind the
-- phone's, and once new writes pass it the changes between would be
-- skipped without a word. `painline after-restore` gives a restored
-- database a new generation.
CREATE TABLE database_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation TEXT NOT NULL
);
INSERT INTO database_generation (id, generation)
VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 12));
