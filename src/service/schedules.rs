//! Reminders and digests (docs/api-guide.md): their settings, the scheduler
//! every instance runs, and one-click unsubscribe.
//!
//! Each schedule row holds its next due instant. A scheduler wakes each
//! minute, claims the due rows with one indexed query under a row lock
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and for each, in the same
//! transaction, queues the mail (or records why not), records the local
//! date it was for and moves to the next due time. So a restart in the
//! middle of a run repeats nothing, and several instances share the work
//! without sending anything twice.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::clock::Clock;
use crate::db::accounts::{self, UserRow};
use crate::db::schedules::{self, Kind, ScheduleRow, Setting};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::schedule::{next_due, Day, Days, Due, LocalTime};
use crate::domain::version::IfMatch;
use crate::domain::{DomainError, FieldError, UserId};
use crate::mail::compose::{self, Recipient};
use crate::mail::MailContext;

/// Due rows one transaction handles.
const BATCH: i64 = 100;
/// How long an unsubscribe link in a mail keeps working.
pub const UNSUBSCRIBE_VALID: chrono::Duration = chrono::Duration::days(90);

/// A patient's daily reminder to log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    /// Off until turned on.
    pub enabled: bool,
    /// `HH:MM` in the patient's time zone (24-hour).
    #[schema(example = "20:00")]
    pub local_time: String,
    /// The weekdays it may come on, each once; at least one while enabled.
    pub days: Vec<Day>,
}

/// A therapist's weekly digest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    /// Off until turned on.
    pub enabled: bool,
    /// The day of the week it comes on.
    pub weekday: Day,
    /// `HH:MM` in the therapist's time zone (24-hour).
    #[schema(example = "08:00")]
    pub local_time: String,
}

/// Settings as stored, with when they are due next.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemindersView {
    #[serde(flatten)]
    pub settings: Reminders,
    /// When the next reminder is due (it goes out only if that day has no
    /// entry by then); `null` while disabled.
    pub next_due_at: Option<DateTime<Utc>>,
    /// The settings' version, sent as the `ETag` (0 while never saved).
    #[serde(skip)]
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DigestView {
    #[serde(flatten)]
    pub settings: Digest,
    /// When the next digest is due (it goes out only if a patient has an
    /// alert then); `null` while disabled.
    pub next_due_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub version: i64,
}

/// A schedule's rules, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    enabled: bool,
    time: LocalTime,
    days: Days,
}

impl Plan {
    fn of_row(row: &ScheduleRow) -> Result<Self, DbError> {
        let corrupt = |what: &str| DbError::corrupt("schedule of user", &row.user_id, what);
        Ok(Self {
            enabled: row.enabled,
            time: LocalTime::parse(&row.local_time).map_err(|_| corrupt("local_time"))?,
            days: Days::from_text(&row.days).ok_or_else(|| corrupt("days"))?,
        })
    }

    /// The next due time after `handled`, in `user`'s zone; `None` while off.
    fn next(
        self,
        user: &UserRow,
        handled: Option<NaiveDate>,
        now: DateTime<Utc>,
        late_today: bool,
    ) -> Result<Option<(NaiveDateTime, NaiveDate)>, DbError> {
        if !self.enabled {
            return Ok(None);
        }
        let tz = user.timezone()?.tz();
        Ok(next_due(tz, self.time, self.days, handled, now, late_today)
            .map(|Due { date, at }| (at.naive_utc(), date)))
    }
}

fn reminders_default() -> Reminders {
    Reminders {
        enabled: false,
        local_time: "20:00".to_owned(),
        days: Day::ALL.to_vec(),
    }
}

fn digest_default() -> Digest {
    Digest {
        enabled: false,
        weekday: Day::Mon,
        local_time: "08:00".to_owned(),
    }
}

fn due_of(row: &ScheduleRow) -> Option<DateTime<Utc>> {
    row.next_due_at.map(|at| at.and_utc())
}

