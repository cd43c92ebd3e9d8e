//! Civil (proleptic Gregorian, UTC) dates ⇄ epoch seconds, and the ISO-8601
//! date-times accepted for a scheduled policy's `start_time`.
//!
//! OneFlow runs `Time.parse` on a non-numeric `start_time`. Ruby's parser takes
//! almost anything; stamen accepts the unambiguous ISO-8601 subset and reports
//! any other format as [`TimeError::Unsupported`] instead of guessing. A date
//! without a zone is read as UTC (OneFlow reads it in the server's zone; run
//! OneFlow in UTC, as the conformance vectors do).

use core::fmt;

/// Seconds in a civil day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// A UTC civil date and time of day, to the minute (what cron works with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (proleptic Gregorian), e.g. 2024.
    pub year: i64,
    /// Month, 1–12.
    pub month: i64,
    /// Day of the month, 1–31.
    pub day: i64,
    /// Hour, 0–23.
    pub hour: i64,
    /// Minute, 0–59.
    pub minute: i64,
    /// Second, 0–59.
    pub second: i64,
}

/// Whether `year` is a Gregorian leap year.
pub const fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub const fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => {
            if is_leap(year) {
                29
            } else {
                28
            }
        }
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). `month` must
/// be 1–12; callers keep `year` within ±10^9 so nothing overflows.
pub const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date `(year, month, day)` of a day number since 1970-01-01.
pub const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Day of the week of a day number since 1970-01-01: 0 = Sunday … 6 = Saturday.
pub const fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// Largest |epoch second| handled (about ±34,800 years), so that every
/// computation on dates stays far from overflow.
pub const MAX_ABS_EPOCH: i64 = 1 << 40;

/// Civil UTC time of an epoch second; `None` beyond ±[`MAX_ABS_EPOCH`].
pub fn civil_from_epoch(t: i64) -> Option<Civil> {
    if t.checked_abs()? > MAX_ABS_EPOCH {
        return None;
    }
    let days = t.div_euclid(SECONDS_PER_DAY);
    let secs = t.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    Some(Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
    })
}

/// Why a `start_time` string was not turned into epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeError {
    /// The text is not one of the supported ISO-8601 forms (`YYYY-MM-DD`,
    /// optionally `T` or a space and `HH:MM[:SS[.fraction]]`, optionally `Z`,
    /// `UTC`, `GMT` or an offset `±HH[:MM]`). Ruby's `Time.parse` may still
    /// read it somehow; stamen refuses to guess.
    Unsupported,
    /// The form is ISO-8601 but a field is out of range (month 13, hour 25 …).
    /// OneFlow's `Time.parse` raises `ArgumentError` on these and the policy
    /// silently never fires.
    OutOfRange,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeError::Unsupported => f.write_str(
                "unsupported start_time format: use epoch seconds or ISO-8601 \
                 (YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM])",
            ),
            TimeError::OutOfRange => {
                f.write_str("start_time has a field out of range (OneFlow ignores the policy)")
            }
        }
    }
}

