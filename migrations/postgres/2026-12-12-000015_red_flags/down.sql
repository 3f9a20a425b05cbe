ALTER TABLE records DROP COLUMN red_flags;
