//! The daily series and the trends between massage sessions, for the
//! patient or a linked therapist: one read of the rows, pure analytics.
//! Answers are kept by what decides them (the patient's change counter
//! among it), with the caller's rendering of them made once per entry, so a
//! repeated read costs one indexed row and a copy, and a client holding
//! the current `ETag` gets 304.

use std::sync::{Arc, OnceLock};

use chrono::{Days, NaiveDate};
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ServiceResult;
use crate::analytics::adherence::{adherence, ProgrammeVersion, Stretched};
use crate::analytics::trends::{self, Day, DaySpan, Interval, Session, TrendSummary, Trends};
use crate::clock::Clock;
use crate::db::accounts::UserRow;
use crate::db::overview::{
    trend_rows, TrendRow, TREND_FLAG, TREND_PAIN, TREND_SESSION, TREND_STRETCH,
};
use crate::db::Db;
use crate::db::{accounts, DbConnection, DbError};
use crate::domain::access::PatientScope;
use crate::domain::red_flag::RedFlag;
use crate::domain::version::IfNoneMatch;
use crate::domain::{DomainError, FieldError, RecordId};

/// Default range: the 90 days ending at the patient's today.
pub const DEFAULT_DAYS: u64 = 90;
/// The longest range: three years.
pub const MAX_DAYS: i64 = 1096;

/// What the figures of one answer are computed from: the days of
/// `[from − 7, to]` summed (the first baselines look back a week), and
/// the massage sessions.
pub struct Rows {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The patient's today (whether the next session is due).
    pub today: NaiveDate,
    pub days: DaySpan,
    pub sessions: Vec<Session>,
    /// Seconds of each stretch a day.
    pub stretched: Vec<Stretched>,
    /// The home programme's versions in force on some day of the range.
    pub programme: Vec<ProgrammeVersion>,
}

/// Which figures an answer holds.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum View {
    Daily,
    Trends,
}

/// Bump when the definition of any figure or the answer's shape changes
/// within a release (the crate version is part of the tag as well):
/// answers of an older build then no longer match the `ETag`s clients hold.
const FIGURES_REVISION: u32 = 4;

/// What decides an answer: the patient, their change counter (every write
/// of their data moves it, in the write's own transaction, on every
/// instance), the range and the view. Equal keys, equal answers.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
struct Key {
    patient: uuid::Uuid,
    change_seq: i64,
    from: NaiveDate,
    to: NaiveDate,
    /// The patient's today: the next-session hint says whether it is due.
    today: NaiveDate,
    view: View,
}

impl Key {
    /// A strong `ETag`, opaque (it does not reveal the change counter).
    fn etag(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(format!(
            "{}:{FIGURES_REVISION}:{}:{}:{}:{}:{}:{:?}",
            env!("CARGO_PKG_VERSION"),
            self.patient,
            self.change_seq,
            self.from,
            self.to,
            self.today,
            self.view
        ));
        let hash = digest.finalize();
        let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    }
}

// The daily series of a range (no doc comment: it would become the
// schema's description).
#[derive(Debug, Serialize, ToSchema)]
pub struct DailySeries {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One row for every calendar day of `[from, to]`.
    pub days: Vec<Day>,
}

// The intervals between massage sessions of a range and their summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendsResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One per massage session dated in the range, in session order.
    pub intervals: Vec<Interval>,
    pub summary: TrendSummary,
}

/// The figures of one answer.
#[derive(Debug)]
pub enum Figures {
    Daily(DailySeries),
    Trends(TrendsResponse),
}

/// Figures and their `ETag`; clones share the figures.
#[derive(Debug, Clone)]
pub struct Answer {
    pub etag: String,
    pub figures: Arc<Figures>,
    /// The figures as the caller renders them (one form per cache), made
    /// by the first read of the entry and shared by every later one.
    pub rendered: Arc<OnceLock<Vec<u8>>>,
}

#[derive(Clone)]
struct FiguresSize;

