//! `painline seed-demo`: a demo therapist and three linked patients with six
//! months of data that looks like real use, so a newcomer sees meaningful
//! trends at once. Everything is written through the services, as the API
//! would write it.
//!
//! The data is a function of the calendar: each object's id is derived from
//! the patient and the date, and an object already stored is left as it is,
//! so running the command again writes nothing (the sync feed does not
//! move), and running it on a later day adds the days since.
//!
//! The three patients, each with a story of the last weeks (told relative
//! to the day of the first run, so a new demo shows it at once):
//! - **Alex** (Europe/Berlin): deep-tissue sessions every two weeks bring
//!   clear relief that fades over about five days; stretching helps the
//!   next day. This week he carried boxes: a flare-up (pain rising), and a
//!   session during it did not help.
//! - **Sam** (America/New_York): sessions every three weeks help for about
//!   a week; stretching makes no difference. No session for over ten days:
//!   the next one is due. Two days ago he reported pain and tingling in
//!   both legs, a red flag: first on the therapist's list.
//! - **Maria** (Europe/London): osteoporosis, so light Swedish massage only;
//!   modest relief, slight help from stretching. Monthly Oswestry
//!   questionnaires; the latest is 12 points worse (function worse).
//!
//! Five weeks ago the therapist prescribed each a home programme: Alex
//! follows his (and two weeks ago it was raised to two minutes of side
//! bends, five days a week), Sam does not (the figure four too short, the
//! side bend now and then: a stretching plan well below half), and Maria
//! does her pelvic tilts but the glute bridge once a week only.

use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::accounts::{self, UserRow};
use crate::db::care_team;
use crate::db::DbError;
use crate::domain::access::{AuthUser, PatientScope, ScopeAccess};
use crate::domain::logbook::{
    Condition, Instrument, Muscle, Pressure, Region, Side, Technique, BUILTIN_STRETCHES,
};
use crate::domain::red_flag::RedFlag;
use crate::domain::version::IfMatch;
use crate::domain::{DomainError, Email, RecordId, Role, UserId};
use crate::kinds::{
    AssessmentBody, Assessments, Conditions, Kind, MassageArea, MassageSessionBody,
    MassageSessions, NamedCondition, PainEntries, PainEntryBody, ProgrammeBody, ProgrammeItem,
    StretchSessionBody, StretchSessions,
};
use crate::service::account::{self as account_service, SignUp};
use crate::service::{care_team as team, logbook, programme};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// The password of every demo account (printed by the command and the README).
pub const PASSWORD: &str = "painline-demo-password";
pub const THERAPIST_EMAIL: &str = "therapist@demo.painline.example";
/// Days of data per patient, ending at the patient's today.
pub const DAYS: u64 = 182;

/// Ids of the demo's objects: UUIDv5 of a name in this namespace.
const NAMESPACE: Uuid = Uuid::from_u128(0x7a3c_91e4_5b2d_4f60_8e1a_c4d9_2f6b_0a17);

/// How one demo patient's back behaves.
struct Profile {
    email: &'static str,
    name: &'static str,
    timezone: &'static str,
    /// Pain on a day without recent massage or stretching.
    base_pain: f64,
    /// Relief on the day after a session, fading by `exp(−days / fade)`.
    relief: f64,
    fade_days: f64,
    /// Pain change the day after a day with stretching (negative helps).
    stretch_effect: f64,
    stretch_chance: f64,
    /// Days between sessions, and which day of that cycle they fall on.
    session_every: i32,
    session_phase: i32,
    technique: Technique,
    pressure: Pressure,
    condition: Option<(Condition, &'static str)>,
    story: Story,
    /// Every n-th session (by the calendar) brings no relief.
    no_help_every: Option<i32>,
    /// How the patient follows the home programme.
    follows: Follows,
    /// A red flag reported two days before the first run's today.
    warning_sign: Option<RedFlag>,
}

/// How a patient follows the home programme of the last five weeks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follows {
    /// Every day but Sunday: each item, the side bend in two sessions.
    Fully,
    /// The figure four a minute a day (its plan says 90 seconds), the side
    /// bend on Mondays, Wednesdays and Fridays at most: never half.
    Hardly,
    /// The pelvic tilt four days a week, the glute bridge on Wednesdays.
    Partly,
}

