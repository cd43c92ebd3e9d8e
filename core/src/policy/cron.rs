//! Cron recurrences for scheduled policies, with the semantics of the
//! `parse-cron` Ruby gem (0.1.4) that OneFlow uses — quirks included.
//!
//! - 5 fields (a 6th is accepted and ignored): minute, hour, day of month,
//!   month, day of week. Each is a comma list of `*`, `*/S`, `N`, `N-M`,
//!   `N-M/S`. (`N/S` is an error; `*` followed by anything reads the step from
//!   the third character on, with Ruby's `to_i`.)
//! - Names (`jan`…`dec`, `sun`…`sat`, any case) are replaced as substrings
//!   before parsing; `@yearly @annually @monthly @weekly @daily @midnight
//!   @hourly` expand (exact, lower case only).
//! - Values are not range-checked at parse time: `0 24 * * *` fires at the
//!   end of the day (Ruby's `Time.local` takes hour 24 as the next midnight);
//!   a minute above 59 or an hour above 24 makes every `next` fail; a step of 0
//!   (`*/0`) fails to parse. In OneFlow any failure silently disables the policy.
//! - When both day fields are restricted (not exactly `*`), a day matches
//!   if EITHER matches; DOW 7 is Sunday too.
//!
//! All times are UTC (the gem uses the server's local zone).

use core::fmt;

use super::ruby::str_to_i;
use super::time::{civil_from_epoch, days_from_civil, days_in_month, weekday, MAX_ABS_EPOCH};

/// Longest recurrence accepted (bytes).
pub const MAX_SOURCE: usize = 256;

/// Stand-in for any value ≥ 128 in a field: such values only ever compare
/// greater than every time component, and always fail when used.
const LARGE: i64 = 1 << 20;

/// Why a recurrence could not be parsed or its next time computed. In OneFlow
/// every one of these is rescued and the scheduled policy never fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CronError {
    /// Not 5 or 6 whitespace-separated fields (gem: "not a valid cronline"),
    /// or `@reboot`.
    FieldCount,
    /// A list element is not `*…`, `N`, `N-M` or `N-M/S`
    /// (gem: "Bad Vixie-style specification"). `field` is 0 = minute … 4 = DOW.
    BadElement {
        /// Which field (0 = minute, 1 = hour, 2 = day of month, 3 = month, 4 = day of week).
        field: u8,
    },
    /// A step of 0 (gem: `ZeroDivisionError`).
    ZeroStep {
        /// Which field (0 = minute … 4 = day of week).
        field: u8,
    },
    /// Longer than [`MAX_SOURCE`] bytes (a stamen limit).
    TooLong,
    /// The next time needs a month outside 1–12 (Ruby `Date::Error`).
    InvalidMonth,
    /// The next time has an hour above 24, or hour 24 with a non-zero minute,
    /// or a minute above 59 (Ruby `ArgumentError` from `Time.local`).
    InvalidTime,
    /// The gem compares `nil` with an integer (`ArgumentError`): happens when a
    /// month has no matching day and the hour list then wraps.
    NilComparison,
    /// The time given is beyond ±2^40 s (a stamen limit).
    OutOfRange,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
        let name = |field: &u8| NAMES.get(usize::from(*field)).copied().unwrap_or("?");
        match self {
            CronError::FieldCount => f.write_str(
                "not a valid cronline: need 5 fields (minute hour day-of-month month day-of-week) or an @keyword",
            ),
            CronError::BadElement { field } => write!(
                f,
                "bad {} field: each comma-separated element must be *, */STEP, N, N-M or N-M/STEP",
                name(field)
            ),
            CronError::ZeroStep { field } => write!(f, "step 0 in the {} field", name(field)),
            CronError::TooLong => write!(f, "recurrence longer than {MAX_SOURCE} bytes"),
            CronError::InvalidMonth => f.write_str("month outside 1-12"),
            CronError::InvalidTime => {
                f.write_str("minute above 59 or hour above 24 (hour 24 only at minute 0)")
            }
            CronError::NilComparison => {
                f.write_str("no matching day in a month while the hour wraps (parse-cron compares nil)")
            }
            CronError::OutOfRange => f.write_str("time out of range"),
        }
    }
}

impl core::error::Error for CronError {}

/// The set of values of one field: a bit per value 0–127, plus a flag for
/// "some value ≥ 128" (all such values behave alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Field {
    bits: u128,
    large: bool,
}

impl Field {
    /// Whether `v` is in the set (values ≥ 128 never are asked about).
    pub fn contains(&self, v: i64) -> bool {
        (0..128).contains(&v) && self.bits & (1u128 << v) != 0
    }

