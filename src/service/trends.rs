//! The daily series and the trends between massage sessions, for the
//! patient or a linked therapist: one read of the rows, pure analytics.

use chrono::{Days, NaiveDate};

use crate::analytics::trends::{self, Day, PainPoint, Session, StretchPoint, Trends};
use crate::auth::PatientScope;
use crate::db::overview::trend_rows;
use crate::db::{accounts, DbError};
use crate::domain::{DomainError, FieldError, RecordId};
use crate::error::AppResult;
use crate::kinds::RecordKind;
use crate::state::AppState;

/// Default range: the 90 days ending at the patient's today.
pub const DEFAULT_DAYS: u64 = 90;
/// The longest range: three years.
pub const MAX_DAYS: i64 = 1096;

/// The rows of `[from − 7, to]` (the first baselines look back a week),
/// with `from`/`to` defaulted in the patient's time zone.
async fn rows(
    state: &AppState,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<(
    NaiveDate,
    NaiveDate,
    Vec<PainPoint>,
    Vec<StretchPoint>,
    Vec<Session>,
)> {
    let clock = state.clock.clone();
    let (from, to, rows) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let patient = accounts::find_user(conn, &scope.patient.to_string())?
                .ok_or(DomainError::NotFound)?;
            let today = clock.today_in(patient.timezone()?.tz());
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
            let reach = from.checked_sub_days(Days::new(7)).unwrap_or(from);
            Ok((from, to, trend_rows(conn, scope.patient, (reach, to))?))
        })
        .await?;
    let (mut pain, mut stretch, mut sessions) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let Some(date) = row.date else { continue };
        let bad = |column| DbError::corrupt("record", &row.id, column);
        match RecordKind::parse(&row.kind) {
            Some(RecordKind::PainEntry) => pain.push(PainPoint {
                date,
                level: row.pain_level.ok_or_else(|| bad("pain_level"))?.into(),
            }),
            Some(RecordKind::StretchSession) => stretch.push(StretchPoint {
                date,
                seconds: row
                    .duration_seconds
                    .ok_or_else(|| bad("duration_seconds"))?
                    .into(),
            }),
            Some(RecordKind::MassageSession) => sessions.push(Session {
                id: row.id.parse::<RecordId>().map_err(|_| bad("id"))?.0,
                date,
                started_at: row.started_at.map(|t| t.and_utc()),
            }),
            _ => {}
        }
    }
    Ok((from, to, pain, stretch, sessions))
}

pub async fn daily(
    state: &AppState,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<(NaiveDate, NaiveDate, Vec<Day>)> {
    let (from, to, pain, stretch, sessions) = rows(state, scope, from, to).await?;
    Ok((
        from,
        to,
        trends::daily(from, to, &pain, &stretch, &sessions),
    ))
}

pub async fn trends(
    state: &AppState,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<(NaiveDate, NaiveDate, Trends)> {
    let (from, to, pain, stretch, sessions) = rows(state, scope, from, to).await?;
    Ok((
        from,
        to,
        trends::trends(from, to, &pain, &stretch, &sessions),
    ))
}