/// The programme's first version, and (Alex's) the raised one.
const PROGRAMME_DAYS_AGO: u64 = 34;
const RAISED_DAYS_AGO: u64 = 13;
const CAT_COW: Uuid = BUILTIN_STRETCHES[1];
const FIGURE_FOUR: Uuid = BUILTIN_STRETCHES[3];
const SIDE_BEND: Uuid = BUILTIN_STRETCHES[4];
const PELVIC_TILT: Uuid = Uuid::from_u128(0x2391_28f5_6f32_4fd8_b747_e992_0069_2eac);
const GLUTE_BRIDGE: Uuid = Uuid::from_u128(0xcf8e_3163_b2a1_495c_8c4e_984f_80d9_2376);

/// What happened lately, relative to the patient's today on the first run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Story {
    /// Pain 2 points up over the last 7 days; a session then brings nothing.
    FlareUp,
    /// No session in the last 10 days.
    SessionDue,
    /// Monthly ODI, the one 3 days ago 12 points worse than the one before.
    FunctionWorse,
}

/// The day of the warning sign, before today.
const WARNING_DAYS_AGO: i64 = 2;

/// The flare-up's days (the last 7) and how much it adds.
const FLARE_DAYS: i64 = 7;
const FLARE: f64 = 2.5;
/// Days before today without a session (the `SessionDue` story).
const NO_SESSION_DAYS: i64 = 10;

const PATIENTS: [Profile; 3] = [
    Profile {
        email: "alex@demo.painline.example",
        name: "Alex Morgan (demo)",
        timezone: "Europe/Berlin",
        base_pain: 6.4,
        relief: 3.4,
        fade_days: 5.0,
        stretch_effect: -1.2,
        stretch_chance: 0.6,
        session_every: 14,
        session_phase: 3,
        technique: Technique::DeepTissue,
        pressure: Pressure::Firm,
        condition: None,
        story: Story::FlareUp,
        no_help_every: None,
        follows: Follows::Fully,
        warning_sign: None,
    },
    Profile {
        email: "sam@demo.painline.example",
        name: "Sam Okafor (demo)",
        timezone: "America/New_York",
        base_pain: 5.8,
        relief: 3.2,
        fade_days: 4.0,
        stretch_effect: 0.0,
        stretch_chance: 0.5,
        session_every: 21,
        session_phase: 10,
        technique: Technique::DeepTissue,
        pressure: Pressure::Medium,
        condition: None,
        story: Story::SessionDue,
        no_help_every: None,
        follows: Follows::Hardly,
        warning_sign: Some(RedFlag::BilateralLegSymptoms),
    },
    Profile {
        email: "maria@demo.painline.example",
        name: "Maria Lindqvist (demo)",
        timezone: "Europe/London",
        base_pain: 5.2,
        relief: 1.6,
        fade_days: 4.0,
        stretch_effect: -0.4,
        stretch_chance: 0.4,
        session_every: 14,
        session_phase: 8,
        technique: Technique::Swedish,
        pressure: Pressure::Light,
        condition: Some((
            Condition::Osteoporosis,
            "Lumbar spine, DEXA scan 2026. Light pressure only; no deep work over the spine.",
        )),
        story: Story::FunctionWorse,
        no_help_every: Some(3),
        follows: Follows::Partly,
        warning_sign: None,
    },
];

/// What the command did, for its report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub accounts_created: usize,
    pub links_created: usize,
    pub objects_written: usize,
    pub objects_unchanged: usize,
}

impl Profile {
    fn is_session_day(&self, date: NaiveDate) -> bool {
        date.num_days_from_ce().rem_euclid(self.session_every) == self.session_phase
    }

    /// A session written on `date`, the story's today being `today`.
    fn has_session(&self, date: NaiveDate, today: NaiveDate) -> bool {
        self.is_session_day(date)
            && !(self.story == Story::SessionDue && (today - date).num_days() < NO_SESSION_DAYS)
    }

    fn in_flare(&self, date: NaiveDate, today: NaiveDate) -> bool {
        self.story == Story::FlareUp && (today - date).num_days() < FLARE_DAYS
    }

