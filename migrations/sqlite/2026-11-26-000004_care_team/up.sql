-- The care team: invitation codes a therapist hands out, the links a
-- patient makes by redeeming one, and wrong codes for throttling.

-- Codes are stored only as SHA-256 hashes; each works once, until it expires
-- or is withdrawn.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    therapist_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    withdrawn_at TIMESTAMP,
    used_at TIMESTAMP,
    used_by TEXT REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX invitations_therapist_idx ON invitations (therapist_id, expires_at);

-- One row per patient and therapist; a link that ended keeps its row (with
-- `ended_at`) and is renewed if the patient redeems a new code.
CREATE TABLE care_links (
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    therapist_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    PRIMARY KEY (patient_id, therapist_id)
);
CREATE INDEX care_links_therapist_idx ON care_links (therapist_id, patient_id);

-- Wrong invitation codes, shared by every instance, for throttling.
CREATE TABLE code_failures (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_ip TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX code_failures_user_at_idx ON code_failures (user_id, at);
CREATE INDEX code_failures_ip_at_idx ON code_failures (client_ip, at);

-- Every read of a patient's data by a therapist, and every refused attempt
-- on a patient id, for the patient to see. Append-only. Erased with the
-- patient; kept when the therapist's account is erased (actor_id has no
-- foreign key, so it still names them).
CREATE TABLE access_log (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    action TEXT NOT NULL,
    path TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused'))
);
CREATE INDEX access_log_patient_idx ON access_log (patient_id, at, id);

-- Each therapist's alert rules for one linked patient (defaults when absent).
CREATE TABLE alert_settings (
    therapist_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pain_threshold INTEGER CHECK (pain_threshold BETWEEN 0 AND 10),
    spike_delta INTEGER NOT NULL CHECK (spike_delta BETWEEN 1 AND 10),
    not_logging_days INTEGER NOT NULL CHECK (not_logging_days BETWEEN 1 AND 60),
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (therapist_id, patient_id)
);