    fn is_empty(&self) -> bool {
        self.bits == 0 && !self.large
    }

    /// Smallest value, `None` when empty (Ruby's `list.first`).
    fn first(&self) -> Option<i64> {
        if self.bits != 0 {
            Some(i64::from(self.bits.trailing_zeros()))
        } else if self.large {
            Some(LARGE)
        } else {
            None
        }
    }

    /// Smallest value strictly greater than `current` (Ruby `find_best_next`);
    /// comparing with `nil` fails unless the set is empty.
    fn next_after(&self, current: Option<i64>) -> Result<Option<i64>, CronError> {
        if self.is_empty() {
            return Ok(None);
        }
        let current = current.ok_or(CronError::NilComparison)?;
        let from = current.saturating_add(1).max(0);
        if from < 128 {
            let masked = self.bits & (u128::MAX << from);
            if masked != 0 {
                return Ok(Some(i64::from(masked.trailing_zeros())));
            }
        }
        Ok(if self.large && current < LARGE {
            Some(LARGE)
        } else {
            None
        })
    }

    /// Adds `first, first+step, … ≤ last` (Ruby `stepped_range`, with `div`
    /// flooring, so a negative step or an inverted range adds nothing).
    fn add_stepped(&mut self, first: i64, last: i64, step: i64) -> Result<(), ()> {
        if step == 0 {
            return Err(());
        }
        let len = i128::from(last) - i128::from(first);
        let step = i128::from(step);
        let num = floor_div(len, step);
        if num < 0 {
            return Ok(());
        }
        let mut i: i128 = 0;
        while i <= num {
            let v = i128::from(first) + step * i;
            if v >= 128 {
                self.large = true;
                break;
            }
            if v >= 0 {
                self.bits |= 1u128 << v;
            }
            if step < 0 {
                // Only reachable with len == 0 (num == 0).
                break;
            }
            i += 1;
        }
        Ok(())
    }
}

fn floor_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

/// A parsed recurrence. `Copy`, no heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
    dom_star: bool,
    dow_star: bool,
}

const SYMBOLS: [(&str, &str); 19] = [
    ("jan", "1"),
    ("feb", "2"),
    ("mar", "3"),
    ("apr", "4"),
    ("may", "5"),
    ("jun", "6"),
    ("jul", "7"),
    ("aug", "8"),
    ("sep", "9"),
    ("oct", "10"),
    ("nov", "11"),
    ("dec", "12"),
    ("sun", "0"),
    ("mon", "1"),
    ("tue", "2"),
    ("wed", "3"),
    ("thu", "4"),
    ("fri", "5"),
    ("sat", "6"),
];

/// Ruby's `\s`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Ruby `str.split(/\s+/)`: a leading separator gives an empty first field,
/// trailing ones give nothing. Calls `f` for each field.
fn split_ws<'s>(s: &'s str, mut f: impl FnMut(&'s str)) {
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b.get(i).copied().is_some_and(is_space) {
            let end = i;
            while b.get(i).copied().is_some_and(is_space) {
                i += 1;
            }
            // Only a leading run yields an empty field, and only when
            // something follows it (Ruby drops trailing empty fields).
            if end > start || (start == 0 && i < b.len()) {
                f(s.get(start..end).unwrap_or(""));
            }
            start = i;
        } else {
            i += 1;
        }
    }
    if start < b.len() {
        f(s.get(start..).unwrap_or(""));
    }
}

fn count_fields(s: &str) -> usize {
    let mut n = 0;
    split_ws(s, |_| n += 1);
    n
}

/// `N`, `N-M` or `N-M/S`: the first number, then the range end and step.
type Element = (i64, Option<(i64, Option<i64>)>);

/// One `SUBELEMENT_REGEX` match: `^(\d+)(-(\d+)(/(\d+))?)?$`.
fn parse_numeric(sub: &str) -> Option<Element> {
    fn number(b: &[u8], i: &mut usize) -> Option<i64> {
        let start = *i;
        let mut v: i64 = 0;
        while let Some(c) = b.get(*i).filter(|c| c.is_ascii_digit()) {
            v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            *i += 1;
        }
        (*i > start).then_some(v)
    }
    let b = sub.as_bytes();
    let mut i = 0;
    let a = number(b, &mut i)?;
    if i == b.len() {
        return Some((a, None));
    }
    if b.get(i) != Some(&b'-') {
        return None;
    }
    i += 1;
    let z = number(b, &mut i)?;
    if i == b.len() {
        return Some((a, Some((z, None))));
    }
    if b.get(i) != Some(&b'/') {
        return None;
    }
    i += 1;
    let s = number(b, &mut i)?;
    (i == b.len()).then_some((a, Some((z, Some(s)))))
}

