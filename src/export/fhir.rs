//! The patient's data as a FHIR R4 `Bundle` of type `collection`: a
//! `Patient`, pain entries as LOINC 72514-3 `Observation`s (a red flag
//! reported with one is a `component`), PEG scores as
//! LOINC 91147-9 `Observation`s, massage sessions as `Procedure`s, home
//! programmes as `CarePlan`s. Each
//! resource is built here from the stored views; the service streams them
//! one entry at a time between [`bundle_head`] and [`BUNDLE_TAIL`].

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::analytics::Frac;
use crate::domain::logbook::Instrument;
use crate::kinds::programme::ProgrammeDoc;
use crate::kinds::{Assessment, MassageSession, PainEntry};

pub const CONTENT_TYPE: &str = "application/fhir+json";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// Painline's own ids as URIs (FHIR's system for "the value is a URI").
const URI: &str = "urn:ietf:rfc:3986";
/// Ids of resources that have no stored object of their own (the PEG score
/// of a pain entry) are UUIDv5 of the object's id in this namespace, so an
/// export made twice names them alike.
const DERIVED: Uuid = Uuid::from_u128(0x5d1e_6c2a_8f3b_4e71_9a0c_7b2d_1f4e_6a93);

/// The patient the bundle is about.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: Uuid,
    pub display_name: String,
    /// Only in the patient's own export.
    pub email: Option<String>,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Where a resource lives in the bundle. Derived from its type and id, so
/// two resources never share one even if a client gave a record the id of
/// its own account (ids are chosen by clients; bdl-7 wants them unique).
pub fn full_url(resource_type: &str, id: Uuid) -> String {
    let name = format!("{resource_type}/{id}");
    format!("urn:uuid:{}", Uuid::new_v5(&DERIVED, name.as_bytes()))
}

fn reference(patient: Uuid) -> Value {
    json!({ "reference": full_url("Patient", patient) })
}

/// `quadratus_lumborum` → `Quadratus lumborum`.
fn label<T: Serialize>(value: &T) -> String {
    let slug = serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
        .replace('_', " ");
    let mut chars = slug.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => slug,
    }
}

fn entry(resource_type: &str, id: Uuid, resource: Value) -> Value {
    json!({ "fullUrl": full_url(resource_type, id), "resource": resource })
}

/// FHIR strings may not be empty nor hold control characters other than
/// tab, CR and LF; notes are stored verbatim, so they are cleaned here.
fn fhir_string(text: &str) -> Option<String> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
        .collect();
    (!clean.trim().is_empty()).then_some(clean)
}

fn notes(texts: impl IntoIterator<Item = String>) -> Option<Value> {
    let notes: Vec<Value> = texts
        .into_iter()
        .filter_map(|t| fhir_string(&t))
        .map(|t| json!({ "text": t }))
        .collect();
    (!notes.is_empty()).then_some(Value::Array(notes))
}

/// Inserts `value` under `key` when there is one (FHIR forbids empty values).
fn put(resource: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(map), Some(value)) = (resource.as_object_mut(), value) {
        map.insert(key.to_owned(), value);
    }
}

/// The start of the bundle, up to the opening of `entry`.
pub fn bundle_head(bundle_id: Uuid, now: DateTime<Utc>) -> String {
    let head = json!({
        "resourceType": "Bundle",
        "id": bundle_id.to_string(),
        "type": "collection",
        "timestamp": instant(now),
    })
    .to_string();
    // `{…}` → `{…,"entry":[`
    format!("{},\"entry\":[", head.trim_end_matches('}'))
}

pub const BUNDLE_TAIL: &str = "]}";

pub fn patient(subject: &Subject) -> Value {
    let mut resource = json!({
        "resourceType": "Patient",
        "id": subject.id.to_string(),
        "identifier": [{ "system": URI, "value": format!("urn:uuid:{}", subject.id) }],
    });
    put(
        &mut resource,
        "name",
        fhir_string(&subject.display_name).map(|name| json!([{ "text": name }])),
    );
    put(
        &mut resource,
        "telecom",
        subject
            .email
            .as_ref()
            .map(|e| json!([{ "system": "email", "value": e }])),
    );
    entry("Patient", subject.id, resource)
}

fn survey() -> Value {
    json!([{ "coding": [{ "system": CATEGORY, "code": "survey", "display": "Survey" }] }])
}

