//! The application's notion of "now", injectable so tests of expiry,
//! throttling windows and "today" never sleep or depend on the wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SubsecRound, Utc};

/// Wall-clock time plus an offset that only tests move; a test may also
/// stop the wall clock, to step exactly onto a boundary.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
    /// The wall-clock time it stopped at, in microseconds; 0 while it runs.
    frozen_micros: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Current UTC time, truncated to microseconds so that SQLite and
    /// PostgreSQL store and return identical values.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        let wall = match self.frozen_micros.load(Ordering::Relaxed) {
            0 => Utc::now(),
            at => DateTime::from_timestamp_micros(at).unwrap_or_else(Utc::now),
        };
        (wall + offset).trunc_subsecs(6)
    }

    /// Stops the wall clock (for this clock and every clone): from now on
    /// only [`advance`](Self::advance) moves it.
    pub fn freeze(&self) {
        self.frozen_micros
            .store(Utc::now().timestamp_micros(), Ordering::Relaxed);
    }

    /// `now()` as the naive UTC value stored in `TIMESTAMP` columns.
    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }

    /// The calendar day it is now in `tz`.
    pub fn today_in(&self, tz: chrono_tz::Tz) -> NaiveDate {
        self.now().with_timezone(&tz).date_naive()
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::hours(2));
        let gap = copy.now() - before;
        assert!(gap >= Duration::hours(2) && gap < Duration::hours(2) + Duration::seconds(5));
        assert_eq!(copy.now().timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::system();
        clock.advance(Duration::hours(1));
        clock.freeze();
        let at = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(clock.clone().now(), at);
        clock.advance(Duration::microseconds(1));
        assert_eq!(clock.now() - at, Duration::microseconds(1));
    }
}
