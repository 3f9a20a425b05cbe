-- The patient's logbook. Every object a phone writes (pain entries, stretch
-- sessions, massage sessions, questionnaires, precautions, own stretches) is
-- one row here: the columns the server filters and orders on, plus the
-- validated body as JSON text. One table gives every kind the same
-- versioning, tombstones and sync-feed ordering.
CREATE TABLE records (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    date DATE,
    author_id TEXT NOT NULL,
    author_role TEXT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    change_seq BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    -- Objects addressed by name rather than id (a precaution: its condition).
    natural_key TEXT
);
-- Lists: one patient's objects of one kind by date, newest first.
CREATE INDEX records_list_idx ON records (patient_id, kind, date, id);
-- Sync feed: the patient's change counter is unique per write.
CREATE UNIQUE INDEX records_feed_idx ON records (patient_id, change_seq);
-- One object per name, per patient and kind (NULLs never collide).
CREATE UNIQUE INDEX records_natural_key_idx ON records (patient_id, kind, natural_key);

-- The built-in stretch catalog (a patient's own stretches are records).
CREATE TABLE stretches (
    id TEXT PRIMARY KEY NOT NULL,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    targets TEXT NOT NULL
);

-- First answers to POSTs that carried an Idempotency-Key, kept 24 hours.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    location TEXT NOT NULL,
    etag TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);

INSERT INTO stretches (id, key, name, description, targets) VALUES
('5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab', 'knee_to_chest', 'Knee-to-chest',
 'Lie on your back with knees bent. Draw one knee towards your chest with both hands and hold, keeping the other foot on the floor; then switch. Both knees together stretches the low back more evenly.',
 '["erector_spinae","gluteus_maximus","multifidus"]'),
('298adaec-6990-404b-abde-9246865bd113', 'cat_cow', 'Cat-cow',
 'On hands and knees, slowly round your back up towards the ceiling while tucking the chin, then let the belly sink and lift the chest. Move with the breath, without forcing the end positions.',
 '["erector_spinae","multifidus"]'),
('7679de43-9f1b-442b-966e-1daf236f2acd', 'childs_pose', 'Child''s pose',
 'Kneel, sit back towards your heels and walk your hands forward until your forehead rests on the floor or a cushion. Let the lower back lengthen and breathe into it.',
 '["erector_spinae","latissimus_dorsi","quadratus_lumborum"]'),
('fa6371f8-38d0-4792-b84c-b3b179407225', 'figure_four_piriformis', 'Figure-four piriformis stretch',
 'Lying on your back, cross one ankle over the opposite knee and pull the lower thigh gently towards you until you feel it deep in the buttock of the crossed leg. Repeat on the other side.',
 '["piriformis","gluteus_medius","gluteus_maximus"]'),
('e7a79670-f75d-4c40-80bd-c2468e531944', 'supine_twist', 'Supine twist',
 'Lie on your back with arms out to the sides, bend your knees and let them fall slowly to one side while both shoulders stay on the floor. Hold, return through the middle, and change sides.',
 '["erector_spinae","multifidus","quadratus_lumborum","gluteus_medius"]'),
('05265d94-defe-4733-92b0-2989f34a5b19', 'standing_side_bend', 'Standing side bend',
 'Stand with feet hip-width apart, reach one arm overhead and lean away from that side without twisting or leaning forward, feeling the stretch between the lowest rib and the hip. Targets the quadratus lumborum; do both sides.',
 '["quadratus_lumborum","latissimus_dorsi"]'),
('becb9960-96ff-4fcf-935b-9211a8236744', 'hip_flexor_lunge', 'Hip-flexor lunge',
 'Kneel on one knee with the other foot forward. Tuck the pelvis under and shift your weight forward until the front of the back hip stretches; keep the trunk upright. Switch legs.',
 '["iliopsoas","tensor_fasciae_latae"]'),
('239128f5-6f32-4fd8-b747-e99200692eac', 'pelvic_tilt', 'Pelvic tilt',
 'Lie on your back with knees bent. Tighten the stomach and press the small of your back into the floor by tilting the pelvis, hold a few seconds, then relax. Small, controlled movements.',
 '["multifidus","erector_spinae"]'),
('cf8e3163-b2a1-495c-8c4e-984f80d92376', 'glute_bridge', 'Glute bridge',
 'Lie on your back, knees bent and feet flat. Squeeze the buttocks and lift the hips until knees, hips and shoulders line up; hold briefly and lower slowly. Strengthens rather than stretches.',
 '["gluteus_maximus","gluteus_medius","hamstrings"]'),
('5e5a1994-28c1-41f6-a0e9-3986fc74e188', 'hamstring_stretch', 'Hamstring stretch',
 'Lie on your back and raise one straight leg, holding it behind the thigh or with a towel around the foot, until the back of the thigh stretches. Keep the other leg bent or flat; switch legs.',
 '["hamstrings"]');