/// When an entry's figure was taken: its time, else its day.
fn effective(date: NaiveDate, at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| date.to_string(), instant)
}

fn peg_observation(
    id: Uuid,
    patient: Uuid,
    effective: String,
    issued: DateTime<Utc>,
    score: f64,
) -> Value {
    entry(
        "Observation",
        id,
        json!({
            "resourceType": "Observation",
            "id": id.to_string(),
            "status": "final",
            "category": survey(),
            "code": {
                "coding": [{ "system": LOINC, "code": "91147-9" }],
                "text": "PEG-3 score (pain, enjoyment of life, general activity), 0-10",
            },
            "subject": reference(patient),
            "effectiveDateTime": effective,
            "issued": instant(issued),
            "valueQuantity": { "value": score, "unit": "{score}", "system": UCUM, "code": "{score}" },
        }),
    )
}

/// A pain entry: its rating, and its PEG score when it has one.
pub fn pain_entry(patient: Uuid, e: &PainEntry) -> Vec<Value> {
    let when = effective(e.body.date, e.body.recorded_at);
    let mut resource = json!({
        "resourceType": "Observation",
        "id": e.meta.id.to_string(),
        "status": "final",
        "category": survey(),
        "code": {
            "coding": [{
                "system": LOINC,
                "code": "72514-3",
                "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            }],
            "text": "Lower back pain (0-10)",
        },
        "subject": reference(patient),
        "effectiveDateTime": when,
        "issued": instant(e.meta.updated_at),
        "valueInteger": e.body.pain_level,
    });
    let sites = e.body.regions.iter().map(label).collect::<Vec<_>>();
    put(
        &mut resource,
        "bodySite",
        (!sites.is_empty()).then(|| json!({ "text": sites.join(", ") })),
    );
    put(&mut resource, "note", notes(e.body.notes.clone()));
    // Each red flag reported: a component whose code is the flag's code
    // as text (the list of `GET /v1/red-flags`), present.
    let flags = e
        .body
        .red_flags
        .iter()
        .map(|code| json!({ "code": { "text": code }, "valueBoolean": true }))
        .collect::<Vec<_>>();
    put(
        &mut resource,
        "component",
        (!flags.is_empty()).then_some(Value::Array(flags)),
    );
    let mut entries = vec![entry("Observation", e.meta.id, resource)];
    if let Some(score) = e.peg_score {
        let id = Uuid::new_v5(&DERIVED, e.meta.id.as_bytes());
        entries.push(peg_observation(id, patient, when, e.meta.updated_at, score));
    }
    entries
}

/// A PEG questionnaire's score; other instruments have no code here yet.
pub fn assessment(patient: Uuid, a: &Assessment) -> Option<Value> {
    (a.body.instrument == Instrument::Peg).then(|| {
        peg_observation(
            a.meta.id,
            patient,
            a.body.date.to_string(),
            a.meta.updated_at,
            a.score,
        )
    })
}

pub fn massage_session(patient: Uuid, m: &MassageSession) -> Value {
    let b = &m.body;
    let mut resource = json!({
        "resourceType": "Procedure",
        "id": m.meta.id.to_string(),
        "status": "completed",
        "code": { "text": format!("{} massage", label(&b.technique)) },
        "subject": reference(patient),
    });
    match b.started_at {
        Some(start) => put(
            &mut resource,
            "performedPeriod",
            Some(json!({
                "start": instant(start),
                "end": instant(start + Duration::minutes(b.duration_minutes)),
            })),
        ),
        None => put(
            &mut resource,
            "performedDateTime",
            Some(Value::String(b.date.to_string())),
        ),
    }
    let recorder = if m.recorded_by.id == patient {
        reference(patient)
    } else {
        json!({
            "type": "Practitioner",
            "identifier": { "system": URI, "value": format!("urn:uuid:{}", m.recorded_by.id) },
        })
    };
    put(&mut resource, "recorder", Some(recorder));
    let sites: Vec<Value> = b
        .areas
        .iter()
        .map(|a| {
            json!({ "text": format!("{} ({}), {} min", label(&a.muscle), label(&a.side).to_lowercase(), a.minutes) })
        })
        .collect();
    put(
        &mut resource,
        "bodySite",
        (!sites.is_empty()).then_some(Value::Array(sites)),
    );
    let mut texts = vec![format!("{} minutes", b.duration_minutes)];
    if let Some(pressure) = &b.pressure {
        texts.push(format!("Pressure: {}", label(pressure).to_lowercase()));
    }
    match (b.pain_before, b.pain_after) {
        (Some(before), Some(after)) => {
            texts.push(format!("Pain before: {before}/10, after: {after}/10"));
        }
        (Some(before), None) => texts.push(format!("Pain before: {before}/10")),
        (None, Some(after)) => texts.push(format!("Pain after: {after}/10")),
        (None, None) => {}
    }
    texts.extend(b.notes.clone());
    put(&mut resource, "note", notes(texts));
    entry("Procedure", m.meta.id, resource)
}

/// A home programme the patient had, as it last stood.
pub struct PlanOfRecord {
    /// Its version then.
    pub version: i64,
    pub saved_at: DateTime<Utc>,
    pub doc: ProgrammeDoc,
    /// Ended by the care team (else the programme in force).
    pub ended: bool,
    /// The names of its stretches, in the order of its items (`None`: an
    /// own stretch the patient has since deleted).
    pub names: Vec<Option<String>>,
}

/// A home programme as a `CarePlan` (intent `plan`): `active` while in
/// force, `completed` once ended or past its `ends_on`, `revoked` when
/// ended before it started; one `activity.detail` per stretch, its days a
/// week and minutes a day as `scheduledTiming.repeat`.
pub fn care_plan(patient: Uuid, plan: &PlanOfRecord, today: NaiveDate) -> Value {
    let doc = &plan.doc;
    let never_started = doc.ends_on.is_some_and(|end| end < doc.starts_on);
    let over = plan.ended || doc.ends_on.is_some_and(|end| end < today);
    let (status, activity_status) = if never_started {
        ("revoked", "cancelled")
    } else if over {
        ("completed", "completed")
    } else if doc.starts_on > today {
        ("active", "scheduled")
    } else {
        ("active", "in-progress")
    };
    let id = Uuid::new_v5(
        &DERIVED,
        format!("programme/{patient}/{}", plan.version).as_bytes(),
    );
    let mut period = json!({ "start": doc.starts_on.to_string() });
    if let Some(end) = doc.ends_on.filter(|_| !never_started) {
        put(&mut period, "end", Some(Value::String(end.to_string())));
    }
    let activity: Vec<Value> = doc
        .items
        .iter()
        .zip(&plan.names)
        .map(|(item, name)| {
            let mut detail = json!({
                "status": activity_status,
                "code": { "text": name.clone().unwrap_or_else(|| "A stretch no longer in the catalog".to_owned()) },
                "scheduledTiming": { "repeat": {
                    "frequency": item.days_per_week,
                    "period": 1,
                    "periodUnit": "wk",
                    "duration": Frac::new(item.seconds_per_day, 60).round3(),
                    "durationUnit": "min",
                }},
            });
            let mut words = Vec::new();
            if let Some(sets) = item.sets {
                words.push(format!("{sets} sets"));
            }
            if let Some(reps) = item.reps {
                words.push(format!("{reps} repetitions"));
            }
            if let Some(side) = &item.side {
                words.push(format!("side: {}", label(side).to_lowercase()));
            }
            words.extend(item.note.iter().filter_map(|n| fhir_string(n)));
            put(
                &mut detail,
                "description",
                fhir_string(&words.join("; ")).map(Value::String),
            );
            json!({ "detail": detail })
        })
        .collect();
    let mut resource = json!({
        "resourceType": "CarePlan",
        "id": id.to_string(),
        "status": status,
        "intent": "plan",
        "title": "Home stretching programme",
        "subject": reference(patient),
        "period": period,
        "created": instant(plan.saved_at),
        "author": { "display": doc.updated_by.display_name },
        "activity": activity,
    });
    if fhir_string(&doc.updated_by.display_name).is_none() {
        if let Some(map) = resource.as_object_mut() {
            map.remove("author");
        }
    }
    put(&mut resource, "note", notes(doc.note.clone()));
    entry("CarePlan", id, resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_words() {
        use crate::domain::logbook::{Muscle, Region};
        assert_eq!(label(&Muscle::QuadratusLumborum), "Quadratus lumborum");
        assert_eq!(label(&Region::LowerBackLeft), "Lower back left");
    }

    #[test]
    fn empty_notes_and_control_characters_never_reach_the_bundle() {
        assert_eq!(fhir_string(""), None);
        assert_eq!(fhir_string(" \u{0}\n"), None);
        assert_eq!(fhir_string("a\u{7}b\tc\nd").as_deref(), Some("ab\tc\nd"));
        assert_eq!(
            notes(vec![String::new(), "ok".into()]),
            Some(json!([{ "text": "ok" }]))
        );
    }

    fn plan(starts_on: &str, ends_on: Option<&str>, ended: bool) -> PlanOfRecord {
        use crate::kinds::programme::{ItemDoc, Prescriber};
        let day = |s: &str| s.parse().unwrap_or(NaiveDate::MIN);
        let item = |n: u128, seconds| ItemDoc {
            stretch_id: Uuid::from_u128(n),
            days_per_week: 5,
            seconds_per_day: seconds,
            sets: Some(2),
            reps: None,
            side: Some(crate::domain::logbook::Side::Both),
            note: Some("Slowly".into()),
        };
        PlanOfRecord {
            version: 3,
            saved_at: DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
            doc: ProgrammeDoc {
                starts_on: day(starts_on),
                ends_on: ends_on.map(day),
                note: Some(String::new()),
                items: vec![item(1, 90), item(2, 120)],
                updated_by: Prescriber {
                    id: Uuid::from_u128(9),
                    display_name: "Dana Reyes".into(),
                },
            },
            ended,
            names: vec![Some("Cat-cow".into()), None],
        }
    }

    #[test]
    fn a_programme_is_a_care_plan_with_one_activity_per_stretch() {
        let today: NaiveDate = "2026-12-07".parse().unwrap_or(NaiveDate::MIN);
        let status = |p: &PlanOfRecord| {
            let r = &care_plan(Uuid::nil(), p, today)["resource"];
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["activity"][0]["detail"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            status(&plan("2026-12-01", None, false)),
            pair("active", "in-progress")
        );
        assert_eq!(
            status(&plan("2026-12-14", None, false)),
            pair("active", "scheduled")
        );
        assert_eq!(
            status(&plan("2026-11-01", Some("2026-12-06"), false)),
            pair("completed", "completed")
        );
        assert_eq!(
            status(&plan("2026-11-01", Some("2026-12-07"), true)),
            pair("completed", "completed")
        );
        assert_eq!(
            status(&plan("2026-12-14", Some("2026-12-07"), true)),
            pair("revoked", "cancelled")
        );
        let entry = care_plan(
            Uuid::nil(),
            &plan("2026-12-01", Some("2027-01-31"), false),
            today,
        );
        let r = &entry["resource"];
        assert_eq!(r["intent"], "plan");
        assert_eq!(
            r["period"],
            json!({"start": "2026-12-01", "end": "2027-01-31"})
        );
        assert_eq!(r["author"]["display"], "Dana Reyes");
        assert!(r.get("note").is_none());
        let first = &r["activity"][0]["detail"];
        assert_eq!(first["code"]["text"], "Cat-cow");
        assert_eq!(
            first["scheduledTiming"]["repeat"],
            json!({"frequency": 5, "period": 1, "periodUnit": "wk", "duration": 1.5, "durationUnit": "min"})
        );
        assert_eq!(first["description"], "2 sets; side: both; Slowly");
        assert_eq!(
            r["activity"][1]["detail"]["code"]["text"],
            "A stretch no longer in the catalog"
        );
        let revoked = care_plan(
            Uuid::nil(),
            &plan("2026-12-14", Some("2026-12-07"), true),
            today,
        );
        assert!(revoked["resource"]["period"].get("end").is_none());
    }

    #[test]
    fn full_urls_differ_by_resource_type() {
        let id = Uuid::nil();
        assert_ne!(full_url("Patient", id), full_url("Observation", id));
        assert!(full_url("Patient", id).starts_with("urn:uuid:"));
    }

    #[test]
    fn the_head_and_tail_make_one_json_document() -> Result<(), serde_json::Error> {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        let subject = Subject {
            id: Uuid::nil(),
            display_name: "A \"quoted\" name".into(),
            email: None,
        };
        let text = format!(
            "{}{}{}",
            bundle_head(Uuid::nil(), now),
            patient(&subject),
            BUNDLE_TAIL
        );
        let bundle: Value = serde_json::from_str(&text)?;
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "collection");
        assert_eq!(
            bundle["entry"][0]["resource"]["name"][0]["text"],
            "A \"quoted\" name"
        );
        assert!(bundle["entry"][0]["resource"].get("telecom").is_none());
        Ok(())
    }
}
