//! Pure functions over the patient's data: no I/O, so they are tested
//! exhaustively with hand-computed expectations.

pub mod instruments;

/// Rounds for output only (DESIGN.md §6: compute exactly, round at the end).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounds_to_three_decimals() {
        assert_eq!(super::round3(2.0 / 3.0), 0.667);
        assert_eq!(super::round3(1.0005), 1.001);
        assert_eq!(super::round3(-0.3334), -0.333);
    }
}
