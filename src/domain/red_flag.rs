//! Red flags: the signs of serious pathology behind low back pain that a
//! patient can report with a pain entry. Massage therapists do not
//! diagnose; the API names the signs and how urgently a doctor should see
//! them, and the clients say it in their own words.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A warning sign reported with a pain entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedFlag {
    /// Numbness around the anus, genitals or inner thighs.
    SaddleAnaesthesia,
    BladderDysfunction,
    BowelDysfunction,
    SexualDysfunction,
    /// Pain, numbness or weakness in both legs.
    BilateralLegSymptoms,
    ProgressiveLegWeakness,
    Fever,
    UnexplainedWeightLoss,
    HistoryOfCancer,
    RecentSignificantTrauma,
    ConstantNightPain,
}

/// What a client should tell the patient about an entry's red flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// Another serious-pathology flag: see a doctor soon.
    SeeDoctor,
    /// A sign of cauda equina syndrome: seek emergency care now.
    Emergency,
}

impl RedFlag {
    /// Every code, in the order of its bit in the stored mask: this order
    /// is part of the database's format and never changes (new codes go at
    /// the end).
    pub const ALL: [Self; 11] = [
        Self::SaddleAnaesthesia,
        Self::BladderDysfunction,
        Self::BowelDysfunction,
        Self::SexualDysfunction,
        Self::BilateralLegSymptoms,
        Self::ProgressiveLegWeakness,
        Self::Fever,
        Self::UnexplainedWeightLoss,
        Self::HistoryOfCancer,
        Self::RecentSignificantTrauma,
        Self::ConstantNightPain,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SaddleAnaesthesia => "saddle_anaesthesia",
            Self::BladderDysfunction => "bladder_dysfunction",
            Self::BowelDysfunction => "bowel_dysfunction",
            Self::SexualDysfunction => "sexual_dysfunction",
            Self::BilateralLegSymptoms => "bilateral_leg_symptoms",
            Self::ProgressiveLegWeakness => "progressive_leg_weakness",
            Self::Fever => "fever",
            Self::UnexplainedWeightLoss => "unexplained_weight_loss",
            Self::HistoryOfCancer => "history_of_cancer",
            Self::RecentSignificantTrauma => "recent_significant_trauma",
            Self::ConstantNightPain => "constant_night_pain",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    /// A sign of cauda equina syndrome.
    pub const fn is_cauda_equina(self) -> bool {
        matches!(
            self,
            Self::SaddleAnaesthesia
                | Self::BladderDysfunction
                | Self::BowelDysfunction
                | Self::SexualDysfunction
                | Self::BilateralLegSymptoms
                | Self::ProgressiveLegWeakness
        )
    }

    pub const fn advice(self) -> Advice {
        if self.is_cauda_equina() {
            Advice::Emergency
        } else {
            Advice::SeeDoctor
        }
    }

    /// A neutral one-line description, for clients to render.
    pub const fn description(self) -> &'static str {
        match self {
            Self::SaddleAnaesthesia => {
                "Numbness or altered feeling around the back passage, genitals or inner thighs"
            }
            Self::BladderDysfunction => "New difficulty passing urine, or loss of bladder control",
            Self::BowelDysfunction => "New loss of bowel control",
            Self::SexualDysfunction => "New loss of sexual function or sensation",
            Self::BilateralLegSymptoms => "Pain, numbness or weakness in both legs",
            Self::ProgressiveLegWeakness => "Weakness in a leg that is getting worse",
            Self::Fever => "Fever or feeling unwell with the back pain",
            Self::UnexplainedWeightLoss => "Weight loss without trying",
            Self::HistoryOfCancer => "Cancer now or in the past",
            Self::RecentSignificantTrauma => "A recent fall, accident or other injury to the back",
            Self::ConstantNightPain => "Constant pain that does not ease at night or with rest",
        }
    }

