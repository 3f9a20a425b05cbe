//! Scoring of the outcome questionnaires (docs/api-guide.md). Only answers are
//! stored; scores are computed here on every read.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::round3;
pub use crate::domain::logbook::Instrument;

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

/// The score of valid answers (`Instrument::check` found no errors).
pub fn score(instrument: Instrument, answers: &[Option<i64>]) -> Score {
    let values: Vec<i64> = answers.iter().flatten().copied().collect();
    let sum: i64 = values.iter().sum();
    let n = i64::try_from(values.len()).unwrap_or(i64::MAX).max(1);
    match instrument {
        Instrument::Peg => Score {
            score: round3(sum as f64 / n as f64),
            max_score: 10,
            band: None,
        },
        Instrument::Odi => {
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
        Instrument::Rmdq => Score {
            score: sum as f64,
            max_score: 24,
            band: None,
        },
    }
}

/// The score as an exact fraction, for comparing changes between two
/// questionnaires (an ODI over 9 answered sections is in ninths).
pub(crate) fn exact_score(instrument: Instrument, answers: &[Option<i64>]) -> super::Frac {
    let values: Vec<i64> = answers.iter().flatten().copied().collect();
    let sum: i64 = values.iter().sum();
    let n = i64::try_from(values.len()).unwrap_or(i64::MAX).max(1);
    match instrument {
        Instrument::Peg => super::Frac::new(sum, n),
        Instrument::Odi => super::Frac::new(20 * sum, n),
        Instrument::Rmdq => super::Frac::new(sum, 1),
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
        assert_eq!(score(Instrument::Peg, &some(&[7, 5, 6])).score, 6.0);
        assert_eq!(score(Instrument::Peg, &some(&[7, 5, 5])).score, 5.667);
        assert_eq!(score(Instrument::Peg, &some(&[0, 0, 0])).max_score, 10);
    }

    #[test]
    fn odi_scores_over_answered_sections_with_exact_bands() {
        // 27 of 45 (9 answered): exactly 60, still severe.
        let mut answers = some(&[3, 3, 3, 3, 3, 3, 3, 3, 3]);
        answers.push(None);
        let s = score(Instrument::Odi, &answers);
        assert_eq!(
            (s.score, s.max_score, s.band),
            (60.0, 100, Some(OdiBand::Severe))
        );
        // 20 of 50: 40, moderate; 21 of 50: 42, severe.
        let mut twenty = some(&[2; 10]);
        assert_eq!(
            score(Instrument::Odi, &twenty).band,
            Some(OdiBand::Moderate)
        );
        twenty[0] = Some(3);
        let s = score(Instrument::Odi, &twenty);
        assert_eq!((s.score, s.band), (42.0, Some(OdiBand::Severe)));
        // 10 of 40 (8 answered): 25, moderate; 1 of 40: 2.5, minimal.
        let mut eight = some(&[2, 2, 2, 2, 1, 1, 0, 0]);
        eight.extend([None, None]);
        assert_eq!(score(Instrument::Odi, &eight).score, 25.0);
        let mut low = some(&[1, 0, 0, 0, 0, 0, 0, 0]);
        low.extend([None, None]);
        let s = score(Instrument::Odi, &low);
        assert_eq!((s.score, s.band), (2.5, Some(OdiBand::Minimal)));
        // 7 of 9 answered sections at 5: 35/45 = 77.778, crippled; all 5s: bed-bound.
        let mut high = some(&[5, 5, 5, 5, 5, 5, 5, 0, 0]);
        high.push(None);
        let s = score(Instrument::Odi, &high);
        assert_eq!((s.score, s.band), (77.778, Some(OdiBand::Crippled)));
        assert_eq!(
            score(Instrument::Odi, &some(&[5; 10])).band,
            Some(OdiBand::BedBound)
        );
        assert_eq!(
            score(Instrument::Odi, &some(&[4; 10])).band,
            Some(OdiBand::Crippled)
        );
    }

    #[test]
    fn rmdq_counts_yes_answers() {
        let mut answers = some(&[0; 24]);
        for i in [0, 5, 9, 23] {
            answers[i] = Some(1);
        }
        let s = score(Instrument::Rmdq, &answers);
        assert_eq!((s.score, s.max_score, s.band), (4.0, 24, None));
    }
}
