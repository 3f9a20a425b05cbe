//! Pure functions over the patient's data: no I/O, so they are tested
//! exhaustively with hand-computed expectations.

pub mod instruments;
pub mod overview;

/// Rounds for output only (DESIGN.md §6: compute exactly, round at the end).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// PEG-3 from one pain entry: the mean of the pain level and both
/// interference scores, when both were given.
pub fn peg3(pain_level: i64, enjoyment: Option<i64>, activity: Option<i64>) -> Option<f64> {
    let (e, a) = (enjoyment?, activity?);
    Some(round3((pain_level + e + a) as f64 / 3.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn peg3_needs_both_interference_scores() {
        assert_eq!(super::peg3(6, Some(4), Some(5)), Some(5.0));
        assert_eq!(super::peg3(7, Some(4), Some(5)), Some(5.333));
        assert_eq!(super::peg3(6, Some(4), None), None);
        assert_eq!(super::peg3(6, None, Some(4)), None);
    }

    #[test]
    fn rounds_to_three_decimals() {
        assert_eq!(super::round3(2.0 / 3.0), 0.667);
        assert_eq!(super::round3(1.0005), 1.001);
        assert_eq!(super::round3(-0.3334), -0.333);
    }
}
