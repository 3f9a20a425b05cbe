//! The therapist's overview: a page of linked patients with their figures
//! and alerts (DESIGN.md §4), each in the patient's own time zone, from a
//! constant number of queries whatever the page size.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};

use crate::analytics::overview::{
    figures, window_start, AlertRules, Figures, PainDay, PatientData,
};
use crate::auth::{AuthUser, PatientScope};
use crate::db::access_log::{self, Access};
use crate::db::overview::{self as store, AlertSettingsRow, LastEntry};
use crate::db::DbError;
use crate::domain::logbook::Condition;
use crate::domain::{DomainError, Timezone, UserId};
use crate::error::{AppError, AppResult};
use crate::kinds::protocol::IfMatch;
use crate::state::AppState;

/// One linked patient as the therapist's overview shows them.
#[derive(Debug, Clone)]
pub struct Overview {
    pub id: UserId,
    pub display_name: String,
    /// The patient's IANA time zone, and their today in it.
    pub timezone: String,
    pub today: NaiveDate,
    pub since: NaiveDateTime,
    pub precautions: Vec<Condition>,
    pub last_entry_date: Option<NaiveDate>,
    pub last_pain_level: Option<i64>,
    pub last_massage_date: Option<NaiveDate>,
    pub figures: Figures,
}

/// Which patients, and whether this request is their access-log entry.
pub struct Selection {
    pub only: Option<UserId>,
    pub after: Option<(NaiveDateTime, String)>,
    /// Page size: one more is read, to tell whether there is a next page.
    pub limit: i64,
    /// The path to log one `read` row per patient shown under; `None` when
    /// the request was logged already (by the patient scope).
    pub log_as: Option<String>,
}

fn rules(settings: (Option<i32>, Option<i32>, Option<i32>)) -> AlertRules {
    let defaults = AlertRules::default();
    AlertRules {
        pain_threshold: settings.0.map(i64::from),
        spike_delta: settings.1.map_or(defaults.spike_delta, i64::from),
        not_logging_days: settings.2.map_or(defaults.not_logging_days, i64::from),
    }
}

