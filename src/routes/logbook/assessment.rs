//! The routes of outcome questionnaires: the logbook's generic ones.

use crate::kinds::{Assessment, AssessmentBody, Assessments};

super::logbook_routes! {
    kind: Assessments, body: AssessmentBody, view: Assessment,
    one: assessment, many: assessments, page: AssessmentPage,
    collection: "/v1/me/assessments", item: "/v1/me/assessments/{id}",
    a: "a questionnaire", plural: "questionnaires",
    patient_collection: "/v1/patients/{pid}/assessments",
    patient_item: "/v1/patients/{pid}/assessments/{id}",
}