impl Weighter<Key, Answer> for FiguresSize {
    fn weight(&self, _: &Key, answer: &Answer) -> u64 {
        // About what the figures take in memory, and the entry's own
        // bookkeeping, so many small answers are counted too.
        // The rendering (JSON text) is counted as large as the figures
        // again: a day is about 100 bytes in memory and 150 as JSON.
        let figures = match answer.figures.as_ref() {
            Figures::Daily(series) => series
                .days
                .iter()
                .map(|d| {
                    size_of::<Day>()
                        + d.massage_session_ids.len() * size_of::<uuid::Uuid>()
                        + d.red_flags.len() * size_of::<RedFlag>()
                })
                .sum::<usize>(),
            Figures::Trends(trends) => trends.intervals.len() * size_of::<Interval>(),
        };
        2 * figures as u64 + 256
    }
}

/// Figures already computed, up to a memory budget. An entry is never
/// stale: a write moves the patient's counter, so it makes a new key, and
/// the old entry just ages out. Clones share one cache.
#[derive(Clone)]
pub struct AnswerCache(Arc<Cache<Key, Answer, FiguresSize>>);

impl AnswerCache {
    /// At most about `bytes` of figures.
    pub fn new(bytes: u64) -> Self {
        Self(Arc::new(Cache::with_weighter(
            (bytes / 16_384).max(16) as usize,
            bytes,
            FiguresSize,
        )))
    }
}

/// How a request is answered.
pub enum Reply {
    /// The copy the client holds (`If-None-Match`) is current: its `ETag`.
    NotModified(String),
    Fresh(Answer),
}

/// The figures of `view` over `[from, to]` (defaulted in the patient's
/// time zone): `NotModified` when `held` names their `ETag`, else from the
/// cache or, on a miss, read, computed and kept.
pub async fn answer(
    db: &Db,
    clock: &Clock,
    answers: &AnswerCache,
    scope: PatientScope,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    view: View,
    held: IfNoneMatch,
) -> ServiceResult<Reply> {
    let clock = clock.clone();
    let cache = answers.clone();
    let found = db
        .run(move |conn| -> ServiceResult<Found> {
            let (patient, today, from, to) = in_calendar(conn, &clock, scope, from, to)?;
            let key = Key {
                patient: scope.patient.0,
                change_seq: patient.change_seq,
                from,
                to,
                today,
                view,
            };
            let etag = key.etag();
            if held.names(&etag) {
                return Ok(Found::NotModified(etag));
            }
            if let Some(answer) = cache.0.get(&key) {
                return Ok(Found::Cached(answer));
            }
            let rows = read_rows(conn, scope, from, to)?;
            Ok(Found::Rows(key, etag, Box::new(rows)))
        })
        .await?;
    match found {
        Found::NotModified(etag) => Ok(Reply::NotModified(etag)),
        Found::Cached(answer) => Ok(Reply::Fresh(answer)),
        Found::Rows(key, etag, rows) => {
            let (from, to) = (key.from, key.to);
            let rows = split((from, to), key.today, *rows)?;
            let figures = match view {
                View::Daily => Figures::Daily(DailySeries {
                    from,
                    to,
                    days: rows.daily(),
                }),
                View::Trends => {
                    let trends = rows.trends();
                    Figures::Trends(TrendsResponse {
                        from,
                        to,
                        intervals: trends.intervals,
                        summary: trends.summary,
                    })
                }
            };
            let answer = Answer {
                etag,
                figures: Arc::new(figures),
                rendered: Arc::default(),
            };
            answers.0.insert(key, answer.clone());
            Ok(Reply::Fresh(answer))
        }
    }
}

enum Found {
    NotModified(String),
    Cached(Answer),
    Rows(Key, String, Box<Read>),
}

/// What one answer is computed from, as stored.
struct Read {
    rows: Vec<TrendRow>,
    programme: Vec<ProgrammeVersion>,
}

