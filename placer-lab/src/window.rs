//! [`TimeWindow`]: days of the week and hours of the day, in UTC, such as
//! weekday office hours, to weigh traffic by only the ticks inside them
//! (`recommend --days mon-fri --hours 08:00-18:00`).
//!
//! ```
//! use placer_core::Timestamp;
//! use placer_lab::window::TimeWindow;
//!
//! let office = TimeWindow::parse("mon-fri", "08:00-18:00").unwrap();
//! // Monday 2026-01-05 09:30 UTC is inside, 18:00 is not, Saturday is not.
//! let monday = Timestamp::from_unix_seconds(1_767_571_200);
//! assert!(office.contains(monday + std::time::Duration::from_secs(9 * 3600 + 1800)));
//! assert!(!office.contains(monday + std::time::Duration::from_secs(18 * 3600)));
//! assert!(!office.contains(monday + std::time::Duration::from_secs(5 * 86_400 + 10 * 3600)));
//! assert_eq!(office.to_string(), "Mon–Fri, 08:00–18:00 UTC");
//! ```

use std::fmt;

use placer_core::Timestamp;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u32 = 24 * 60;

/// Days of the week and a span of the day, both in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Bit `d` set: weekday `d` (0 = Monday) is in the window.
    days: u8,
    /// Start of the span, minutes after midnight, included.
    from: u32,
    /// End of the span, minutes after midnight, excluded. A span that ends
    /// at or before its start runs past midnight (22:00–06:00); equal ends
    /// mean the whole day. A span past midnight belongs to the day it
    /// starts on.
    to: u32,
}

/// A window that could not be read, naming the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A `--days` value that is not a day, a list or a range of days.
    #[error("days {text:?}: write day names or ranges such as mon-fri, sat,sun or tue")]
    Days {
        /// The rejected text.
        text: String,
    },
    /// An `--hours` value that is not `HH:MM-HH:MM`.
    #[error(
        "hours {text:?}: write a span such as 08:00-18:00 (UTC; 22:00-06:00 runs past midnight)"
    )]
    Hours {
        /// The rejected text.
        text: String,
    },
}

impl TimeWindow {
    /// Every day, all day.
    pub const ALWAYS: TimeWindow = TimeWindow {
        days: 0x7f,
        from: 0,
        to: 0,
    };

    /// A window from a list of days (`mon-fri`, `sat,sun`, `tue`; empty:
    /// every day) and a span of hours (`08:00-18:00`; empty: all day).
    ///
    /// # Errors
    /// [`WindowError`] naming the part that is not understood.
    pub fn parse(days: &str, hours: &str) -> Result<Self, WindowError> {
        let mut window = TimeWindow::ALWAYS;
        if !days.trim().is_empty() {
            window.days = parse_days(days).ok_or_else(|| WindowError::Days {
                text: days.to_owned(),
            })?;
        }
        if !hours.trim().is_empty() {
            let (from, to) = parse_hours(hours).ok_or_else(|| WindowError::Hours {
                text: hours.to_owned(),
            })?;
            window.from = from;
            window.to = to;
        }
        Ok(window)
    }

    /// True when `at` falls inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        let minutes = at.unix_millis().div_euclid(60_000);
        let day = minutes.div_euclid(i64::from(MINUTES_PER_DAY));
        let minute = minutes.rem_euclid(i64::from(MINUTES_PER_DAY)) as u32;
        // 1970-01-01 was a Thursday (weekday 3).
        let weekday = |day: i64| (day + 3).rem_euclid(7) as u8;
        let on = |day: i64| self.days & (1 << weekday(day)) != 0;
        if self.from < self.to {
            on(day) && (self.from..self.to).contains(&minute)
        } else if self.from == self.to {
            on(day)
        } else {
            (on(day) && minute >= self.from) || (on(day - 1) && minute < self.to)
        }
    }

    /// True for [`TimeWindow::ALWAYS`]: every day, all day.
    pub fn is_always(&self) -> bool {
        self.days == 0x7f && self.from == self.to
    }
}