/// A page of overviews, and whether more follow.
pub async fn overviews(
    state: &AppState,
    therapist: AuthUser,
    selection: Selection,
) -> AppResult<(Vec<Overview>, bool)> {
    let clock = state.clock.clone();
    let log_as = selection.log_as.clone();
    let read = move |conn: &mut crate::db::DbConnection| -> AppResult<(Vec<Overview>, bool)> {
        let mut patients = store::linked_patients(
            conn,
            therapist.id,
            selection.only,
            selection.after,
            selection.limit + 1,
        )?;
        let more = patients.len() > usize::try_from(selection.limit).unwrap_or(usize::MAX);
        patients.truncate(usize::try_from(selection.limit).unwrap_or(usize::MAX));
        if patients.is_empty() {
            return Ok((Vec::new(), false));
        }
        let mut page = Vec::with_capacity(patients.len());
        for p in patients {
            let tz = Timezone::parse(&p.timezone)
                .map_err(|_| DbError::corrupt("time zone of user", &p.id, "not an IANA zone"))?;
            let today = clock.today_in(tz.tz());
            let rules = rules((p.pain_threshold, p.spike_delta, p.not_logging_days));
            page.push((p, today, rules));
        }
        let ids: Vec<String> = page.iter().map(|(p, ..)| p.id.clone()).collect();
        let from = page
            .iter()
            .map(|(_, today, rules)| window_start(*today, *rules))
            .min()
            .unwrap_or(NaiveDate::MIN);
        let to = page
            .iter()
            .map(|(_, today, _)| *today)
            .max()
            .unwrap_or(NaiveDate::MAX);

        let mut pain: HashMap<String, Vec<PainDay>> = HashMap::new();
        for (patient, date, total, count) in store::pain_days(conn, &ids, (from, to))? {
            if let Some(date) = date {
                pain.entry(patient).or_default().push(PainDay {
                    date,
                    sum: total.unwrap_or(0),
                    count,
                });
            }
        }
        let mut stretched: HashMap<String, Vec<NaiveDate>> = HashMap::new();
        for (patient, date) in store::stretch_days(conn, &ids, (from, to))? {
            stretched.entry(patient).or_default().extend(date);
        }
        let massages: HashMap<String, NaiveDate> =
            store::last_massages(conn, &ids)?.into_iter().collect();
        let mut precautions: HashMap<String, Vec<Condition>> = HashMap::new();
        for (patient, name) in store::precautions(conn, &ids)? {
            let condition = name
                .as_deref()
                .and_then(Condition::parse)
                .ok_or_else(|| DbError::corrupt("precaution of user", &patient, "natural_key"))?;
            precautions.entry(patient).or_default().push(condition);
        }
        let mut last_entries: HashMap<String, LastEntry> = store::last_entries(conn, &ids)?
            .into_iter()
            .map(|e| (e.patient_id.clone(), e))
            .collect();

        let overviews = page
            .into_iter()
            .map(|(p, today, rules)| {
                let last = last_entries
                    .remove(&p.id)
                    .map(|e| (e.date, i64::from(e.pain_level)));
                let mut conditions = precautions.remove(&p.id).unwrap_or_default();
                conditions.sort_by_key(|c| c.as_str());
                let data = PatientData {
                    pain_days: pain.remove(&p.id).unwrap_or_default(),
                    stretch_days: stretched.remove(&p.id).unwrap_or_default(),
                    last_entry_date: last.map(|(date, _)| date),
                    last_massage_date: massages.get(&p.id).copied(),
                    has_precautions: !conditions.is_empty(),
                };
                Ok(Overview {
                    id: parse_id(&p.id)?,
                    display_name: p.display_name,
                    timezone: p.timezone,
                    today,
                    since: p.since,
                    precautions: conditions,
                    last_entry_date: data.last_entry_date,
                    last_pain_level: last.map(|(_, level)| level),
                    last_massage_date: data.last_massage_date,
                    figures: figures(&data, today, rules),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        Ok((overviews, more))
    };
    let clock = state.clock.clone();
    let (page, more) = state.db.run(read).await?;
    // The reads run on the pool, in parallel; only the log waits for the
    // writer. Nothing is answered unless the log is stored.
    if let Some(path) = log_as.filter(|_| !page.is_empty()) {
        let shown: Vec<UserId> = page.iter().map(|o| o.id).collect();
        state
            .db
            .write(move |conn| -> AppResult<()> {
                let entries: Vec<Access> = shown
                    .iter()
                    .map(|patient| Access {
                        patient: *patient,
                        actor: therapist.id,
                        action: "read",
                        path: &path,
                        allowed: true,
                    })
                    .collect();
                Ok(access_log::append(conn, &entries, clock.now_naive())?)
            })
            .await?;
    }
    Ok((page, more))
}

fn parse_id(id: &str) -> Result<UserId, DbError> {
    id.parse().map_err(|_| DbError::corrupt("user", id, "id"))
}

/// One linked patient's overview (the request was logged by the scope).
pub async fn overview(state: &AppState, scope: PatientScope) -> AppResult<Overview> {
    let selection = Selection {
        only: Some(scope.patient),
        after: None,
        limit: 1,
        log_as: None,
    };
    overviews(state, scope.actor, selection)
        .await?
        .0
        .into_iter()
        .next()
        .ok_or_else(|| DomainError::NotFound.into())
}

/// A therapist's alert rules for a patient; version 0 while never saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSettings {
    pub rules: AlertRules,
    pub version: i64,
}

impl From<Option<AlertSettingsRow>> for AlertSettings {
    fn from(row: Option<AlertSettingsRow>) -> Self {
        match row {
            Some(row) => Self {
                rules: rules((
                    row.pain_threshold,
                    Some(row.spike_delta),
                    Some(row.not_logging_days),
                )),
                version: row.version,
            },
            None => Self {
                rules: AlertRules::default(),
                version: 0,
            },
        }
    }
}

pub async fn alert_settings(state: &AppState, scope: PatientScope) -> AppResult<AlertSettings> {
    let row = state
        .db
        .run(move |conn| store::alert_settings(conn, scope.actor.id, scope.patient))
        .await?;
    Ok(row.into())
}

/// Replaces the rules (values already checked); `If-Match` as for any
/// versioned resource. Saving the same rules again changes nothing.
pub async fn save_alert_settings(
    state: &AppState,
    scope: PatientScope,
    rules: AlertRules,
    if_match: IfMatch,
) -> AppResult<AlertSettings> {
    let now = state.clock.now_naive();
    state
        .db
        .write(move |conn| -> AppResult<AlertSettings> {
            // One change of a patient's rules at a time, and none once the
            // link has ended since the scope was decided.
            super::logbook::lock(conn, &scope)?;
            let current: AlertSettings =
                store::alert_settings(conn, scope.actor.id, scope.patient)?.into();
            // The defaults are served with ETag "0", so they can be named.
            let matches = if_match.allows(Some(current.version));
            if current.version > 0 && current.rules == rules {
                return Ok(current);
            }
            if !matches {
                return Err(DomainError::PreconditionFailed.into());
            }
            let narrow = |v: i64| i32::try_from(v).map_err(AppError::internal);
            let row = AlertSettingsRow {
                pain_threshold: rules.pain_threshold.map(narrow).transpose()?,
                spike_delta: narrow(rules.spike_delta)?,
                not_logging_days: narrow(rules.not_logging_days)?,
                version: current.version + 1,
            };
            store::save_alert_settings(conn, scope.actor.id, scope.patient, &row, now)?;
            Ok(AlertSettings {
                rules,
                version: row.version,
            })
        })
        .await
}