pub async fn reminders(db: &Db, user: UserId) -> ServiceResult<RemindersView> {
    let id = user.to_string();
    let row = db
        .run(move |conn| schedules::find(conn, &id, Kind::Reminder))
        .await?;
    let Some(row) = row else {
        return Ok(RemindersView {
            settings: reminders_default(),
            next_due_at: None,
            version: 0,
        });
    };
    let plan = Plan::of_row(&row)?;
    Ok(RemindersView {
        settings: Reminders {
            enabled: plan.enabled,
            local_time: plan.time.to_text(),
            days: plan.days.list(),
        },
        next_due_at: due_of(&row),
        version: row.version,
    })
}

pub async fn digest(db: &Db, user: UserId) -> ServiceResult<DigestView> {
    let id = user.to_string();
    let row = db
        .run(move |conn| schedules::find(conn, &id, Kind::Digest))
        .await?;
    let Some(row) = row else {
        return Ok(DigestView {
            settings: digest_default(),
            next_due_at: None,
            version: 0,
        });
    };
    let plan = Plan::of_row(&row)?;
    let weekday = plan.days.list().first().copied().unwrap_or(Day::Mon);
    Ok(DigestView {
        settings: Digest {
            enabled: plan.enabled,
            weekday,
            local_time: plan.time.to_text(),
        },
        next_due_at: due_of(&row),
        version: row.version,
    })
}

/// Checks `local_time` and `days`; 422 naming each field that is wrong.
fn plan(enabled: bool, local_time: &str, days: &[Day], days_field: &str) -> ServiceResult<Plan> {
    let mut errors = Vec::new();
    let time =
        LocalTime::parse(local_time).map_err(|m| errors.push(FieldError::new("local_time", m)));
    let set = Days::from_list(days).map_err(|m| errors.push(FieldError::new(days_field, m)));
    if let Ok(set) = set {
        if enabled && set.is_empty() {
            errors.push(FieldError::new(
                days_field,
                "must name at least one day while enabled",
            ));
        }
    }
    match (time, set, errors.is_empty()) {
        (Ok(time), Ok(days), true) => Ok(Plan {
            enabled,
            time,
            days,
        }),
        _ => Err(DomainError::Invalid(errors).into()),
    }
}

/// Saves a schedule (412 when `if_match` names another version); it is
/// due next at its first time after the change (a day already handled is
/// not due again). The same settings again change nothing, not even a
/// reminder due this minute and not yet sent.
async fn save(
    db: &Db,
    clock: &Clock,
    user: UserId,
    kind: Kind,
    plan: Plan,
    if_match: IfMatch,
) -> ServiceResult<(Option<DateTime<Utc>>, i64)> {
    let id = user.to_string();
    let clock = clock.clone();
    db.write(move |conn| -> ServiceResult<_> {
        let now = clock.now();
        let me = accounts::find_user(conn, &id)?.ok_or(DomainError::AccountGone)?;
        // Waits for a scheduler handling this row, then reads what it recorded.
        schedules::lock(conn, &id, Some(kind))?;
        let current = schedules::find(conn, &id, kind)?;
        let version = current.as_ref().map_or(0, |r| r.version);
        if let Some(row) = &current {
            if Plan::of_row(row)? == plan {
                return Ok((due_of(row), version));
            }
        }
        // The defaults are served with ETag "0", so they can be named.
        if !if_match.allows(Some(version)) {
            let current = Some(version);
            return Err(DomainError::PreconditionFailed { current }.into());
        }
        if plan.enabled && !current.as_ref().is_some_and(|r| r.enabled) {
            // Turned on (again): links sent before cannot turn it off.
            schedules::void_unsubscribe(conn, &id, kind)?;
        }
        let handled = current.and_then(|r| r.handled_date);
        let next = plan.next(&me, handled, now, false)?;
        let time = plan.time.to_text();
        let days = plan.days.to_text();
        let setting = Setting {
            enabled: plan.enabled,
            local_time: &time,
            days: &days,
            next,
            version: version + 1,
        };
        schedules::save(conn, &id, kind, &setting, now.naive_utc())?;
        Ok((next.map(|(at, _)| at.and_utc()), version + 1))
    })
    .await
}

