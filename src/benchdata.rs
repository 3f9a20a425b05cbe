//! `painline seed-bench`: the benchmark's data set, written through the same
//! services as the API (the sign-up rules, invitations and redemption, and
//! the logbook's checks and protocol), so the rows, indexes and change
//! counters are exactly what real use leaves behind.
//!
//! Defaults: 50 therapists with 20 patients each; every patient has two
//! years of history ending today in their own time zone: a pain entry on
//! most days (sometimes two), about two stretch sessions a day, and a
//! massage session recorded by their therapist every 14–21 days. Each
//! patient's history is written in date order, so the sync feed's counter
//! follows the calendar, in one transaction per patient.
//!
//! The numbers come from a seeded generator: the same options give the
//! same data. The manifest (JSON) lists the accounts and, per patient, the
//! feed cursor a phone that last synced a week ago would hold.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;

use chrono::{Days, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::access::{AuthUser, PatientScope, ScopeAccess};
use crate::domain::logbook::{Muscle, Pressure, Region, Side, Technique, BUILTIN_STRETCHES};
use crate::domain::{RecordId, Role, UserId};
use crate::kinds::{
    MassageArea, MassageSessionBody, MassageSessions, PainEntries, PainEntryBody,
    StretchSessionBody, StretchSessions,
};
use crate::service::account::{self as account_service, SignUp};
use crate::service::logbook::{self, Batch};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// The password of every benchmark account.
pub const PASSWORD: &str = "painline-bench-password";

/// How much to write.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub therapists: usize,
    pub patients_per_therapist: usize,
    pub days: u64,
    /// Patients written at once (transactions in flight).
    pub parallel: usize,
}