fn parse_days(text: &str) -> Option<u8> {
    let day = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        DAYS_FULL
            .iter()
            .position(|full| name == full[..3] || name == *full)
    };
    let mut days = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (day(first)?, day(last)?);
                let mut d = first;
                loop {
                    days |= 1 << d;
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << day(part)?,
        }
    }
    Some(days)
}

const DAYS_FULL: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn parse_hours(text: &str) -> Option<(u32, u32)> {
    let time = |text: &str| -> Option<u32> {
        let (hours, minutes) = text.trim().split_once(':')?;
        let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
        (hours <= 24 && minutes < 60 && hours * 60 + minutes <= MINUTES_PER_DAY)
            .then_some((hours * 60 + minutes) % MINUTES_PER_DAY)
    };
    let (from, to) = text.split_once('-')?;
    Some((time(from)?, time(to)?))
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |d: usize| {
            let mut name = DAYS[d].to_owned();
            name[..1].make_ascii_uppercase();
            name
        };
        let listed: Vec<usize> = (0..7).filter(|d| self.days & (1 << d) != 0).collect();
        let contiguous = listed.windows(2).all(|pair| pair[1] == pair[0] + 1);
        let days = match listed.as_slice() {
            [] => "no day".to_owned(),
            _ if listed.len() == 7 => "every day".to_owned(),
            [one] => name(*one),
            [first, .., last] if contiguous => format!("{}–{}", name(*first), name(*last)),
            _ => listed
                .iter()
                .map(|d| name(*d))
                .collect::<Vec<_>>()
                .join(", "),
        };
        if self.from == self.to {
            write!(f, "{days}, all day UTC")
        } else {
            let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
            write!(f, "{days}, {}–{} UTC", hhmm(self.from), hhmm(self.to))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Monday 2026-01-05 00:00 UTC.
    const MONDAY: Timestamp = Timestamp::from_unix_seconds(1_767_571_200);

    fn at(day: u64, hour: u64, minute: u64) -> Timestamp {
        MONDAY + Duration::from_secs(day * 86_400 + hour * 3600 + minute * 60)
    }

    #[test]
    fn days_read_as_names_lists_and_ranges() {
        let window = |days: &str| TimeWindow::parse(days, "").unwrap();
        assert_eq!(window("mon-fri").days, 0b001_1111);
        assert_eq!(window("Sat,sunday").days, 0b110_0000);
        assert_eq!(
            window("fri-mon").days,
            0b111_0001,
            "a range may wrap the week"
        );
        assert_eq!(window("").days, 0x7f);
        for bad in ["mo", "someday", "mon-", "mon,,tue"] {
            let err = TimeWindow::parse(bad, "").unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn hours_are_a_utc_span_that_may_run_past_midnight() {
        let office = TimeWindow::parse("mon-fri", "08:00-18:00").unwrap();
        assert!(office.contains(at(0, 8, 0)));
        assert!(office.contains(at(4, 17, 59)));
        assert!(!office.contains(at(0, 18, 0)));
        assert!(!office.contains(at(0, 7, 59)));
        assert!(!office.contains(at(5, 12, 0)));
        let night = TimeWindow::parse("fri", "22:00-06:00").unwrap();
        assert!(night.contains(at(4, 23, 0)));
        assert!(
            night.contains(at(5, 5, 59)),
            "Friday night runs into Saturday"
        );
        assert!(!night.contains(at(4, 5, 0)), "Thursday night is not in it");
        for bad in ["8-18", "08:00", "25:00-26:00", "08:60-09:00"] {
            let err = TimeWindow::parse("", bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(TimeWindow::parse("", "").unwrap().is_always());
    }

    #[test]
    fn a_window_names_itself_in_plain_words() {
        let window = |days: &str, hours: &str| TimeWindow::parse(days, hours).unwrap().to_string();
        assert_eq!(window("mon-fri", "08:00-18:00"), "Mon–Fri, 08:00–18:00 UTC");
        assert_eq!(window("sat,sun", ""), "Sat–Sun, all day UTC");
        assert_eq!(
            window("mon,wed", "22:00-06:00"),
            "Mon, Wed, 22:00–06:00 UTC"
        );
        assert_eq!(window("", ""), "every day, all day UTC");
    }
}
