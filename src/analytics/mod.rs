//! Pure functions over the patient's data: no I/O, so they are tested
//! exhaustively with hand-computed expectations.

pub mod adherence;
pub mod clinical;
pub mod instruments;
pub mod overview;
pub mod trends;

/// A fraction, exact while it fits in `i128` (pain levels are
/// 0..10 and days hold a handful of entries, so always in practice); past
/// that, an `f64`, so no input can overflow or panic.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Frac {
    Exact { num: i128, den: i128 },
    Approx(f64),
}

impl Frac {
    pub(crate) fn new(num: i64, den: i64) -> Self {
        Self::Exact {
            num: num.into(),
            den: den.max(1).into(),
        }
    }

    pub(crate) fn to_f64(self) -> f64 {
        match self {
            Self::Exact { num, den } => num as f64 / den as f64,
            Self::Approx(x) => x,
        }
    }

    pub(crate) fn add(self, other: Self) -> Self {
        if let (Self::Exact { num: a, den: b }, Self::Exact { num: c, den: d }) = (self, other) {
            let sum = a
                .checked_mul(d)
                .zip(c.checked_mul(b))
                .and_then(|(x, y)| x.checked_add(y))
                .zip(b.checked_mul(d));
            if let Some((num, den)) = sum {
                let g = gcd(num, den).max(1);
                return Self::Exact {
                    num: num / g,
                    den: den / g,
                };
            }
        }
        Self::Approx(self.to_f64() + other.to_f64())
    }

    pub(crate) fn div(self, n: i64) -> Self {
        match self {
            Self::Exact { num, den } => match den.checked_mul(i128::from(n.max(1))) {
                Some(den) => Self::Exact { num, den },
                None => Self::Approx(self.to_f64() / n.max(1) as f64),
            },
            Self::Approx(x) => Self::Approx(x / n.max(1) as f64),
        }
    }

    pub(crate) fn sub(self, other: Self) -> Self {
        match other {
            Self::Exact { num, den } => self.add(Self::Exact { num: -num, den }),
            Self::Approx(x) => Self::Approx(self.to_f64() - x),
        }
    }

    /// Rounded to 3 decimals, half away from zero, computed on the exact
    /// value (a double would round 0.5005 down: it is 0.50049999… there).
    pub(crate) fn round3(self) -> f64 {
        match self {
            Self::Exact { num, den } => {
                let scaled = num.checked_mul(2000).and_then(|n| {
                    let twice = den.checked_mul(2)?;
                    let q = (n.abs() + den) / twice;
                    Some(if n < 0 { -q } else { q })
                });
                match scaled {
                    Some(q) => q as f64 / 1000.0,
                    None => round3(self.to_f64()),
                }
            }
            Self::Approx(x) => round3(x),
        }
    }

    /// `self / other`; `None` when `other` is zero.
    pub(crate) fn ratio(self, other: Self) -> Option<Self> {
        if let (Self::Exact { num: a, den: b }, Self::Exact { num: c, den: d }) = (self, other) {
            if c == 0 {
                return None;
            }
            // (a/b) / (c/d) = a·d / (b·c), with a positive denominator.
            let sign = if c < 0 { -1 } else { 1 };
            if let (Some(num), Some(den)) = (a.checked_mul(d), b.checked_mul(c)) {
                let g = gcd(num, den).max(1);
                return Some(Self::Exact {
                    num: sign * num / g,
                    den: sign * den / g,
                });
            }
        }
        let divisor = other.to_f64();
        (divisor != 0.0).then(|| Self::Approx(self.to_f64() / divisor))
    }

    /// self > other, exactly (see [`Frac::at_least`]).
    pub(crate) fn greater(self, other: Self) -> bool {
        !other.at_least(self)
    }

    /// self ≥ other: exactly when both are exact and the products fit.
    pub(crate) fn at_least(self, other: Self) -> bool {
        if let (Self::Exact { num: a, den: b }, Self::Exact { num: c, den: d }) = (self, other) {
            if let (Some(left), Some(right)) = (a.checked_mul(d), c.checked_mul(b)) {
                return left >= right;
            }
        }
        self.to_f64() >= other.to_f64()
    }
}

/// Equal values are equal however they are written (2/4 = 1/2).
impl PartialEq for Frac {
    fn eq(&self, other: &Self) -> bool {
        self.at_least(*other) && other.at_least(*self)
    }
}

impl PartialOrd for Frac {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(match (self.at_least(*other), other.at_least(*self)) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Less,
        })
    }
}

pub(crate) fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Rounds for output only (docs/api-guide.md: compute exactly, round at the end).
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
    fn exact_values_round_half_away_from_zero() {
        use super::Frac;
        // 1001/2000 = 0.5005 exactly; as a double it is 0.50049999….
        assert_eq!(super::round3(1001.0 / 2000.0), 0.5);
        assert_eq!(Frac::new(1001, 2000).round3(), 0.501);
        assert_eq!(Frac::new(53, 80).round3(), 0.663);
        assert_eq!(Frac::new(0, 1).sub(Frac::new(53, 80)).round3(), -0.663);
        assert_eq!(Frac::new(81, 16).sub(Frac::new(22, 5)).round3(), 0.663);
        assert_eq!(Frac::new(2, 3).round3(), 0.667);
    }

    #[test]
    fn rounds_to_three_decimals() {
        assert_eq!(super::round3(2.0 / 3.0), 0.667);
        assert_eq!(super::round3(1.0005), 1.001);
        assert_eq!(super::round3(-0.3334), -0.333);
    }
}
