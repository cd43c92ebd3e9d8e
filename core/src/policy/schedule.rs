//! When a scheduled policy fires: a fixed `start_time` or a cron `recurrence`.

use core::fmt;

use super::cardinality::RubyException;
use super::cron::{Cron, CronError};
use super::ruby::str_to_i;
use super::time::{parse_iso8601, TimeError};

/// A scheduled policy's timing, decided once from its `start_time` /
/// `recurrence` strings exactly as OneFlow would on every pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schedule {
    /// Fires once, at this epoch second, if a pass sees it in `(last_eval, now]`.
    At(i64),
    /// Fires when the recurrence's next time after `last_eval` is `≤ now`.
    Cron(Cron),
    /// Never fires: OneFlow rescues an error here and returns 0 every pass.
    Never(Inert),
    /// OneFlow raises this exception whenever a pass reaches the policy's
    /// timing (e.g. a number as `start_time`: `Integer#empty?` does not exist).
    Crash(RubyException),
}

/// Why a scheduled policy can never fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inert {
    /// Neither `start_time` nor `recurrence` is set (or both are empty).
    NoSchedule,
    /// `start_time` is ISO-8601 but out of range (Ruby `ArgumentError`).
    StartTimeOutOfRange,
    /// `start_time` is only whitespace (Ruby `Time.parse`: "no time
    /// information", an `ArgumentError`).
    StartTimeBlank,
    /// `recurrence` does not parse (see [`CronError`]).
    Cron(CronError),
}

impl fmt::Display for Inert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inert::NoSchedule => f.write_str("neither start_time nor recurrence is set"),
            Inert::StartTimeOutOfRange => TimeError::OutOfRange.fmt(f),
            Inert::StartTimeBlank => {
                f.write_str("start_time is blank (OneFlow ignores the policy)")
            }
            Inert::Cron(e) => write!(f, "recurrence: {e}"),
        }
    }
}

impl Schedule {
    /// Reads `start_time` (preferred when non-empty) and `recurrence`.
    ///
    /// `start_time` made of digits (on any line, like Ruby's `/^\d+$/`) is
    /// epoch seconds (`to_i`); otherwise it must be ISO-8601. Other date
    /// formats, which Ruby's `Time.parse` might read in its own way, are
    /// refused with [`TimeError::Unsupported`] rather than guessed.
    pub fn from_fields(
        start_time: Option<&str>,
        recurrence: Option<&str>,
    ) -> Result<Schedule, TimeError> {
        if let Some(s) = start_time.filter(|s| !s.is_empty()) {
            let digits_line = s
                .split('\n')
                .any(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
            if digits_line {
                return Ok(Schedule::At(str_to_i(s)));
            }
            if s.bytes().all(|b| b.is_ascii_whitespace()) {
                return Ok(Schedule::Never(Inert::StartTimeBlank));
            }
            return match parse_iso8601(s) {
                Ok(t) => Ok(Schedule::At(t)),
                Err(TimeError::OutOfRange) => Ok(Schedule::Never(Inert::StartTimeOutOfRange)),
                Err(e) => Err(e),
            };
        }
        match recurrence.filter(|r| !r.is_empty()) {
            None => Ok(Schedule::Never(Inert::NoSchedule)),
            Some(r) => Ok(match Cron::parse(r) {
                Ok(c) => Schedule::Cron(c),
                Err(e) => Schedule::Never(Inert::Cron(e)),
            }),
        }
    }

    /// The planned time OneFlow computes on a pass whose previous evaluation
    /// was at `last_eval`: `Ok(None)` when it gives up for this pass, `Err`
    /// where it crashes.
    pub fn planned(&self, last_eval: i64) -> Result<Option<i64>, RubyException> {
        match self {
            Schedule::At(t) => Ok(Some(*t)),
            Schedule::Cron(c) => Ok(c.next_after(last_eval).ok()),
            Schedule::Never(_) => Ok(None),
            Schedule::Crash(e) => Err(*e),
        }
    }
}