impl core::error::Error for TimeError {}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
            self.i += 1;
        }
        Some(v)
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// Parses an ISO-8601 date or date-time into epoch seconds (see [`TimeError`]
/// for the accepted forms). Fields normalise like Ruby's `Time.local`:
/// February 30 is March 2, April 31 is May 1, 24:00:00 is the next midnight,
/// second 60 is the next minute.
pub fn parse_iso8601(s: &str) -> Result<i64, TimeError> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let unsupported = TimeError::Unsupported;
    let year = c.digits(4).ok_or(unsupported)?;
    if !c.eat(b'-') {
        return Err(unsupported);
    }
    let month = c.digits(2).ok_or(unsupported)?;
    if !c.eat(b'-') {
        return Err(unsupported);
    }
    let day = c.digits(2).ok_or(unsupported)?;
    let (mut hour, mut minute, mut second) = (0, 0, 0);
    let mut offset = 0i64;
    if !c.done() {
        if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
            return Err(unsupported);
        }
        hour = c.digits(2).ok_or(unsupported)?;
        if !c.eat(b':') {
            return Err(unsupported);
        }
        minute = c.digits(2).ok_or(unsupported)?;
        if c.eat(b':') {
            second = c.digits(2).ok_or(unsupported)?;
            if c.eat(b'.') || c.eat(b',') {
                // Fraction: `Time#to_i` drops it (floor, and it is positive).
                let start = c.i;
                while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                    c.i += 1;
                }
                if c.i == start {
                    return Err(unsupported);
                }
            }
        }
        offset = parse_zone(&mut c)?;
    }
    if !c.done() {
        return Err(unsupported);
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 24
        || minute > if hour == 24 { 0 } else { 59 }
        || second > if hour == 24 { 0 } else { 60 }
    {
        // Without an offset Ruby's `Time.local` raises. With a non-zero
        // offset `Time.parse` first shifts the fields arithmetically and may
        // accept them: not a form worth reproducing.
        return Err(if offset == 0 {
            TimeError::OutOfRange
        } else {
            TimeError::Unsupported
        });
    }
    // Ruby's day normalisation (time.c `time_arg`): only February and the
    // 30-day months overflow into the next month.
    let (mut month, mut day) = (month, day);
    if month == 2 {
        let limit = if is_leap(year) { 29 } else { 28 };
        if day > limit {
            day -= limit;
            month += 1;
        }
    } else if matches!(month, 4 | 6 | 9 | 11) && day == 31 {
        month += 1;
        day = 1;
    }
    let days = days_from_civil(year, month, day);
    Ok(days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset)
}

/// Optional zone designator: `Z`, `UTC`, `GMT` (any case, optionally after one
/// space), or `±HH`, `±HHMM`, `±HH:MM`. Returns the offset east of UTC in seconds.
fn parse_zone(c: &mut Cursor<'_>) -> Result<i64, TimeError> {
    let unsupported = TimeError::Unsupported;
    if c.done() {
        return Ok(0);
    }
    let _ = c.eat(b' ');
    let rest = c.b.get(c.i..).unwrap_or(&[]);
    for name in [&b"UTC"[..], b"GMT", b"Z"] {
        if rest.eq_ignore_ascii_case(name) {
            c.i += name.len();
            return Ok(0);
        }
    }
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(unsupported),
    };
    c.i += 1;
    let hh = c.digits(2).ok_or(unsupported)?;
    let mut mm = 0;
    if c.eat(b':') || !c.done() {
        mm = c.digits(2).ok_or(unsupported)?;
    }
    if hh > 23 || mm > 59 {
        return Err(TimeError::OutOfRange);
    }
    Ok(sign * (hh * 3600 + mm * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_days() {
        for days in [-800_000, -1, 0, 1, 59, 365, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(weekday(0), 4);
    }

    #[test]
    fn parses_iso() {
        assert_eq!(parse_iso8601("1970-01-01"), Ok(0));
        assert_eq!(parse_iso8601("2023-11-14T15:00:00Z"), Ok(1_699_974_000));
        assert_eq!(parse_iso8601("2023-11-14 15:00:00"), Ok(1_699_974_000));
        assert_eq!(
            parse_iso8601("2023-11-14T16:00:00+01:00"),
            Ok(1_699_974_000)
        );
        assert_eq!(parse_iso8601("2023-11-14T16:00+0100"), Ok(1_699_974_000));
        assert_eq!(
            parse_iso8601("2023-11-14T15:00:00.999 UTC"),
            Ok(1_699_974_000)
        );
        assert_eq!(parse_iso8601("2023-02-30"), parse_iso8601("2023-03-02"));
        assert_eq!(parse_iso8601("2023-04-31"), parse_iso8601("2023-05-01"));
        assert_eq!(parse_iso8601("2023-01-30T24:00:00"), Ok(1_675_123_200));
        assert_eq!(parse_iso8601("2023-13-01"), Err(TimeError::OutOfRange));
        assert_eq!(
            parse_iso8601("2023-01-01T25:00"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            parse_iso8601("Tue Nov 14 15:00:00 2023"),
            Err(TimeError::Unsupported)
        );
        assert_eq!(parse_iso8601("2023-11-14T15"), Err(TimeError::Unsupported));
        assert_eq!(
            parse_iso8601("2023-11-14T15:00 CET"),
            Err(TimeError::Unsupported)
        );
    }
}