    /// The same numbers for the same patient, day and purpose, every run.
    fn rng(&self, date: NaiveDate, purpose: &str) -> ChaCha8Rng {
        let digest = Sha256::digest(format!("{}/{date}/{purpose}", self.email));
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&digest);
        ChaCha8Rng::from_seed(seed)
    }

    /// The first day of the home programme (relative to the first run).
    fn programme_from(today: NaiveDate) -> NaiveDate {
        today
            .checked_sub_days(Days::new(PROGRAMME_DAYS_AGO))
            .unwrap_or(today)
    }

    /// Whether the patient stretched that day: at random, and since the
    /// home programme began as they follow it.
    fn stretched(&self, date: NaiveDate, today: NaiveDate) -> bool {
        let weekday = date.weekday();
        match self.follows {
            _ if date < Self::programme_from(today) => {}
            Follows::Fully => return weekday != Weekday::Sun,
            Follows::Partly => {
                return matches!(
                    weekday,
                    Weekday::Mon | Weekday::Wed | Weekday::Fri | Weekday::Sat
                )
            }
            Follows::Hardly => {}
        }
        self.rng(date, "stretched").gen_bool(self.stretch_chance)
    }

    /// The stretch sessions of a day the patient stretched: (stretch,
    /// seconds) each; at random before the programme.
    fn stretches(
        &self,
        date: NaiveDate,
        today: NaiveDate,
        rng: &mut ChaCha8Rng,
    ) -> Vec<(Uuid, i64)> {
        if date < Self::programme_from(today) {
            let count = rng.gen_range(1..=3);
            return (0..count)
                .map(|_| {
                    let stretch = BUILTIN_STRETCHES[rng.gen_range(0..BUILTIN_STRETCHES.len())];
                    (stretch, rng.gen_range(4..=20) * 30)
                })
                .collect();
        }
        let weekday = date.weekday();
        match self.follows {
            Follows::Fully => vec![(SIDE_BEND, 60), (SIDE_BEND, 60), (CAT_COW, 60)],
            Follows::Hardly => {
                let mut done = vec![(FIGURE_FOUR, 60)];
                if matches!(weekday, Weekday::Mon | Weekday::Wed | Weekday::Fri) {
                    done.push((SIDE_BEND, 120));
                }
                done
            }
            Follows::Partly => {
                let mut done = vec![(PELVIC_TILT, 60)];
                if weekday == Weekday::Wed {
                    done.push((GLUTE_BRIDGE, 60));
                }
                done
            }
        }
    }

    /// The home programme's versions: how many days ago each was saved,
    /// and what it prescribed.
    fn programme(&self, today: NaiveDate) -> Vec<(u64, ProgrammeBody)> {
        let item = |stretch, days_per_week, seconds_per_day, note: Option<&str>| ProgrammeItem {
            stretch_id: stretch,
            days_per_week,
            seconds_per_day,
            sets: None,
            reps: None,
            side: Some(Side::Both),
            note: note.map(str::to_owned),
        };
        let plan = |note: &str, items| ProgrammeBody {
            starts_on: Self::programme_from(today),
            ends_on: None,
            note: Some(note.to_owned()),
            items,
        };
        match self.follows {
            Follows::Fully => vec![
                (
                    PROGRAMME_DAYS_AGO,
                    plan(
                        "Keep moving between sessions; stop short of sharp pain.",
                        vec![
                            item(SIDE_BEND, 3, 60, Some("30 seconds each side.")),
                            item(CAT_COW, 7, 60, None),
                        ],
                    ),
                ),
                (
                    RAISED_DAYS_AGO,
                    plan(
                        "Going well: a little more side bending now.",
                        vec![
                            item(
                                SIDE_BEND,
                                5,
                                120,
                                Some("A minute each side, in two goes if easier."),
                            ),
                            item(CAT_COW, 7, 60, None),
                        ],
                    ),
                ),
            ],
            Follows::Hardly => vec![(
                PROGRAMME_DAYS_AGO,
                plan(
                    "For the piriformis and the quadratus lumborum between sessions.",
                    vec![
                        item(FIGURE_FOUR, 5, 90, Some("Hold 45 seconds each side.")),
                        item(SIDE_BEND, 5, 120, None),
                    ],
                ),
            )],
            Follows::Partly => vec![(
                PROGRAMME_DAYS_AGO,
                plan(
                    "Gentle and without bending forward under load (osteoporosis).",
                    vec![
                        item(PELVIC_TILT, 3, 60, None),
                        item(
                            GLUTE_BRIDGE,
                            3,
                            60,
                            Some("Lift only as far as is comfortable."),
                        ),
                    ],
                ),
            )],
        }
    }

    /// Days since the last session before `date` (None if none in 60 days).
    /// The last session before `date` (within 60 days): how long ago, and
    /// how much it helps (`relief`, or for every third of a patient whose
    /// sessions sometimes do not help, a little soreness instead).
    fn last_session(&self, date: NaiveDate, today: NaiveDate) -> Option<(f64, f64)> {
        (1..=60u64).find_map(|back| {
            let day = date.checked_sub_days(Days::new(back))?;
            if !self.has_session(day, today) {
                return None;
            }
            let index = day.num_days_from_ce().div_euclid(self.session_every);
            let helps = match self.no_help_every {
                Some(n) if index.rem_euclid(n) == 0 => -0.8,
                _ => self.relief,
            };
            Some((back as f64, helps))
        })
    }

    fn pain(&self, date: NaiveDate, today: NaiveDate, draw: f64) -> i64 {
        // In a flare-up a session brings nothing, and pain is up.
        let flare = self.in_flare(date, today);
        let relief = self
            .last_session(date, today)
            .filter(|_| !flare)
            .map_or(0.0, |(days, helps)| {
                helps * (-(days - 1.0) / self.fade_days).exp()
            });
        let relief = relief - if flare { FLARE } else { 0.0 };
        let stretch = date
            .pred_opt()
            .filter(|yesterday| self.stretched(*yesterday, today))
            .map_or(0.0, |_| self.stretch_effect);
        // A slow drift over the months, and the day's own noise.
        let drift = 0.5 * (f64::from(date.ordinal()) / 58.0).sin();
        let pain = self.base_pain - relief + stretch + drift + draw;
        pain.round().clamp(0.0, 10.0) as i64
    }

    fn id(&self, what: &str, date: NaiveDate, n: usize) -> RecordId {
        RecordId(Uuid::new_v5(
            &NAMESPACE,
            format!("{}/{what}/{date}/{n}", self.email).as_bytes(),
        ))
    }
}

