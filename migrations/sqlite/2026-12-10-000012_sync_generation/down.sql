DROP TABLE database_generation;