pub async fn put_reminders(
    db: &Db,
    clock: &Clock,
    user: UserId,
    body: Reminders,
    if_match: IfMatch,
) -> ServiceResult<RemindersView> {
    let plan = plan(body.enabled, &body.local_time, &body.days, "days")?;
    let (next_due_at, version) = save(db, clock, user, Kind::Reminder, plan, if_match).await?;
    Ok(RemindersView {
        settings: Reminders {
            enabled: plan.enabled,
            local_time: plan.time.to_text(),
            days: plan.days.list(),
        },
        next_due_at,
        version,
    })
}

pub async fn put_digest(
    db: &Db,
    clock: &Clock,
    user: UserId,
    body: Digest,
    if_match: IfMatch,
) -> ServiceResult<DigestView> {
    let plan = plan(body.enabled, &body.local_time, &[body.weekday], "weekday")?;
    let (next_due_at, version) = save(db, clock, user, Kind::Digest, plan, if_match).await?;
    Ok(DigestView {
        settings: Digest {
            enabled: plan.enabled,
            weekday: body.weekday,
            local_time: plan.time.to_text(),
        },
        next_due_at,
        version,
    })
}

/// The user's time zone changed (in the caller's transaction): each
/// schedule is due next at its time in the new zone, still never twice for
/// one local date.
pub fn follow_timezone(
    conn: &mut DbConnection,
    user: &UserRow,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    schedules::lock(conn, &user.id, None)?;
    for row in schedules::of_user(conn, &user.id)? {
        let Some(kind) = Kind::parse(&row.kind) else {
            continue;
        };
        let next = Plan::of_row(&row)?.next(user, row.handled_date, now, false)?;
        schedules::reschedule(conn, &user.id, kind, next)?;
    }
    Ok(())
}

/// What a due schedule led to, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Queued,
    /// The patient had logged that day already.
    AlreadyLogged,
    /// No mail goes to an address that was never confirmed.
    Unverified,
    /// The local day it was due on is over (the service was down).
    MissedDay,
    /// No linked patient has an alert.
    NoAlerts,
    /// The row could not be handled (logged); it is stopped until its
    /// settings are saved again.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::AlreadyLogged => "already_logged",
            Self::Unverified => "unverified",
            Self::MissedDay => "missed_day",
            Self::NoAlerts => "no_alerts",
            Self::Failed => "failed",
        }
    }
}

/// Handles every schedule due now: claims them in batches, each batch one
/// transaction. `committed` hears what each schedule of a batch led to once
/// the batch has committed (so a later failure loses none of it).
pub async fn run_due(
    db: &Db,
    clock: &Clock,
    mail: &MailContext,
    mut committed: impl FnMut(Kind, Outcome),
) -> ServiceResult<()> {
    // Bounded: a schedule handled now is due again on a later local date,
    // and catching up after downtime takes at most one more claim each.
    for _ in 0..1_000 {
        let (clock, context) = (clock.clone(), mail.clone());
        let (claimed, outcomes) = db
            .write(move |conn| -> ServiceResult<(usize, Vec<(Kind, Outcome)>)> {
                let now = clock.now();
                let rows = schedules::claim_due(conn, now.naive_utc(), BATCH)?;
                let claimed = rows.len();
                let mut outcomes = Vec::with_capacity(rows.len());
                for row in rows {
                    // Each row in a savepoint: one that cannot be handled
                    // is stopped, and the rest of the batch goes on.
                    let kind = Kind::parse(&row.kind).unwrap_or(Kind::Reminder);
                    match crate::db::savepoint(conn, |conn| handle(conn, &clock, &context, &row, now)) {
                        Ok(Some(outcome)) => outcomes.push((kind, outcome)),
                        Ok(None) => {}
                        Err(err @ ServiceError::Db(DbError::Unavailable(_))) => return Err(err),
                        Err(err) => {
                            tracing::error!(user_id = %row.user_id, kind = %row.kind, error = %err,
                                "scheduler: a schedule could not be handled; stopped");
                            schedules::stop(conn, &row.user_id, &row.kind)?;
                            outcomes.push((kind, Outcome::Failed));
                        }
                    }
                }
                Ok((claimed, outcomes))
            })
            .await?;
        // Until a claim finds nothing: a schedule caught up after downtime
        // can be due again at once (today, late).
        let done = claimed == 0;
        if outcomes.iter().any(|(_, o)| *o == Outcome::Queued) {
            mail.wake();
        }
        for (kind, outcome) in outcomes {
            committed(kind, outcome);
        }
        if done {
            break;
        }
    }
    Ok(())
}

