-- Every version of a patient's home programme, as it was saved. The
-- current programme itself is a logbook record (kind `programme`, named
-- `programme`), so it is versioned and synced like the rest of the
-- logbook; this table keeps what the record forgets: the versions it
-- replaced, and the one a therapist ended it with. Adherence judges each
-- day by the version in force that day.
CREATE TABLE programme_versions (
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The programme's version (its ETag) when this was saved.
    version BIGINT NOT NULL,
    -- The patient's local day it was saved: in force from that day ...
    in_force_from DATE NOT NULL,
    -- ... until the day the next version was saved (NULL: the latest).
    in_force_until DATE,
    saved_at TIMESTAMP NOT NULL,
    -- The therapist who saved it. No foreign key: the patient's history
    -- outlives the therapist's account.
    saved_by TEXT NOT NULL,
    -- Saved by ending the programme (DELETE): its ends_on is that day.
    ended BOOLEAN NOT NULL,
    -- The programme as saved (JSON).
    data TEXT NOT NULL,
    PRIMARY KEY (patient_id, version),
    CHECK (in_force_until IS NULL OR in_force_until >= in_force_from)
);