impl Default for Size {
    fn default() -> Self {
        Self {
            therapists: 50,
            patients_per_therapist: 20,
            days: 730,
            parallel: 4,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub password: &'static str,
    pub therapists: Vec<TherapistEntry>,
    pub patients: Vec<PatientEntry>,
    pub objects_written: usize,
}

#[derive(Debug, Serialize)]
pub struct TherapistEntry {
    pub email: String,
    pub id: UserId,
    pub patients: Vec<UserId>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientEntry {
    pub email: String,
    pub id: UserId,
    pub timezone: &'static str,
    /// The first and last day of the history (the patient's calendar).
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// `cursor` for `GET /v1/me/changes` of a phone last synced before
    /// the last seven days were written.
    pub week_cursor: i64,
}

const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "UTC",
    "Europe/London",
    "America/Los_Angeles",
    "Asia/Tokyo",
];

const REGIONS: [Region; 4] = [
    Region::LowerBackLeft,
    Region::LowerBackRight,
    Region::LowerBackCenter,
    Region::ButtockLeft,
];

fn email(role: &str, n: usize) -> String {
    format!("{role}-{n}@bench.painline.example")
}

/// One account through the sign-up rules, with a password hash computed
/// once for all of them.
async fn account(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
    timezone: &str,
    password_hash: &str,
) -> ServiceResult<UserId> {
    let sign_up = SignUp {
        email,
        password: PASSWORD.to_owned(),
        display_name: name,
        role,
        timezone: Some(timezone),
    };
    let new = account_service::check(sign_up)?
        .0
        .with_hash(password_hash.to_owned());
    let now = state.clock.now_naive();
    let row = state
        .db
        .write(move |conn| account_service::create(conn, new, now))
        .await?;
    row.id
        .parse()
        .map_err(|_| ServiceError::internal("a stored user id is not a UUID"))
}

/// Writes one patient's history; answers the number of objects and the
/// week-old cursor.
fn history(
    batch: &mut Batch<'_>,
    own: &PatientScope,
    therapist: &PatientScope,
    (first, last): (NaiveDate, NaiveDate),
    tz: chrono_tz::Tz,
    rng: &mut ChaCha8Rng,
) -> ServiceResult<(usize, i64)> {
    let mut written = 0usize;
    let mut week_cursor = 0i64;
    let week_start = last.checked_sub_days(Days::new(6)).unwrap_or(last);
    let base: f64 = rng.gen_range(3.0..7.5);
    let mut next_session = first
        .checked_add_days(Days::new(rng.gen_range(0..14)))
        .unwrap_or(first);
    let mut since_session = 30i64;
    let mut date = first;
    while date <= last {
        if date == week_start {
            week_cursor = written as i64;
        }
        if date == next_session {
            let start = tz
                .from_local_datetime(&date.and_hms_opt(10, 0, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.with_timezone(&Utc));
            let before = (base.round() as i64 + 1).clamp(0, 10);
            let body = MassageSessionBody {
                date,
                started_at: start,
                duration_minutes: 60,
                technique: Technique::DeepTissue,
                pressure: Some(Pressure::Medium),
                areas: vec![
                    MassageArea {
                        muscle: Muscle::QuadratusLumborum,
                        side: Side::Both,
                        minutes: 30,
                    },
                    MassageArea {
                        muscle: Muscle::GluteusMedius,
                        side: Side::Both,
                        minutes: 20,
                    },
                ],
                pain_before: Some(before),
                pain_after: Some((before - 2).max(0)),
                notes: Some("Bench session: QL and glute medius.".to_owned()),
            };
            batch.put::<MassageSessions>(therapist, RecordId(Uuid::new_v4()), body)?;
            written += 1;
            since_session = 0;
            next_session = date
                .checked_add_days(Days::new(rng.gen_range(14..=21)))
                .unwrap_or(last);
        }
        since_session += 1;
        if rng.gen_bool(0.95) {
            let entries = if rng.gen_bool(0.1) { 2 } else { 1 };
            for _ in 0..entries {
                let relief = 2.5 * (-(since_session as f64) / 5.0).exp();
                let level = (base - relief + rng.gen_range(-1.5..1.5))
                    .round()
                    .clamp(0.0, 10.0) as i64;
                let body = PainEntryBody {
                    date,
                    pain_level: level,
                    recorded_at: None,
                    regions: REGIONS
                        .iter()
                        .copied()
                        .filter(|_| rng.gen_bool(0.4))
                        .collect(),
                    enjoyment_interference: None,
                    activity_interference: None,
                    notes: None,
                    red_flags: Vec::new(),
                };
                batch.put::<PainEntries>(own, RecordId(Uuid::new_v4()), body)?;
                written += 1;
            }
        }
        // About two a day: 0–4, mean 2.
        let stretches = [0, 1, 2, 2, 3, 4][rng.gen_range(0..6)];
        for _ in 0..stretches {
            let body = StretchSessionBody {
                date,
                stretch_id: BUILTIN_STRETCHES[rng.gen_range(0..BUILTIN_STRETCHES.len())],
                duration_seconds: rng.gen_range(2..=20) * 30,
                sets: Some(rng.gen_range(1..=3)),
                reps: None,
                side: Some(Side::Both),
                notes: None,
            };
            batch.put::<StretchSessions>(own, RecordId(Uuid::new_v4()), body)?;
            written += 1;
        }
        date = match date.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    Ok((written, week_cursor))
}

/// Writes the data set into an empty database.
pub async fn seed(state: &AppState, size: Size) -> ServiceResult<Manifest> {
    let probe = SignUp {
        email: "probe@bench.painline.example",
        password: PASSWORD.to_owned(),
        display_name: "Probe",
        role: Role::Patient,
        timezone: None,
    };
    let hash = account_service::prepare(&state.hasher, probe)
        .await?
        .password_hash;
    let mut therapists = Vec::with_capacity(size.therapists);
    let mut jobs = Vec::new();
    for t in 0..size.therapists {
        let therapist_email = email("therapist", t);
        let therapist = account(
            state,
            &therapist_email,
            &format!("Therapist {t}"),
            Role::Therapist,
            "Europe/Berlin",
            &hash,
        )
        .await?;
        let mut patients = Vec::with_capacity(size.patients_per_therapist);
        for p in 0..size.patients_per_therapist {
            let n = t * size.patients_per_therapist + p;
            let timezone = ZONES[n % ZONES.len()];
            let patient_email = email("patient", n);
            let patient = account(
                state,
                &patient_email,
                &format!("Patient {n}"),
                Role::Patient,
                timezone,
                &hash,
            )
            .await?;
            crate::demo::link_once(state, therapist, patient).await?;
            patients.push(patient);
            jobs.push((n, patient_email, patient, timezone, therapist));
        }
        therapists.push(TherapistEntry {
            email: therapist_email,
            id: therapist,
            patients,
        });
    }
    // `parallel` workers take the next patient until none is left; they
    // run concurrently on this task (no spawn: any runtime will do).
    let next = AtomicUsize::new(0);
    let worker = || async {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else { break };
            done.push(seed_patient(state, job.clone(), size.days).await?);
        }
        ServiceResult::Ok(done)
    };
    let finished = join_all((0..size.parallel.max(1)).map(|_| worker())).await;
    let mut patients = Vec::new();
    let mut objects_written = 0;
    for done in finished {
        for (entry, written) in done? {
            objects_written += written;
            patients.push(entry);
        }
    }
    patients.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(Manifest {
        password: PASSWORD,
        therapists,
        patients,
        objects_written,
    })
}

async fn seed_patient(
    state: &AppState,
    (n, email, patient, timezone, therapist): (usize, String, UserId, &'static str, UserId),
    days: u64,
) -> ServiceResult<(PatientEntry, usize)> {
    let tz: chrono_tz::Tz = timezone
        .parse()
        .map_err(|_| ServiceError::internal("bench time zone"))?;
    let last = state.clock.today_in(tz);
    let first = last
        .checked_sub_days(Days::new(days.saturating_sub(1)))
        .unwrap_or(last);
    let own = PatientScope::own(AuthUser {
        id: patient,
        role: Role::Patient,
        login: None,
    })?;
    let by_therapist = PatientScope {
        patient,
        actor: AuthUser {
            id: therapist,
            role: Role::Therapist,
            login: None,
        },
        access: ScopeAccess::LinkedTherapist,
        logged_as: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
    let (written, week_cursor) = logbook::put_batch(&state.db, &state.clock, own, move |batch| {
        history(batch, &own, &by_therapist, (first, last), tz, &mut rng)
    })
    .await?;
    let entry = PatientEntry {
        email,
        id: patient,
        timezone,
        first_day: first,
        last_day: last,
        week_cursor,
    };
    Ok((entry, written))
}
