//! Outcome questionnaires (PEG, ODI, RMDQ): only the answers are stored; the
//! score is computed on every read.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Columns, Kind, Listing, Record, RecordKind, RecordMeta};
use crate::analytics::instruments::{score, OdiBand};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Context, Instrument};
use crate::domain::FieldError;

/// Answers to one outcome questionnaire; the server scores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    pub date: NaiveDate,
    pub instrument: Instrument,
    /// PEG: 3 answers 0..10. ODI: 10 answers 0..5 or null for a blank
    /// section, at least 8 answered. RMDQ: 24 answers 0 or 1.
    pub answers: Vec<Option<i64>>,
}

/// What is kept as JSON beside the date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentDoc {
    instrument: Instrument,
    answers: Vec<Option<i64>>,
}

impl AssessmentDoc {
    pub fn instrument(&self) -> Instrument {
        self.instrument
    }

    pub fn into_answers(self) -> Vec<Option<i64>> {
        self.answers
    }
}

/// A scored questionnaire.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assessment {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: AssessmentBody,
    /// PEG: mean 0..10; ODI: 0..100; RMDQ: count of yes answers 0..24.
    pub score: f64,
    pub max_score: i64,
    /// ODI only.
    pub band: Option<OdiBand>,
}

pub struct Assessments;

impl Kind for Assessments {
    const KIND: RecordKind = RecordKind::Assessment;
    const COLLECTION: &'static str = "/v1/me/assessments";
    const LISTING: Listing = Listing::ByDate;
    type Body = AssessmentBody;
    type Doc = AssessmentDoc;
    type View = Assessment;

    fn validate(body: &AssessmentBody, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", body.date, ctx);
        c.0.extend(body.instrument.check(&body.answers));
        c.0
    }

    fn split(body: AssessmentBody) -> (Columns, AssessmentDoc) {
        let columns = Columns {
            date: Some(body.date),
            ..Columns::default()
        };
        let doc = AssessmentDoc {
            instrument: body.instrument,
            answers: body.answers,
        };
        (columns, doc)
    }

    fn view(record: &Record, doc: AssessmentDoc) -> DbResult<Assessment> {
        let scored = score(doc.instrument, &doc.answers);
        Ok(Assessment {
            meta: super::meta(record),
            body: AssessmentBody {
                date: record.required(record.columns.date, "date")?,
                instrument: doc.instrument,
                answers: doc.answers,
            },
            score: scored.score,
            max_score: scored.max_score,
            band: scored.band,
        })
    }
}
