//! Scoring of the outcome questionnaires (DESIGN.md §3). Only answers are
//! stored; scores are computed here on every read.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::round3;
use crate::error::FieldError;

/// Which questionnaire was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// PEG-3: pain, enjoyment of life, general activity; 3 answers 0..10.
    Peg,
    /// Oswestry Disability Index: 10 sections 0..5, at least 8 answered.
    Odi,
    /// Roland-Morris Disability Questionnaire: 24 yes/no items (1/0).
    Rmdq,
}

/// Oswestry disability band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OdiBand {
    Minimal,
    Moderate,
    Severe,
    Crippled,
    BedBound,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    pub max_score: i64,
    pub band: Option<OdiBand>,
}

impl Instrument {
    fn shape(self) -> (usize, i64, usize) {
        // (number of answers, highest answer, fewest answered)
        match self {
            Self::Peg => (3, 10, 3),
            Self::Odi => (10, 5, 8),
            Self::Rmdq => (24, 1, 24),
        }
    }

    /// Field errors for `answers`, empty when they can be scored.
    pub fn check(self, answers: &[Option<i64>]) -> Vec<FieldError> {
        let (count, max, min_answered) = self.shape();
        if answers.len() != count {
            return vec![FieldError::new(
                "answers",
                format!("must have exactly {count} answers"),
            )];
        }
        let mut errors = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            match answer {
                Some(v) if !(0..=max).contains(v) => {
                    errors.push(FieldError::new(
                        format!("answers[{i}]"),
                        format!("must be between 0 and {max}"),
                    ));
                }
                None if min_answered == count => {
                    errors.push(FieldError::new(format!("answers[{i}]"), "must be answered"));
                }
                _ => {}
            }
        }
        let answered = answers.iter().flatten().count();
        if errors.is_empty() && answered < min_answered {
            errors.push(FieldError::new(
                "answers",
                format!("at least {min_answered} of {count} sections must be answered"),
            ));
        }
        errors
    }

    /// The score of valid answers (`check` returned no errors).
    pub fn score(self, answers: &[Option<i64>]) -> Score {
        let values: Vec<i64> = answers.iter().flatten().copied().collect();
        let sum: i64 = values.iter().sum();
        let n = i64::try_from(values.len()).unwrap_or(i64::MAX).max(1);
        match self {
            Self::Peg => Score {
                score: round3(sum as f64 / n as f64),
                max_score: 10,
                band: None,
            },
            Self::Odi => {
                // sum ÷ (5 × answered) × 100 = 20 × sum ÷ answered; bands compare
                // the exact fraction as integers (27 of 45 is exactly 60: severe).
                let band = match 20 * sum {
                    s if s <= 20 * n => OdiBand::Minimal,
                    s if s <= 40 * n => OdiBand::Moderate,
                    s if s <= 60 * n => OdiBand::Severe,
                    s if s <= 80 * n => OdiBand::Crippled,
                    _ => OdiBand::BedBound,
                };
                Score {
                    score: round3((20 * sum) as f64 / n as f64),
                    max_score: 100,
                    band: Some(band),
                }
            }
            Self::Rmdq => Score {
                score: sum as f64,
                max_score: 24,
                band: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(values: &[i64]) -> Vec<Option<i64>> {
        values.iter().copied().map(Some).collect()
    }

    #[test]
    fn peg_is_the_mean_of_three() {
        assert_eq!(Instrument::Peg.score(&some(&[7, 5, 6])).score, 6.0);
        assert_eq!(Instrument::Peg.score(&some(&[7, 5, 5])).score, 5.667);
        assert_eq!(Instrument::Peg.score(&some(&[0, 0, 0])).max_score, 10);
        assert!(Instrument::Peg.check(&some(&[1, 2, 3])).is_empty());
        assert_eq!(Instrument::Peg.check(&some(&[1, 2]))[0].field, "answers");
        assert_eq!(
            Instrument::Peg.check(&some(&[1, 11, 3]))[0].field,
            "answers[1]"
        );
        assert_eq!(
            Instrument::Peg.check(&[Some(1), None, Some(3)])[0].field,
            "answers[1]"
        );
    }

    #[test]
    fn odi_scores_over_answered_sections_with_exact_bands() {
        // 27 of 45 (9 answered): exactly 60, still severe.
        let mut answers = some(&[3, 3, 3, 3, 3, 3, 3, 3, 3]);
        answers.push(None);
        assert!(Instrument::Odi.check(&answers).is_empty());
        let s = Instrument::Odi.score(&answers);
        assert_eq!(
            (s.score, s.max_score, s.band),
            (60.0, 100, Some(OdiBand::Severe))
        );
        // 20 of 50: 40, moderate; 21 of 50: 42, severe.
        let mut twenty = some(&[2; 10]);
        assert_eq!(Instrument::Odi.score(&twenty).band, Some(OdiBand::Moderate));
        twenty[0] = Some(3);
        let s = Instrument::Odi.score(&twenty);
        assert_eq!((s.score, s.band), (42.0, Some(OdiBand::Severe)));
        // 10 of 40 (8 answered): 25, moderate; 1 of 40: 2.5, minimal.
        let mut eight = some(&[2, 2, 2, 2, 1, 1, 0, 0]);
        eight.extend([None, None]);
        assert_eq!(Instrument::Odi.score(&eight).score, 25.0);
        let mut low = some(&[1, 0, 0, 0, 0, 0, 0, 0]);
        low.extend([None, None]);
        let s = Instrument::Odi.score(&low);
        assert_eq!((s.score, s.band), (2.5, Some(OdiBand::Minimal)));
        // 7 of 9 answered sections at 5: 35/45 = 77.778, crippled; all 5s: bed-bound.
        let mut high = some(&[5, 5, 5, 5, 5, 5, 5, 0, 0]);
        high.push(None);
        let s = Instrument::Odi.score(&high);
        assert_eq!((s.score, s.band), (77.778, Some(OdiBand::Crippled)));
        assert_eq!(
            Instrument::Odi.score(&some(&[5; 10])).band,
            Some(OdiBand::BedBound)
        );
        assert_eq!(
            Instrument::Odi.score(&some(&[4; 10])).band,
            Some(OdiBand::Crippled)
        );
    }

    #[test]
    fn odi_needs_eight_answered_sections_in_range() {
        let mut seven = some(&[1; 7]);
        seven.extend([None, None, None]);
        assert_eq!(Instrument::Odi.check(&seven)[0].field, "answers");
        assert_eq!(Instrument::Odi.check(&some(&[1; 9]))[0].field, "answers");
        let mut bad = some(&[1; 10]);
        bad[4] = Some(6);
        assert_eq!(Instrument::Odi.check(&bad)[0].field, "answers[4]");
    }

    #[test]
    fn rmdq_counts_yes_answers() {
        let mut answers = some(&[0; 24]);
        for i in [0, 5, 9, 23] {
            answers[i] = Some(1);
        }
        let s = Instrument::Rmdq.score(&answers);
        assert_eq!((s.score, s.max_score, s.band), (4.0, 24, None));
        answers[3] = Some(2);
        assert_eq!(Instrument::Rmdq.check(&answers)[0].field, "answers[3]");
        answers[3] = None;
        assert_eq!(Instrument::Rmdq.check(&answers)[0].field, "answers[3]");
    }
}