    const fn bit(self) -> i32 {
        1 << (self as i32)
    }
}

/// The flags of one entry as stored: a mask of their bits (never 0: an
/// entry without flags stores none).
pub fn to_mask(flags: &[RedFlag]) -> Option<i32> {
    let mask = flags.iter().fold(0, |mask, f| mask | f.bit());
    (mask != 0).then_some(mask)
}

/// The flags of a stored mask, in the order of [`RedFlag::ALL`].
pub fn from_mask(mask: Option<i32>) -> Vec<RedFlag> {
    let mask = mask.unwrap_or(0);
    RedFlag::ALL
        .into_iter()
        .filter(|f| mask & f.bit() != 0)
        .collect()
}

/// The highest mask a valid entry can store (every flag).
pub const MAX_MASK: i32 = (1 << RedFlag::ALL.len()) - 1;

/// What to tell the patient about these flags: `emergency` for any sign of
/// cauda equina syndrome, `see_doctor` for other flags only, none without.
pub fn advice(flags: &[RedFlag]) -> Option<Advice> {
    flags.iter().map(|f| f.advice()).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_and_mixtures_get_their_advice() {
        use Advice::{Emergency, SeeDoctor};
        use RedFlag::*;
        #[rustfmt::skip]
        let table: Vec<(&[RedFlag], Option<Advice>)> = vec![
            (&[], None),
            (&[SaddleAnaesthesia], Some(Emergency)),
            (&[BladderDysfunction], Some(Emergency)),
            (&[BowelDysfunction], Some(Emergency)),
            (&[SexualDysfunction], Some(Emergency)),
            (&[BilateralLegSymptoms], Some(Emergency)),
            (&[ProgressiveLegWeakness], Some(Emergency)),
            (&[Fever], Some(SeeDoctor)),
            (&[UnexplainedWeightLoss], Some(SeeDoctor)),
            (&[HistoryOfCancer], Some(SeeDoctor)),
            (&[RecentSignificantTrauma], Some(SeeDoctor)),
            (&[ConstantNightPain], Some(SeeDoctor)),
            (&[Fever, ConstantNightPain], Some(SeeDoctor)),
            (&[Fever, BilateralLegSymptoms], Some(Emergency)),
            (&[ConstantNightPain, HistoryOfCancer, SaddleAnaesthesia], Some(Emergency)),
        ];
        for (flags, expected) in table {
            assert_eq!(advice(flags), expected, "{flags:?}");
        }
        assert_eq!(
            RedFlag::ALL.iter().filter(|f| f.is_cauda_equina()).count(),
            6
        );
    }

    #[test]
    fn masks_keep_every_set_of_flags_in_one_order() {
        assert_eq!(to_mask(&[]), None);
        assert_eq!(from_mask(None), Vec::<RedFlag>::new());
        // Every subset of the eleven flags comes back as it went in, in
        // the order of ALL.
        for mask in 1..=MAX_MASK {
            let flags = from_mask(Some(mask));
            assert_eq!(to_mask(&flags), Some(mask));
            let mut reversed = flags.clone();
            reversed.reverse();
            assert_eq!(to_mask(&reversed), Some(mask));
        }
        assert_eq!(MAX_MASK, 2047);
        assert_eq!(to_mask(&[RedFlag::SaddleAnaesthesia]), Some(1));
        assert_eq!(to_mask(&[RedFlag::ConstantNightPain]), Some(1024));
    }

    #[test]
    fn codes_are_named_as_serialised() {
        for flag in RedFlag::ALL {
            let json = serde_json::to_value(flag).ok();
            assert_eq!(json.as_ref().and_then(|v| v.as_str()), Some(flag.as_str()));
            assert_eq!(RedFlag::parse(flag.as_str()), Some(flag));
            assert!(!flag.description().is_empty() && !flag.description().ends_with('.'));
        }
        assert_eq!(RedFlag::parse("headache"), None);
    }
}