/// The patient's row, their today, and `from`/`to` resolved in their calendar.
fn in_calendar(
    conn: &mut DbConnection,
    clock: &Clock,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<(UserRow, NaiveDate, NaiveDate, NaiveDate)> {
    let patient =
        accounts::find_user(conn, &scope.patient.to_string())?.ok_or(DomainError::NotFound)?;
    let today = clock.today_in(patient.timezone()?.tz());
    let (from, to) = resolve(today, from, to)?;
    Ok((patient, today, from, to))
}

/// The rows of `[from − 7, to]` (the first baselines look back a week),
/// and the versions of the home programme in force then.
fn read_rows(
    conn: &mut DbConnection,
    scope: PatientScope,
    from: NaiveDate,
    to: NaiveDate,
) -> ServiceResult<Read> {
    let reach = from.checked_sub_days(Days::new(7)).unwrap_or(from);
    let rows = trend_rows(conn, scope.patient, (reach, to))?;
    let programme = super::programme::plans(conn, scope.patient, (from, to))?;
    Ok(Read { rows, programme })
}

/// `from`/`to` with their defaults (the 90 days ending at the patient's today), checked.
fn resolve(
    today: NaiveDate,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<(NaiveDate, NaiveDate)> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| {
        to.checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to)
    });
    if from > to {
        let field = FieldError::new(
            "from",
            "must not be after to (the patient's today by default)",
        );
        return Err(DomainError::BadRange(field).into());
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        let field = FieldError::new("to", "the range must not exceed 1096 days");
        return Err(DomainError::BadRange(field).into());
    }
    Ok((from, to))
}

/// The rows of `[from − 7, to]` with `from`/`to` defaulted, uncached (the
/// chart, whose answer is not JSON).
pub async fn rows(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<Rows> {
    let clock = clock.clone();
    let (today, from, to, rows) = db
        .run(move |conn| -> ServiceResult<_> {
            let (_, today, from, to) = in_calendar(conn, &clock, scope, from, to)?;
            Ok((today, from, to, read_rows(conn, scope, from, to)?))
        })
        .await?;
    split((from, to), today, rows)
}

/// The stored sums and sessions as the analytics' input.
fn split((from, to): (NaiveDate, NaiveDate), today: NaiveDate, read: Read) -> ServiceResult<Rows> {
    let mut days = DaySpan::for_trends(from, to);
    let mut sessions = Vec::new();
    let mut stretched = Vec::new();
    for row in read.rows {
        let Some(date) = row.date() else { continue };
        match row.tag {
            TREND_PAIN => days.add_pain(date, row.sum, row.count, row.max),
            TREND_STRETCH => {
                days.add_stretch(date, row.sum, row.count);
                stretched.push(Stretched {
                    date,
                    stretch_id: row.id.unwrap_or_default(),
                    seconds: row.sum,
                });
            }
            TREND_FLAG => {
                // The column's CHECK keeps a mask within 11 bits.
                days.add_flags(date, i32::try_from(row.sum).unwrap_or(0));
            }
            TREND_SESSION => {
                let id = row.id.unwrap_or_default();
                let bad = |column| DbError::corrupt("record", &id, column);
                sessions.push(Session {
                    id: id.parse::<RecordId>().map_err(|_| bad("id"))?.0,
                    date,
                    started_at: row.started_at.map(|t| t.and_utc()),
                });
            }
            _ => {}
        }
    }
    Ok(Rows {
        from,
        to,
        today,
        days,
        sessions,
        stretched,
        programme: read.programme,
    })
}

/// The daily series, uncached (for the chart and the CSV export).
pub async fn daily(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<(NaiveDate, NaiveDate, Vec<Day>)> {
    let rows = rows(db, clock, scope, from, to).await?;
    Ok((rows.from, rows.to, rows.daily()))
}

impl Rows {
    pub fn daily(&self) -> Vec<Day> {
        trends::daily_of(self.from, self.to, &self.days, &self.sessions)
    }

    /// The intervals and their summary, each interval with its adherence
    /// to the home programme.
    pub fn trends(&self) -> Trends {
        let mut trends =
            trends::trends_of((self.from, self.to), self.today, &self.days, &self.sessions);
        for interval in &mut trends.intervals {
            interval.programme_adherence = interval.span_until(self.today).and_then(|span| {
                adherence(&self.programme, &self.stretched, span, self.today).programme
            });
        }
        trends
    }
}