async fn account(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
    timezone: &str,
    summary: &mut Summary,
) -> ServiceResult<UserRow> {
    let email =
        Email::parse(email).map_err(|m| ServiceError::internal(format!("demo e-mail: {m}")))?;
    let lookup = email.as_str().to_owned();
    let existing = state
        .db
        .run(move |conn| accounts::find_user_by_email(conn, &lookup))
        .await?;
    if let Some(user) = existing {
        if user.role()? != role {
            return Err(ServiceError::internal(format!(
                "{} exists and is not a {}",
                user.email,
                role.as_str()
            )));
        }
        return Ok(user);
    }
    let sign_up = SignUp {
        email: email.as_str(),
        password: PASSWORD.to_owned(),
        display_name: name,
        role,
        timezone: Some(timezone),
    };
    let new = account_service::prepare(&state.hasher, sign_up).await?;
    let now = state.clock.now_naive();
    let user = state
        .db
        .write(move |conn| account_service::create(conn, new, now))
        .await?;
    summary.accounts_created += 1;
    Ok(user)
}

fn user_id(row: &UserRow) -> ServiceResult<UserId> {
    row.id
        .parse()
        .map_err(|_| DbError::corrupt("user", &row.id, "id").into())
}

/// Links the patient to the therapist through an invitation, unless they
/// already are; answers whether it made a link.
pub(crate) async fn link_once(
    state: &AppState,
    therapist: UserId,
    patient: UserId,
) -> ServiceResult<bool> {
    let linked = state
        .db
        .run(move |conn| care_team::active_link(conn, patient, therapist))
        .await?
        .is_some();
    if linked {
        return Ok(false);
    }
    // The demo's own accounts: nobody is there to prove their addresses.
    let invitation = team::invite(&state.db, &state.clock, therapist, 1, false).await?;
    team::redeem(
        &state.db,
        &state.clock,
        patient,
        invitation.code,
        "seed".into(),
        false,
    )
    .await?;
    Ok(true)
}

