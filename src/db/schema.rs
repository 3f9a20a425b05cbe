//! Diesel table definitions shared by both backends (kept in step with
//! `migrations/sqlite` and `migrations/postgres`).

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        display_name -> Text,
        role -> Text,
        timezone -> Text,
        change_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        email -> Text,
        client_ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    logins (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        user_agent -> Nullable<Text>,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mail_schedules (user_id, kind) {
        user_id -> Text,
        kind -> Text,
        enabled -> Bool,
        local_time -> Text,
        days -> Text,
        next_due_at -> Nullable<Timestamp>,
        due_date -> Nullable<Date>,
        handled_date -> Nullable<Date>,
        version -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    unsubscribe_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    records (id) {
        id -> Text,
        patient_id -> Text,
        kind -> Text,
        date -> Nullable<Date>,
        author_id -> Text,
        author_role -> Text,
        data -> Text,
        version -> BigInt,
        change_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        natural_key -> Nullable<Text>,
        pain_level -> Nullable<Integer>,
        recorded_at -> Nullable<Timestamp>,
        started_at -> Nullable<Timestamp>,
        duration_minutes -> Nullable<Integer>,
        duration_seconds -> Nullable<Integer>,
        stretch_id -> Nullable<Text>,
        red_flags -> Nullable<Integer>,
    }
}

diesel::table! {
    stretches (id) {
        id -> Text,
        key -> Text,
        name -> Text,
        description -> Text,
        targets -> Text,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Text,
        key -> Text,
        fingerprint -> Text,
        body -> Text,
        location -> Text,
        etag -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        therapist_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        withdrawn_at -> Nullable<Timestamp>,
        used_at -> Nullable<Timestamp>,
        used_by -> Nullable<Text>,
    }
}

diesel::table! {
    care_links (patient_id, therapist_id) {
        patient_id -> Text,
        therapist_id -> Text,
        since -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    code_failures (id) {
        id -> Text,
        user_id -> Text,
        client_ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    access_log (id) {
        id -> Text,
        patient_id -> Text,
        actor_id -> Text,
        at -> Timestamp,
        action -> Text,
        path -> Text,
        outcome -> Text,
    }
}

diesel::table! {
    alert_settings (therapist_id, patient_id) {
        therapist_id -> Text,
        patient_id -> Text,
        pain_threshold -> Nullable<Integer>,
        pain_high_off -> Bool,
        spike_delta -> Nullable<Integer>,
        not_logging_days -> Nullable<Integer>,
        version -> BigInt,
        updated_at -> Timestamp,
        adherence_floor_pct -> Nullable<Integer>,
    }
}

diesel::table! {
    alert_defaults (therapist_id) {
        therapist_id -> Text,
        pain_threshold -> Nullable<Integer>,
        spike_delta -> Integer,
        not_logging_days -> Integer,
        version -> BigInt,
        updated_at -> Timestamp,
        adherence_floor_pct -> Integer,
    }
}

diesel::table! {
    programme_versions (patient_id, version) {
        patient_id -> Text,
        version -> BigInt,
        in_force_from -> Date,
        in_force_until -> Nullable<Date>,
        saved_at -> Timestamp,
        saved_by -> Text,
        ended -> Bool,
        data -> Text,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        kind -> Text,
        sender -> Text,
        recipient -> Text,
        message -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        given_up_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mail_requests (id) {
        id -> Text,
        purpose -> Text,
        email -> Text,
        client_ip -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(records -> users (patient_id));
diesel::table! {
    mail_budget (id) {
        id -> Text,
        address_hash -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    database_generation (id) {
        id -> Integer,
        generation -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    login_failures,
    records,
    stretches,
    idempotency_keys,
    invitations,
    care_links,
    code_failures,
    access_log,
    alert_settings,
    alert_defaults,
    programme_versions,
    account_tokens,
    mail_outbox,
    mail_requests,
    mail_budget,
    logins,
    mail_schedules,
    unsubscribe_tokens
);
