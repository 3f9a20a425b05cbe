-- Red flags a patient reports with a pain entry, as a mask of their bits
-- in the order of `domain::red_flag::RedFlag::ALL` (saddle_anaesthesia 1,
-- bladder_dysfunction 2, bowel_dysfunction 4, sexual_dysfunction 8,
-- bilateral_leg_symptoms 16, progressive_leg_weakness 32, fever 64,
-- unexplained_weight_loss 128, history_of_cancer 256,
-- recent_significant_trauma 512, constant_night_pain 1024): a typed column
-- the overview reads in the same statement as the pain levels. NULL: none.
ALTER TABLE records ADD COLUMN red_flags INTEGER
    CHECK (red_flags BETWEEN 1 AND 2047);
