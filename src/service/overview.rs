//! The therapist's overview: a page of linked patients with their figures
//! and alerts (docs/analytics.md), each in the patient's own time zone, from a
//! constant number of queries whatever the page size. Figures are kept by
//! what decides them (the patient's change counter, their today, the
//! rules), so a page polled again reads only the patients whose data or
//! day changed.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use quick_cache::sync::Cache;

use super::{ServiceError, ServiceResult};
use crate::analytics::adherence::Stretched;
use crate::analytics::clinical::Questionnaire;
use crate::analytics::instruments::Instrument;
use crate::analytics::overview::{
    figures, window_start, AlertRules, Figures, Hundredths, Note, PainDay, PatientData,
    PatientOrder, Rank, RuleOverrides, SESSIONS_LOOK_BACK_DAYS,
};
use crate::analytics::trends::Session;
use crate::clock::Clock;
use crate::db::access_log::{self, Access};
use crate::db::accounts;
use crate::db::overview::{
    self as store, AlertDefaultsRow, AlertSettingsRow, DefaultsColumns, LastEntry, OverridesColumns,
};
use crate::db::DbError;
use crate::db::{Db, DbConnection};
use crate::domain::access::{AuthUser, PatientScope};
use crate::domain::logbook::Condition;
use crate::domain::version::IfMatch;
use crate::domain::{DomainError, RecordId, Timezone, UserId};
use crate::kinds::{AssessmentDoc, PainEntryDoc, RecordKind};

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
    /// The therapist's rules for this patient, as they apply.
    pub rules: AlertRules,
    /// Where the patient stands in the order asked for.
    pub rank: Rank,
    /// Their place in the whole ordered list (0 first).
    pub position: usize,
}

/// Where the previous page ended: its last patient and their place then.
/// Only an id and a number, so no health data travels in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub position: usize,
    pub id: UserId,
}

/// Which patients, and whether this request is their access-log entry.
pub struct Selection {
    pub only: Option<UserId>,
    pub order: PatientOrder,
    /// Where the previous page ended.
    pub after: Option<After>,
    /// Page size.
    pub limit: i64,
    /// The path to log one `read` row per patient shown under; `None` when
    /// the request was logged already (by the patient scope).
    pub log_as: Option<String>,
}

/// The most linked patients one list reads (a therapist's whole caseload:
/// the attention order needs every patient's figures to sort them).
const CASELOAD_MAX: i64 = 100_000;

/// A therapist's defaults from their stored row (none: the built-in ones).
fn defaults_of(row: DefaultsColumns) -> AlertRules {
    match row {
        (threshold, Some(spike), Some(days), Some(floor)) => AlertRules {
            pain_threshold: threshold.map(i64::from),
            spike_delta: spike.into(),
            not_logging_days: days.into(),
            adherence_floor: Hundredths(floor.into()),
        },
        _ => AlertRules::default(),
    }
}

fn overrides_of(row: OverridesColumns) -> RuleOverrides {
    let (threshold, off, spike, days, floor) = row;
    RuleOverrides {
        pain_threshold: if off == Some(true) {
            Some(None)
        } else {
            threshold.map(|t| Some(i64::from(t)))
        },
        spike_delta: spike.map(i64::from),
        not_logging_days: days.map(i64::from),
        adherence_floor: floor.map(|f| Hundredths(f.into())),
    }
}

/// What a patient's figures are computed from, besides the rules: their
/// data (the change counter moves with every write of it, in the write's
/// own transaction, on every instance) and their today. Equal keys, equal
/// figures; a write makes a new key, and the old entry just ages out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FiguresKey {
    patient: String,
    change_seq: i64,
    today: NaiveDate,
    rules: AlertRules,
}

/// The part of an overview that comes from the patient's data.
#[derive(Debug, Clone)]
struct PatientFigures {
    precautions: Vec<Condition>,
    last_entry_date: Option<NaiveDate>,
    last_pain_level: Option<i64>,
    last_massage_date: Option<NaiveDate>,
    figures: Figures,
}

/// Figures of overviews shown recently (a dashboard polls its patient
/// list), by [`FiguresKey`]: a page reads only the patients whose data or
/// day changed since.
/// Clones share one cache.
#[derive(Clone)]
pub struct FiguresCache(std::sync::Arc<Cache<FiguresKey, PatientFigures>>);