/// One due schedule, in the claiming transaction; `None` when there was
/// nothing to do but move its due time.
fn handle(
    conn: &mut DbConnection,
    clock: &Clock,
    mail: &MailContext,
    row: &ScheduleRow,
    now: DateTime<Utc>,
) -> ServiceResult<Option<Outcome>> {
    let (Some(kind), Some(due_date)) = (Kind::parse(&row.kind), row.due_date) else {
        return Err(ServiceError::internal(
            "a due schedule without a kind or a date",
        ));
    };
    let user = accounts::find_user(conn, &row.user_id)?
        .ok_or_else(|| ServiceError::internal("a due schedule without its user"))?;
    let plan = Plan::of_row(row)?;
    if row.handled_date.is_some_and(|handled| handled >= due_date) {
        // That local day was dealt with already (its due time was set
        // from stale data): never a second mail for it.
        let next = plan.next(&user, row.handled_date, now, true)?;
        schedules::reschedule(conn, &user.id, kind, next)?;
        return Ok(None);
    }
    let today = now.with_timezone(&user.timezone()?.tz()).date_naive();
    let outcome = if due_date < today {
        Outcome::MissedDay
    } else if user.email_verified_at.is_none() {
        Outcome::Unverified
    } else {
        match kind {
            Kind::Reminder if schedules::has_pain_entry(conn, &user.id, due_date)? => {
                Outcome::AlreadyLogged
            }
            Kind::Reminder => queue(conn, &user, kind, now, |token| {
                compose::reminder(
                    &mail.from,
                    &recipient(&user),
                    &mail.public_url,
                    token,
                    due_date,
                )
            })?,
            Kind::Digest => {
                let therapist: UserId = user
                    .id
                    .parse()
                    .map_err(|_| DbError::corrupt("user", &user.id, "id"))?;
                let count = crate::service::overview::patients_with_alerts(conn, clock, therapist)?;
                if count == 0 {
                    Outcome::NoAlerts
                } else {
                    queue(conn, &user, kind, now, |token| {
                        compose::digest(
                            &mail.from,
                            &recipient(&user),
                            &mail.public_url,
                            token,
                            count,
                        )
                    })?
                }
            }
        }
    };
    let next = plan.next(&user, Some(due_date), now, true)?;
    schedules::advance(conn, &user.id, kind, due_date, next)?;
    Ok(Some(outcome))
}

fn recipient(user: &UserRow) -> Recipient<'_> {
    Recipient {
        email: &user.email,
        display_name: super::account_email::chosen_name(user),
    }
}

/// Queues a series mail with a fresh unsubscribe token.
fn queue(
    conn: &mut DbConnection,
    user: &UserRow,
    kind: Kind,
    now: DateTime<Utc>,
    compose: impl FnOnce(&str) -> Result<Option<compose::Mail>, compose::ComposeError>,
) -> ServiceResult<Outcome> {
    let (token, hash) = new_refresh_token();
    let Some(message) = compose(&token)? else {
        tracing::warn!(user_id = %user.id, kind = kind.as_str(), "no mail: the address cannot be mailed");
        return Ok(Outcome::Unverified);
    };
    schedules::issue_unsubscribe(conn, &hash, &user.id, kind, now.naive_utc())?;
    super::enqueue(conn, message, now.naive_utc())?;
    Ok(Outcome::Queued)
}

/// `POST /v1/unsubscribe?token=…`: turns off the reminder or digest the
/// token was mailed for. 400 `invalid_token` for one that is unknown or
/// older than [`UNSUBSCRIBE_VALID`].
pub async fn unsubscribe(db: &Db, clock: &Clock, token: &str) -> ServiceResult<Kind> {
    let hash = hash_refresh_token(token);
    let clock = clock.clone();
    db.write(move |conn| -> ServiceResult<Kind> {
        let now = clock.now_naive();
        Ok(
            schedules::unsubscribe(conn, &hash, now - UNSUBSCRIBE_VALID, now)?
                .ok_or(DomainError::InvalidUnsubscribeLink)?,
        )
    })
    .await
}
