DROP TABLE programme_versions;