impl FiguresCache {
    /// At most `patients` entries (a few hundred bytes each).
    pub fn new(patients: usize) -> Self {
        Self(std::sync::Arc::new(Cache::new(patients)))
    }
}

/// A linked patient of the page, with their today and the therapist's rules.
type Row = (store::LinkedPatient, NaiveDate, AlertRules);

/// Computes the figures of `rows` from their stored data: a constant number
/// of queries for any number of patients.
/// A linked patient with their today and the therapist's rules for them.
fn row(clock: &crate::clock::Clock, p: store::LinkedPatient) -> ServiceResult<Row> {
    let tz = Timezone::parse(&p.timezone)
        .map_err(|_| DbError::corrupt("time zone of user", &p.id, "not an IANA zone"))?;
    let today = clock.today_in(tz.tz());
    let rules = defaults_of(p.defaults).with(overrides_of(p.overrides));
    Ok((p, today, rules))
}

/// How many of `therapist`'s linked patients need attention now (an alert
/// other than `precaution`, each on their own today, with the therapist's
/// rules for them): the figure of the weekly digest. Read in pages of 500 patients; each
/// patient read gets a row `digest` in their access log.
pub fn patients_with_alerts(
    conn: &mut crate::db::DbConnection,
    clock: &crate::clock::Clock,
    therapist: UserId,
) -> ServiceResult<usize> {
    const PAGE: i64 = 500;
    let mut count = 0;
    let mut after = None;
    loop {
        let patients = store::linked_patients(conn, therapist, None, after, PAGE)?;
        let full = patients.len() as i64 == PAGE;
        after = patients.last().map(|p| (p.since, p.id.clone()));
        let rows = patients
            .into_iter()
            .map(|p| row(clock, p))
            .collect::<ServiceResult<Vec<Row>>>()?;
        let read = rows
            .iter()
            .map(|(p, ..)| {
                let patient =
                    p.id.parse()
                        .map_err(|_| DbError::corrupt("user", &p.id, "id"))?;
                Ok(Access {
                    patient,
                    actor: therapist,
                    action: "digest",
                    path: "/v1/me/digest",
                    allowed: true,
                })
            })
            .collect::<ServiceResult<Vec<Access<'_>>>>()?;
        access_log::append(conn, &read, clock.now_naive())?;
        let refs: Vec<&Row> = rows.iter().collect();
        count += compute(conn, &refs)?
            .values()
            .filter(|f| f.figures.needs_attention())
            .count();
        if !full {
            return Ok(count);
        }
    }
}

/// A patient's sessions, questionnaires and notes, from [`store::recent_records`].
#[derive(Default)]
struct Recent {
    sessions: Vec<Session>,
    notes: Vec<Note>,
    questionnaires: Vec<Questionnaire>,
}