/// Writes the object unless it is stored already (whatever it holds: the
/// recent story was told relative to the day it was first written).
async fn put<K: Kind>(
    state: &AppState,
    scope: &PatientScope,
    id: RecordId,
    body: K::Body,
    summary: &mut Summary,
) -> ServiceResult<()> {
    let stored = state
        .db
        .run(move |conn| crate::db::records::find(conn, id))
        .await?
        .is_some_and(|r| !r.is_deleted());
    if stored {
        summary.objects_unchanged += 1;
        return Ok(());
    }
    let written = logbook::put::<K>(
        &state.db,
        &state.clock,
        &state.zones,
        *scope,
        id,
        IfMatch::Absent,
        body,
    )
    .await?;
    match written.outcome {
        logbook::Outcome::Unchanged => summary.objects_unchanged += 1,
        _ => summary.objects_written += 1,
    }
    Ok(())
}

const REGIONS: [Region; 5] = [
    Region::LowerBackLeft,
    Region::LowerBackRight,
    Region::LowerBackCenter,
    Region::ButtockLeft,
    Region::HipRight,
];

async fn seed_patient(
    state: &AppState,
    p: &Profile,
    patient: &UserRow,
    therapist: UserId,
    summary: &mut Summary,
) -> ServiceResult<()> {
    let id = user_id(patient)?;
    let tz = patient.timezone()?.tz();
    let own = PatientScope::own(AuthUser {
        id,
        role: Role::Patient,
        login: None,
    })?;
    let by_therapist = PatientScope {
        patient: id,
        actor: AuthUser {
            id: therapist,
            role: Role::Therapist,
            login: None,
        },
        access: ScopeAccess::LinkedTherapist,
        logged_as: None,
    };
    if let Some((condition, note)) = p.condition {
        let body = NamedCondition {
            condition,
            note: Some(note.to_owned()),
        };
        let fresh = p.id(condition.as_str(), NaiveDate::MIN, 0);
        put::<Conditions>(state, &own, fresh, body, summary).await?;
    }
    let today = state.clock.today_in(tz);
    // The programme first: the stretching of its weeks follows it.
    let versions = p.programme(today);
    if programme::ever_prescribed(&state.db, id).await? {
        summary.objects_unchanged += versions.len();
    } else {
        for (ago, body) in versions {
            programme::put_saved_ago(
                &state.db,
                &state.clock,
                by_therapist,
                programme::Preconditions {
                    if_match: IfMatch::Absent,
                    only_new: false,
                },
                body,
                Days::new(ago),
            )
            .await?;
            summary.objects_written += 1;
        }
    }
    let first = today
        .checked_sub_days(Days::new(DAYS - 1))
        .ok_or(DomainError::NotFound)?;
    let mut date = first;
    while date <= today {
        let mut rng = p.rng(date, "day");
        // Massage first: a session is in the morning, the rating at night.
        if p.has_session(date, today) {
            let start = tz
                .from_local_datetime(&date.and_hms_opt(10, 0, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.with_timezone(&Utc));
            // What the day would have been without the session: a function
            // of the date alone, so a later run writes the same session.
            let before = (p.pain(date, today, 0.0) + 1).min(10);
            let (ql, glute) = match p.pressure {
                Pressure::Light => (15, 15),
                _ => (20, 20),
            };
            let body = MassageSessionBody {
                date,
                started_at: start,
                duration_minutes: 60,
                technique: p.technique,
                pressure: Some(p.pressure),
                areas: vec![
                    MassageArea {
                        muscle: Muscle::QuadratusLumborum,
                        side: Side::Left,
                        minutes: ql,
                    },
                    MassageArea {
                        muscle: Muscle::QuadratusLumborum,
                        side: Side::Right,
                        minutes: ql,
                    },
                    MassageArea {
                        muscle: Muscle::GluteusMedius,
                        side: Side::Both,
                        minutes: glute,
                    },
                ],
                pain_before: Some(before),
                pain_after: Some((before - 2).max(0)),
                notes: None,
            };
            put::<MassageSessions>(
                state,
                &by_therapist,
                p.id("massage", date, 0),
                body,
                summary,
            )
            .await?;
        }
        // Most days are logged; some twice.
        if rng.gen_bool(0.9) {
            let entries = if rng.gen_bool(0.12) { 2 } else { 1 };
            for n in 0..entries {
                let level = p.pain(date, today, rng.gen_range(-1.0..1.0));
                let regions = REGIONS
                    .iter()
                    .copied()
                    .filter(|_| rng.gen_bool(0.35))
                    .collect();
                let peg = rng.gen_bool(0.3);
                let body = PainEntryBody {
                    date,
                    pain_level: level,
                    recorded_at: None,
                    regions,
                    enjoyment_interference: peg.then(|| (level - 1).clamp(0, 10)),
                    activity_interference: peg.then(|| level.clamp(0, 10)),
                    // The flare-up, in the patient's words.
                    notes: (p.in_flare(date, today) && (today - date).num_days() == 2 && n == 0)
                        .then(|| {
                            "Carried boxes at the weekend; sore since, worst when bending."
                                .to_owned()
                        }),
                    red_flags: Vec::new(),
                };
                put::<PainEntries>(state, &own, p.id("pain", date, n), body, summary).await?;
            }
        }
        // The warning sign: one entry more, two days before the first
        // run's today, written once (its id names no date).
        if let Some(sign) = p
            .warning_sign
            .filter(|_| (today - date).num_days() == WARNING_DAYS_AGO)
        {
            let body = PainEntryBody {
                date,
                pain_level: p.pain(date, today, 0.0),
                recorded_at: None,
                regions: vec![Region::LowerBackCenter],
                enjoyment_interference: None,
                activity_interference: None,
                notes: Some(
                    "Pins and needles down both legs since last night, worse on the left."
                        .to_owned(),
                ),
                red_flags: vec![sign.as_str().to_owned()],
            };
            let id = p.id("warning", NaiveDate::MIN, 0);
            put::<PainEntries>(state, &own, id, body, summary).await?;
        }
        if p.stretched(date, today) {
            for (n, (stretch_id, seconds)) in
                p.stretches(date, today, &mut rng).into_iter().enumerate()
            {
                let body = StretchSessionBody {
                    date,
                    stretch_id,
                    duration_seconds: seconds,
                    sets: Some(rng.gen_range(1..=3)),
                    reps: None,
                    side: Some(Side::Both),
                    notes: None,
                };
                put::<StretchSessions>(state, &own, p.id("stretch", date, n), body, summary)
                    .await?;
            }
        }
        // A PEG questionnaire every four weeks.
        if date.num_days_from_ce().rem_euclid(28) == 0 {
            let level = p.pain(date, today, 0.0);
            let body = AssessmentBody {
                date,
                instrument: Instrument::Peg,
                answers: vec![Some(level), Some((level - 1).max(0)), Some(level)],
            };
            put::<Assessments>(state, &own, p.id("peg", date, 0), body, summary).await?;
        }
        // Monthly Oswestry questionnaires: steady at 36, then 48 three days ago.
        if p.story == Story::FunctionWorse {
            let back = (today - date).num_days();
            let answers = if back == 3 {
                Some([3, 3, 3, 2, 2, 3, 2, 2, 2, 2])
            } else {
                (back > 3 && date.num_days_from_ce().rem_euclid(28) == 14)
                    .then_some([2, 2, 2, 2, 2, 2, 2, 2, 1, 1])
            };
            if let Some(answers) = answers {
                let body = AssessmentBody {
                    date,
                    instrument: Instrument::Odi,
                    answers: answers.into_iter().map(Some).collect(),
                };
                // The worse one is written once, on the first run.
                let id = if back == 3 {
                    p.id("odi-worse", NaiveDate::MIN, 0)
                } else {
                    p.id("odi", date, 0)
                };
                put::<Assessments>(state, &own, id, body, summary).await?;
            }
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    Ok(())
}

/// Creates (or brings up to date) the demo therapist, the three patients,
/// their links and their data.
pub async fn seed(state: &AppState) -> ServiceResult<Summary> {
    let mut summary = Summary::default();
    let therapist = account(
        state,
        THERAPIST_EMAIL,
        "Dr. Jordan Reyes (demo)",
        Role::Therapist,
        "Europe/Berlin",
        &mut summary,
    )
    .await?;
    let therapist = user_id(&therapist)?;
    for p in &PATIENTS {
        let patient = account(
            state,
            p.email,
            p.name,
            Role::Patient,
            p.timezone,
            &mut summary,
        )
        .await?;
        if link_once(state, therapist, user_id(&patient)?).await? {
            summary.links_created += 1;
        }
        seed_patient(state, p, &patient, therapist, &mut summary).await?;
    }
    Ok(summary)
}

/// The demo logins, for the command's report.
pub fn logins() -> Vec<(&'static str, &'static str)> {
    std::iter::once(("therapist", THERAPIST_EMAIL))
        .chain(PATIENTS.iter().map(|p| ("patient", p.email)))
        .collect()
}
