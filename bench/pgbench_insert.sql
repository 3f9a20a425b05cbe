-- One single-row insert per transaction: the ceiling a PUT is measured against.
INSERT INTO bench_raw (id, patient, data)
VALUES (gen_random_uuid()::text, 'patient', '{"regions":["lower_back_center"]}');
