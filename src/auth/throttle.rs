//! Login throttling policy (docs/security.md). The failures themselves live in
//! the database so every instance sees the same counts; this is the pure rule.

use chrono::{Duration, NaiveDateTime};

#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub limit: usize,
    pub length: Duration,
}

/// 5 failures for one e-mail from one client address within 15 minutes.
pub const PER_ADDRESS: Window = Window {
    limit: 5,
    length: Duration::minutes(15),
};
/// 100 failures for one e-mail from any address within an hour.
pub const PER_EMAIL: Window = Window {
    limit: 100,
    length: Duration::hours(1),
};

/// Wrong invitation codes: 5 for one patient within 15 minutes…
pub const CODES_PER_USER: Window = Window {
    limit: 5,
    length: Duration::minutes(15),
};
/// …or 20 from one client address (across accounts) within an hour.
pub const CODES_PER_ADDRESS: Window = Window {
    limit: 20,
    length: Duration::hours(1),
};

impl Window {
    pub fn start(self, now: NaiveDateTime) -> NaiveDateTime {
        now - self.length
    }

    /// Seconds until an attempt is allowed again, given the failures inside
    /// the window (oldest first); `None` when an attempt is allowed now.
    pub fn retry_after(self, failures: &[NaiveDateTime], now: NaiveDateTime) -> Option<u64> {
        let excess = failures.len().checked_sub(self.limit)?;
        // Once this failure leaves the window, fewer than `limit` remain.
        let until = failures[excess] + self.length;
        let millis = (until - now).num_milliseconds().max(1);
        Some(u64::try_from((millis + 999) / 1000).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> NaiveDateTime {
        chrono::DateTime::UNIX_EPOCH.naive_utc() + Duration::minutes(28_333_333 + minute)
    }

    #[test]
    fn five_failures_block_until_the_oldest_leaves_the_window() {
        let failures: Vec<_> = (0..4).map(at).collect();
        assert_eq!(PER_ADDRESS.retry_after(&failures, at(5)), None);
        let failures: Vec<_> = (0..5).map(at).collect();
        // Oldest at minute 0 leaves at minute 15: ten minutes from minute 5.
        assert_eq!(PER_ADDRESS.retry_after(&failures, at(5)), Some(600));
        let failures: Vec<_> = (0..7).map(at).collect();
        // Seven failures: three must leave; the third-oldest (minute 2) leaves at minute 17.
        assert_eq!(PER_ADDRESS.retry_after(&failures, at(7)), Some(600));
    }

    #[test]
    fn retry_after_is_never_zero() {
        let failures: Vec<_> = (0..5).map(at).collect();
        assert_eq!(
            PER_ADDRESS.retry_after(&failures, at(15) - Duration::milliseconds(1)),
            Some(1)
        );
    }
}