impl Recent {
    fn add(&mut self, record: store::RecentRecord) -> ServiceResult<()> {
        let bad = |column| DbError::corrupt("record", &record.id, column);
        let date = record.date.ok_or_else(|| bad("date"))?;
        let json = |e: serde_json::Error| DbError::bad_json("record", record.id.clone(), &e);
        match RecordKind::parse(&record.kind) {
            Some(RecordKind::MassageSession) => self.sessions.push(Session {
                id: record.id.parse::<RecordId>().map_err(|_| bad("id"))?.0,
                date,
                started_at: record.started_at.map(|t| t.and_utc()),
            }),
            Some(RecordKind::Assessment) => {
                let doc: AssessmentDoc = serde_json::from_str(&record.data).map_err(json)?;
                if matches!(doc.instrument(), Instrument::Odi | Instrument::Rmdq) {
                    self.questionnaires.push(Questionnaire {
                        instrument: doc.instrument(),
                        date,
                        stored: record.created_at,
                        answers: doc.into_answers(),
                    });
                }
            }
            Some(RecordKind::PainEntry) => {
                let doc: PainEntryDoc = serde_json::from_str(&record.data).map_err(json)?;
                if let Some(text) = doc.notes().filter(|t| !t.trim().is_empty()) {
                    self.notes.push(Note {
                        date,
                        at: record.recorded_at.unwrap_or(record.created_at),
                        text: text.to_owned(),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn compute(
    conn: &mut crate::db::DbConnection,
    rows: &[&Row],
) -> ServiceResult<HashMap<String, PatientFigures>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<String> = rows.iter().map(|(p, ..)| p.id.clone()).collect();
    let from = rows
        .iter()
        .map(|(_, today, rules)| window_start(*today, *rules))
        .min()
        .unwrap_or(NaiveDate::MIN);
    let to = rows
        .iter()
        .map(|(_, today, _)| *today)
        .max()
        .unwrap_or(NaiveDate::MAX);

    let mut pain: HashMap<String, Vec<PainDay>> = HashMap::new();
    let mut flagged: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    for (patient, date, total, count, max, flags) in store::pain_days(conn, &ids, (from, to))? {
        if let (Some(date), Some(_)) = (date, flags) {
            flagged.entry(patient.clone()).or_default().push(date);
        }
        if let Some(date) = date {
            pain.entry(patient).or_default().push(PainDay {
                date,
                sum: total.unwrap_or(0),
                count,
                max: max.map_or(0, i64::from),
            });
        }
    }
    let earliest_today = rows.iter().map(|(_, today, _)| *today).min().unwrap_or(to);
    let back = |n: u64| {
        earliest_today
            .checked_sub_days(Days::new(n))
            .unwrap_or(earliest_today)
    };
    let year = (back(SESSIONS_LOOK_BACK_DAYS as u64 - 1), to);
    let week = (back(6), to);
    let mut recent: HashMap<String, Recent> = HashMap::new();
    for record in store::recent_records(conn, &ids, year, week)? {
        recent
            .entry(record.patient_id.clone())
            .or_default()
            .add(record)?;
    }
    // Stretching and the home programme are read for the last week only.
    let mut stretch_days: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    let mut stretched: HashMap<String, Vec<Stretched>> = HashMap::new();
    for (patient, date, stretch, seconds) in store::stretch_seconds(conn, &ids, week)? {
        let (Some(date), Some(stretch_id)) = (date, stretch) else {
            continue;
        };
        stretch_days.entry(patient.clone()).or_default().push(date);
        stretched.entry(patient).or_default().push(Stretched {
            date,
            stretch_id,
            seconds: seconds.unwrap_or(0),
        });
    }
    let mut programmes = super::programme::plans_by_patient(conn, &ids, week)?;
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

    Ok(rows
        .iter()
        .map(|(p, today, rules)| {
            let last = last_entries
                .remove(&p.id)
                .map(|e| (e.date, i64::from(e.pain_level)));
            let mut conditions = precautions.remove(&p.id).unwrap_or_default();
            conditions.sort_by_key(|c| c.as_str());
            let recent = recent.remove(&p.id).unwrap_or_default();
            let data = PatientData {
                pain_days: pain.remove(&p.id).unwrap_or_default(),
                stretch_days: stretch_days.remove(&p.id).unwrap_or_default(),
                stretched: stretched.remove(&p.id).unwrap_or_default(),
                programme: programmes.remove(&p.id).unwrap_or_default(),
                red_flag_days: flagged.remove(&p.id).unwrap_or_default(),
                last_entry_date: last.map(|(date, _)| date),
                last_massage_date: massages.get(&p.id).copied(),
                has_precautions: !conditions.is_empty(),
                sessions: recent.sessions,
                notes: recent.notes,
                questionnaires: recent.questionnaires,
            };
            let computed = PatientFigures {
                figures: figures(&data, *today, *rules),
                precautions: conditions,
                last_entry_date: data.last_entry_date,
                last_pain_level: last.map(|(_, level)| level),
                last_massage_date: data.last_massage_date,
            };
            (p.id.clone(), computed)
        })
        .collect())
}

/// A page of overviews, and whether more follow.
pub async fn overviews(
    db: &Db,
    clock: &Clock,
    overview_figures: &FiguresCache,
    therapist: AuthUser,
    selection: Selection,
) -> ServiceResult<(Vec<Overview>, bool)> {
    let log_as = selection.log_as.clone();
    let cache = overview_figures.clone();
    let reader_clock = clock.clone();
    let read = move |conn: &mut crate::db::DbConnection| -> ServiceResult<(Vec<Overview>, bool)> {
        let patients =
            store::linked_patients(conn, therapist.id, selection.only, None, CASELOAD_MAX)?;
        let page = patients
            .into_iter()
            .map(|p| row(&reader_clock, p))
            .collect::<ServiceResult<Vec<Row>>>()?;
        let key = |(p, today, rules): &Row| FiguresKey {
            patient: p.id.clone(),
            change_seq: p.change_seq,
            today: *today,
            rules: *rules,
        };
        let mut known: HashMap<String, PatientFigures> = HashMap::new();
        let mut missing: Vec<&Row> = Vec::new();
        for row in &page {
            match cache.0.get(&key(row)) {
                Some(found) => {
                    known.insert(row.0.id.clone(), found);
                }
                None => missing.push(row),
            }
        }
        let computed = compute(conn, &missing)?;
        for row in missing {
            if let Some(figures) = computed.get(&row.0.id) {
                cache.0.insert(key(row), figures.clone());
            }
        }
        known.extend(computed);
        let mut ranked = page
            .into_iter()
            .map(|(p, today, rules)| {
                let f = known.remove(&p.id).ok_or_else(|| {
                    ServiceError::internal("a patient of the page has no figures")
                })?;
                let rank = Rank::new(selection.order, &f.figures, &p.display_name, &p.id);
                Ok(Overview {
                    id: parse_id(&p.id)?,
                    display_name: p.display_name,
                    timezone: p.timezone,
                    today,
                    since: p.since,
                    precautions: f.precautions,
                    last_entry_date: f.last_entry_date,
                    last_pain_level: f.last_pain_level,
                    last_massage_date: f.last_massage_date,
                    figures: f.figures,
                    rules,
                    rank,
                    position: 0,
                })
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        ranked.sort_by(|a, b| a.rank.compare(&b.rank));
        for (position, overview) in ranked.iter_mut().enumerate() {
            overview.position = position;
        }
        // After the previous page's last patient where they stand now; when
        // their link has ended, from their old place (the list is one shorter).
        let start = match &selection.after {
            None => 0,
            Some(after) => ranked
                .iter()
                .position(|o| o.id == after.id)
                .map_or(after.position.min(ranked.len()), |p| p + 1),
        };
        let limit = usize::try_from(selection.limit).unwrap_or(usize::MAX);
        let mut shown: Vec<Overview> = ranked
            .into_iter()
            .skip(start)
            .take(limit.saturating_add(1))
            .collect();
        let more = shown.len() > limit;
        shown.truncate(limit);
        Ok((shown, more))
    };
    let clock = clock.clone();
    let (page, more) = db.run(read).await?;
    // The reads run on the pool, in parallel; only the log waits for the
    // writer. Nothing is answered unless the log is stored.
    if let Some(path) = log_as.filter(|_| !page.is_empty()) {
        let shown: Vec<UserId> = page.iter().map(|o| o.id).collect();
        db.write(move |conn| -> ServiceResult<()> {
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
            access_log::append(conn, &entries, clock.now_naive())?;
            Ok(())
        })
        .await?;
    }
    Ok((page, more))
}

fn parse_id(id: &str) -> Result<UserId, DbError> {
    id.parse().map_err(|_| DbError::corrupt("user", id, "id"))
}

/// One linked patient's overview (the request was logged by the scope).
pub async fn overview(
    db: &Db,
    clock: &Clock,
    figures: &FiguresCache,
    scope: PatientScope,
) -> ServiceResult<Overview> {
    let selection = Selection {
        only: Some(scope.patient),
        order: PatientOrder::Attention,
        after: None,
        limit: 1,
        log_as: None,
    };
    overviews(db, clock, figures, scope.actor, selection)
        .await?
        .0
        .into_iter()
        .next()
        .ok_or_else(|| DomainError::NotFound.into())
}

/// A therapist's rules for one patient: their overrides (a null field
/// inherits), the defaults they inherit from, and the overrides' version
/// (0 while never saved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSettings {
    pub overrides: RuleOverrides,
    pub defaults: AlertRules,
    pub version: i64,
}

impl AlertSettings {
    /// The rules as they apply to the patient.
    pub fn effective(&self) -> AlertRules {
        self.defaults.with(self.overrides)
    }
}

/// A therapist's rules for all their patients; version 0 while never saved
/// (the built-in defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertDefaults {
    pub rules: AlertRules,
    pub version: i64,
}

fn read_defaults(conn: &mut DbConnection, therapist: UserId) -> ServiceResult<AlertDefaults> {
    Ok(match store::alert_defaults(conn, therapist)? {
        Some(row) => AlertDefaults {
            rules: defaults_of((
                row.pain_threshold,
                Some(row.spike_delta),
                Some(row.not_logging_days),
                Some(row.adherence_floor_pct),
            )),
            version: row.version,
        },
        None => AlertDefaults {
            rules: AlertRules::default(),
            version: 0,
        },
    })
}

fn read_settings(conn: &mut DbConnection, scope: PatientScope) -> ServiceResult<AlertSettings> {
    let defaults = read_defaults(conn, scope.actor.id)?.rules;
    Ok(
        match store::alert_settings(conn, scope.actor.id, scope.patient)? {
            Some(row) => AlertSettings {
                overrides: overrides_of((
                    row.pain_threshold,
                    Some(row.pain_high_off),
                    row.spike_delta,
                    row.not_logging_days,
                    row.adherence_floor_pct,
                )),
                defaults,
                version: row.version,
            },
            None => AlertSettings {
                overrides: RuleOverrides::default(),
                defaults,
                version: 0,
            },
        },
    )
}

fn narrow(value: i64) -> ServiceResult<i32> {
    i32::try_from(value).map_err(ServiceError::internal)
}

pub async fn alert_settings(db: &Db, scope: PatientScope) -> ServiceResult<AlertSettings> {
    db.run(move |conn| read_settings(conn, scope)).await
}

/// Replaces the overrides (values already checked); `If-Match` as for any
/// versioned resource. Saving the same overrides again changes nothing.
pub async fn save_alert_settings(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    overrides: RuleOverrides,
    if_match: IfMatch,
) -> ServiceResult<AlertSettings> {
    let now = clock.now_naive();
    let answer = db
        .write(move |conn| -> ServiceResult<AlertSettings> {
            // One change of a patient's rules at a time, and none once the
            // link has ended since the scope was decided.
            super::logbook::lock(conn, &scope)?;
            let current = read_settings(conn, scope)?;
            // The defaults are served with ETag "0", so they can be named.
            let matches = if_match.allows(Some(current.version));
            if current.version > 0 && current.overrides == overrides {
                return Ok(current);
            }
            if !matches {
                let current = Some(current.version);
                return Err(DomainError::PreconditionFailed { current }.into());
            }
            let row = AlertSettingsRow {
                pain_threshold: overrides.pain_threshold.flatten().map(narrow).transpose()?,
                pain_high_off: overrides.pain_threshold == Some(None),
                spike_delta: overrides.spike_delta.map(narrow).transpose()?,
                not_logging_days: overrides.not_logging_days.map(narrow).transpose()?,
                adherence_floor_pct: overrides.adherence_floor.map(|f| narrow(f.0)).transpose()?,
                version: current.version + 1,
            };
            store::save_alert_settings(conn, scope.actor.id, scope.patient, &row, now)?;
            Ok(AlertSettings {
                overrides,
                version: row.version,
                ..current
            })
        })
        .await;
    super::logbook::logged(db, &scope, answer).await
}

pub async fn alert_defaults(db: &Db, therapist: UserId) -> ServiceResult<AlertDefaults> {
    db.run(move |conn| read_defaults(conn, therapist)).await
}

/// Replaces the therapist's defaults (values already checked); `If-Match`
/// as for any versioned resource. Saving the same rules again changes
/// nothing. Every patient without an override of a field follows it at once.
pub async fn save_alert_defaults(
    db: &Db,
    clock: &Clock,
    therapist: UserId,
    rules: AlertRules,
    if_match: IfMatch,
) -> ServiceResult<AlertDefaults> {
    let now = clock.now_naive();
    db.write(move |conn| -> ServiceResult<AlertDefaults> {
        // One change at a time: the account's row is the lock.
        if !accounts::lock_user(conn, &therapist.to_string())? {
            return Err(DomainError::AccountGone.into());
        }
        let current = read_defaults(conn, therapist)?;
        let matches = if_match.allows(Some(current.version));
        if current.version > 0 && current.rules == rules {
            return Ok(current);
        }
        if !matches {
            let current = Some(current.version);
            return Err(DomainError::PreconditionFailed { current }.into());
        }
        let row = AlertDefaultsRow {
            pain_threshold: rules.pain_threshold.map(narrow).transpose()?,
            spike_delta: narrow(rules.spike_delta)?,
            not_logging_days: narrow(rules.not_logging_days)?,
            adherence_floor_pct: narrow(rules.adherence_floor.0)?,
            version: current.version + 1,
        };
        store::save_alert_defaults(conn, therapist, &row, now)?;
        Ok(AlertDefaults {
            rules,
            version: row.version,
        })
    })
    .await
}