fn parse_field(elem: &str, lo: i64, hi: i64, field: u8) -> Result<Field, CronError> {
    let mut out = Field::default();
    // Ruby `elem.split(',')` drops trailing empty strings only.
    let trimmed = elem.trim_end_matches(',');
    if trimmed.is_empty() {
        return Ok(out);
    }
    for sub in trimmed.split(',') {
        if let Some(rest) = sub.strip_prefix('*') {
            let step = if sub.len() > 1 {
                // `subel[2..-1]`: from the third character on.
                let mut chars = rest.chars();
                chars.next();
                str_to_i(chars.as_str())
            } else {
                1
            };
            out.add_stepped(lo, hi, step)
                .map_err(|()| CronError::ZeroStep { field })?;
        } else {
            let (a, range) = parse_numeric(sub).ok_or(CronError::BadElement { field })?;
            match range {
                Some((z, step)) => out
                    .add_stepped(a, z, step.unwrap_or(1))
                    .map_err(|()| CronError::ZeroStep { field })?,
                None => {
                    let _ = out.add_stepped(a, a, 1);
                }
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
struct Internal {
    year: i64,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    min: Option<i64>,
}

/// The days of a month that match, as a bit set (bit d for day d).
#[derive(Clone, Copy)]
struct Days(u32);

impl Days {
    fn contains(self, d: Option<i64>) -> bool {
        matches!(d, Some(d) if (1..=31).contains(&d) && self.0 & (1 << d) != 0)
    }
    fn first(self) -> Option<i64> {
        (self.0 != 0).then(|| i64::from(self.0.trailing_zeros()))
    }
    fn next_after(self, current: Option<i64>) -> Result<Option<i64>, CronError> {
        if self.0 == 0 {
            return Ok(None);
        }
        let c = current.ok_or(CronError::NilComparison)?;
        let from = c.saturating_add(1).max(0);
        if from >= 32 {
            return Ok(None);
        }
        let masked = self.0 & (u32::MAX << from);
        Ok((masked != 0).then(|| i64::from(masked.trailing_zeros())))
    }
}

impl Cron {
    /// Parses a recurrence (see the module docs for the exact dialect).
    pub fn parse(source: &str) -> Result<Cron, CronError> {
        let source = match source {
            "@reboot" => return Err(CronError::FieldCount),
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s => s,
        };
        if source.len() > MAX_SOURCE {
            return Err(CronError::TooLong);
        }
        if !(5..=6).contains(&count_fields(source)) {
            return Err(CronError::FieldCount);
        }
        // Lower-case, then substitute the names in the gem's order.
        let mut a = [0u8; MAX_SOURCE];
        let mut b = [0u8; MAX_SOURCE];
        let mut len = source.len();
        if let (Some(dst), Some(src)) = (a.get_mut(..len), source.as_bytes().get(..len)) {
            dst.copy_from_slice(src);
            dst.make_ascii_lowercase();
        }
        for (name, digits) in SYMBOLS {
            let (src, dst) = (&a, &mut b);
            let n = name.len();
            let mut i = 0;
            let mut o = 0;
            while i < len {
                if src.get(i..i + n) == Some(name.as_bytes()) {
                    for d in digits.bytes() {
                        if let Some(slot) = dst.get_mut(o) {
                            *slot = d;
                        }
                        o += 1;
                    }
                    i += n;
                } else {
                    if let (Some(slot), Some(c)) = (dst.get_mut(o), src.get(i)) {
                        *slot = *c;
                    }
                    o += 1;
                    i += 1;
                }
            }
            len = o.min(MAX_SOURCE);
            a = b;
        }
        // Replacing ASCII names by ASCII digits keeps UTF-8 valid.
        let text =
            core::str::from_utf8(a.get(..len).unwrap_or(&[])).map_err(|_| CronError::TooLong)?;
        let mut tokens: [&str; 5] = [""; 5];
        let mut n = 0;
        split_ws(text, |t| {
            if let Some(slot) = tokens.get_mut(n) {
                *slot = t;
            }
            n += 1;
        });
        if !(5..=6).contains(&n) {
            return Err(CronError::FieldCount);
        }
        let [t0, t1, t2, t3, t4] = tokens;
        Ok(Cron {
            minute: parse_field(t0, 0, 59, 0)?,
            hour: parse_field(t1, 0, 23, 1)?,
            dom: parse_field(t2, 1, 31, 2)?,
            month: parse_field(t3, 1, 12, 3)?,
            dow: parse_field(t4, 0, 6, 4)?,
            dom_star: t2 == "*",
            dow_star: t4 == "*",
        })
    }

    /// `interpolate_weekdays`: matching days of a month.
    fn days(&self, year: i64, month: Option<i64>) -> Result<Days, CronError> {
        let month = month.ok_or(CronError::InvalidMonth)?;
        if !(1..=12).contains(&month) {
            return Err(CronError::InvalidMonth);
        }
        let both_star = self.dom_star && self.dow_star;
        let dom = if !both_star && self.dom_star {
            Field::default()
        } else {
            self.dom
        };
        let mut dow = if !both_star && self.dow_star {
            Field::default()
        } else {
            self.dow
        };
        if dow.contains(7) {
            dow.bits |= 1;
        }
        let first = days_from_civil(year, month, 1);
        let mut set = 0u32;
        for d in 1..=days_in_month(year, month) {
            if dom.contains(d) || dow.contains(weekday(first + d - 1)) {
                set |= 1 << d;
            }
        }
        Ok(Days(set))
    }

    fn nudge_month(&self, t: &mut Internal) -> Result<(), CronError> {
        let next = self.month.next_after(t.month)?;
        t.month = next.or(self.month.first());
        if next.is_none() {
            t.year += 1;
        }
        t.day = self.days(t.year, t.month)?.first();
        Ok(())
    }

    fn nudge_date(&self, t: &mut Internal) -> Result<(), CronError> {
        let days = self.days(t.year, t.month)?;
        let next = days.next_after(t.day)?;
        t.day = next.or(days.first());
        if next.is_none() {
            self.nudge_month(t)?;
        }
        Ok(())
    }

    fn nudge_hour(&self, t: &mut Internal) -> Result<(), CronError> {
        let next = self.hour.next_after(t.hour)?;
        t.hour = next.or(self.hour.first());
        if next.is_none() {
            self.nudge_date(t)?;
        }
        Ok(())
    }

    fn nudge_minute(&self, t: &mut Internal) -> Result<(), CronError> {
        let next = self.minute.next_after(t.min)?;
        t.min = next.or(self.minute.first());
        if next.is_none() {
            self.nudge_hour(t)?;
        }
        Ok(())
    }

    /// The next occurrence after epoch second `t` (UTC), as the gem's
    /// `CronParser#next(Time.at(t))` computes it. On success the result is
    /// always greater than `t`.
    pub fn next_after(&self, t: i64) -> Result<i64, CronError> {
        let c = civil_from_epoch(t).ok_or(CronError::OutOfRange)?;
        let mut it = Internal {
            year: c.year,
            month: Some(c.month),
            day: Some(c.day),
            hour: Some(c.hour),
            min: Some(c.minute),
        };
        if !it.month.is_some_and(|m| self.month.contains(m)) {
            self.nudge_month(&mut it)?;
            it.day = Some(0);
        }
        if !self.days(it.year, it.month)?.contains(it.day) {
            self.nudge_date(&mut it)?;
            it.hour = Some(-1);
        }
        if !it.hour.is_some_and(|h| self.hour.contains(h)) {
            self.nudge_hour(&mut it)?;
            it.min = Some(-1);
        }
        self.nudge_minute(&mut it)?;
        to_epoch(&it)
    }
}

/// Ruby `Time.local(year, month, day, hour, min, 0)` in UTC (nil → defaults).
fn to_epoch(t: &Internal) -> Result<i64, CronError> {
    let month = t.month.unwrap_or(1);
    if !(1..=12).contains(&month) {
        return Err(CronError::InvalidMonth);
    }
    let day = t.day.unwrap_or(1);
    let hour = t.hour.unwrap_or(0);
    let min = t.min.unwrap_or(0);
    if !(1..=31).contains(&day)
        || !(0..=24).contains(&hour)
        || !(0..=if hour == 24 { 0 } else { 59 }).contains(&min)
    {
        return Err(CronError::InvalidTime);
    }
    let secs = days_from_civil(t.year, month, day) * 86_400 + hour * 3600 + min * 60;
    if secs.abs() > MAX_ABS_EPOCH + 3 * 366 * 86_400 {
        return Err(CronError::OutOfRange);
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> ([&str; 8], usize) {
        let mut out = [""; 8];
        let mut n = 0;
        split_ws(s, |t| {
            if let Some(slot) = out.get_mut(n) {
                *slot = t;
            }
            n += 1;
        });
        (out, n)
    }

    #[test]
    fn split_like_ruby() {
        assert_eq!(fields("a b "), (["a", "b", "", "", "", "", "", ""], 2));
        assert_eq!(fields("  a\tb"), (["", "a", "b", "", "", "", "", ""], 3));
        assert_eq!(fields("   "), ([""; 8], 0));
        assert_eq!(fields(""), ([""; 8], 0));
    }
}
