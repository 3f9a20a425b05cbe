DROP TABLE idempotency_keys;
DROP TABLE stretches;
DROP TABLE records;
