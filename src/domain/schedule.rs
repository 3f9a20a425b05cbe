//! When a reminder or a digest is due (docs/api-guide.md): at a wall-clock time on chosen weekdays in the user's own
//! time zone, computed with the zone's rules (chrono-tz), never a fixed
//! offset. A local time that does not exist that day (the clocks jump over
//! it) is due at the first minute after the jump; one that occurs twice is
//! due once, at its first occurrence.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A day of the week, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Weekday)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    fn index(self) -> u32 {
        self as u32
    }

    pub fn of(date: NaiveDate) -> Day {
        Self::ALL[date.weekday().num_days_from_monday() as usize]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    pub fn parse(raw: &str) -> Option<Day> {
        Self::ALL.into_iter().find(|d| d.as_str() == raw)
    }
}

/// A set of weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Days(u8);

impl Days {
    /// The days listed, each once (a day named twice is refused).
    pub fn from_list(days: &[Day]) -> Result<Self, &'static str> {
        let mut set = 0u8;
        for day in days {
            let bit = 1 << day.index();
            if set & bit != 0 {
                return Err("names a day twice");
            }
            set |= bit;
        }
        Ok(Self(set))
    }

    pub fn contains(self, day: Day) -> bool {
        self.0 & (1 << day.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Monday first.
    pub fn list(self) -> Vec<Day> {
        Day::ALL.into_iter().filter(|d| self.contains(*d)).collect()
    }

    /// `mon,wed,fri`: how a set is stored.
    pub fn to_text(self) -> String {
        self.list()
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn from_text(text: &str) -> Option<Self> {
        let days: Option<Vec<Day>> = text
            .split(',')
            .filter(|s| !s.is_empty())
            .map(Day::parse)
            .collect();
        Self::from_list(&days?).ok()
    }
}

/// A wall-clock time `HH:MM` (24-hour, minutes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime(NaiveTime);

impl LocalTime {
    pub const PATTERN: &'static str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const RULE: &str = "must be a time of day as HH:MM, 00:00 to 23:59";
        let bytes = raw.as_bytes();
        if bytes.len() != 5 || bytes[2] != b':' {
            return Err(RULE);
        }
        let number = |a: u8, b: u8| -> Option<u32> {
            (a.is_ascii_digit() && b.is_ascii_digit())
                .then(|| u32::from((a - b'0') * 10 + (b - b'0')))
        };
        let (Some(hour), Some(minute)) = (number(bytes[0], bytes[1]), number(bytes[3], bytes[4]))
        else {
            return Err(RULE);
        };
        NaiveTime::from_hms_opt(hour, minute, 0)
            .map(Self)
            .ok_or(RULE)
    }

    pub fn time(self) -> NaiveTime {
        self.0
    }

    pub fn to_text(self) -> String {
        format!("{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

/// The instant `time` happens on `date` in `tz`: its first occurrence
/// when the clocks go back over it, the first minute after the jump when
/// they jump over it.
pub fn instant_of(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = date.and_time(time);
    // A jump is at most a day (Samoa, 2011); minutes beyond that cannot be
    // missing, so the loop ends.
    for _ in 0..=(24 * 60) {
        if let Some(at) = tz.from_local_datetime(&local).earliest() {
            return at.with_timezone(&Utc);
        }
        local += Duration::minutes(1);
    }
    // Unreachable with real zone data; UTC is the least surprising answer.
    Utc.from_utc_datetime(&date.and_time(time))
}

/// When a schedule is due next, and the local date it is due for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
}

/// The next due time of a schedule at `time` on `days` in `tz`, for a
/// local date after `handled` (the last one a mail was sent or skipped
/// for: never two for one local day, whatever the zone does). With
/// `late_today`, today counts even when its time has passed (the service
/// was down: a missed time is sent late, on the same local day only);
/// without it (settings just saved), only a time still ahead counts.
/// `None` when `days` is empty.
pub fn next_due(
    tz: Tz,
    time: LocalTime,
    days: Days,
    handled: Option<NaiveDate>,
    now: DateTime<Utc>,
    late_today: bool,
) -> Option<Due> {
    if days.is_empty() {
        return None;
    }
    let today = now.with_timezone(&tz).date_naive();
    let mut date = match handled {
        Some(last) if last >= today => last.succ_opt()?,
        _ => today,
    };
    for _ in 0..15 {
        if days.contains(Day::of(date)) {
            let at = instant_of(tz, date, time.time());
            if at > now || (late_today && date == today) {
                return Some(Due { date, at });
            }
        }
        date = date.succ_opt()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn at(h: &str) -> LocalTime {
        LocalTime::parse(h).unwrap()
    }

    #[test]
    fn times_are_strict_hh_mm() {
        for good in ["00:00", "09:05", "23:59"] {
            assert_eq!(LocalTime::parse(good).unwrap().to_text(), good);
        }
        for bad in [
            "24:00",
            "9:05",
            "09:5",
            "09:60",
            "09-05",
            "",
            "09:05:00",
            "+9:05",
            "٠٩:٠٥",
        ] {
            assert!(LocalTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_are_a_set_named_once_each() {
        let days = Days::from_list(&[Day::Fri, Day::Mon]).unwrap();
        assert_eq!(days.to_text(), "mon,fri");
        assert_eq!(Days::from_text("mon,fri"), Some(days));
        assert!(Days::from_list(&[Day::Mon, Day::Mon]).is_err());
        assert_eq!(Days::from_text("mon,xyz"), None);
    }

    /// 2027-03-28: Berlin jumps from 02:00 to 03:00; 2027-10-31 it goes
    /// back from 03:00 to 02:00.
    #[test]
    fn a_time_the_clocks_jump_over_is_due_just_after_the_jump() {
        let tz = chrono_tz::Europe::Berlin;
        let due = instant_of(tz, day("2027-03-28"), at("02:30").time());
        assert_eq!(due, utc("2027-03-28T01:00:00Z")); // 03:00 CEST
        let ordinary = instant_of(tz, day("2027-03-29"), at("02:30").time());
        assert_eq!(ordinary, utc("2027-03-29T00:30:00Z"));
    }

    #[test]
    fn a_time_that_happens_twice_is_due_at_its_first() {
        let tz = chrono_tz::Europe::Berlin;
        let due = instant_of(tz, day("2027-10-31"), at("02:30").time());
        assert_eq!(due, utc("2027-10-31T00:30:00Z")); // 02:30 CEST, not CET
    }

    #[test]
    fn the_next_due_day_follows_the_zones_calendar() {
        let every = Days::from_list(&Day::ALL).unwrap();
        // 23:30 UTC on the 5th is already the 6th in Tokyo and still the
        // 5th in Los Angeles.
        let now = utc("2026-12-05T23:30:00Z");
        let tokyo = next_due(chrono_tz::Asia::Tokyo, at("09:00"), every, None, now, false);
        assert_eq!(
            tokyo,
            Some(Due {
                date: day("2026-12-06"),
                at: utc("2026-12-06T00:00:00Z")
            })
        );
        // In Los Angeles it is 15:30 on the 5th: 18:00 that day is ahead.
        let la = next_due(
            chrono_tz::America::Los_Angeles,
            at("18:00"),
            every,
            None,
            now,
            false,
        );
        assert_eq!(
            la,
            Some(Due {
                date: day("2026-12-05"),
                at: utc("2026-12-06T02:00:00Z")
            })
        );
        // Only Mondays: 2026-12-07 is a Monday.
        let mondays = Days::from_list(&[Day::Mon]).unwrap();
        let due = next_due(chrono_tz::UTC, at("08:00"), mondays, None, now, false).unwrap();
        assert_eq!(due.date, day("2026-12-07"));
    }

    #[test]
    fn a_handled_day_is_never_due_again_and_a_missed_time_only_today() {
        let every = Days::from_list(&Day::ALL).unwrap();
        let tz = chrono_tz::UTC;
        let now = utc("2026-12-05T10:00:00Z");
        // Handled today: tomorrow.
        let next = next_due(tz, at("08:00"), every, Some(day("2026-12-05")), now, true).unwrap();
        assert_eq!(next.date, day("2026-12-06"));
        // Down since three days ago: today, late, as the catch-up.
        let late = next_due(tz, at("08:00"), every, Some(day("2026-12-01")), now, true).unwrap();
        assert_eq!(
            late,
            Due {
                date: day("2026-12-05"),
                at: utc("2026-12-05T08:00:00Z")
            }
        );
        // Just saved at 10:00 for 08:00: tomorrow, not late today.
        let saved = next_due(tz, at("08:00"), every, None, now, false).unwrap();
        assert_eq!(saved.date, day("2026-12-06"));
        assert_eq!(
            next_due(tz, at("08:00"), Days::default(), None, now, false),
            None
        );
    }
}
