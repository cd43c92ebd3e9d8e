//! Conversions between Python seconds and the core's integer milliseconds.
use crate::errors::ConfigError;
use pyo3::prelude::*;

/// Largest number of seconds that still fits in `u64` milliseconds.
const MAX_SECONDS: f64 = (u64::MAX / 1000) as f64;

/// Converts a duration in seconds (finite, `>= 0`) to whole milliseconds,
/// rounding to the nearest millisecond. `what` names the argument in errors.
pub(crate) fn seconds_to_ms(what: &str, seconds: f64) -> PyResult<u64> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(ConfigError::new_err(format!(
            "{what} must be a finite number of seconds >= 0, got {seconds}"
        )));
    }
    if seconds > MAX_SECONDS {
        return Err(ConfigError::new_err(format!(
            "{what} is too large: {seconds} s (at most {MAX_SECONDS} s)"
        )));
    }
    let ms = (seconds * 1000.0).round();
    // In range by the check above; `as` saturates anyway.
    Ok(ms as u64)
}

/// Milliseconds as seconds, for Python.
pub(crate) fn ms_to_seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_whole_milliseconds() {
        for ms in [0u64, 1, 999, 1000, 10_000, 300_000, 86_400_000] {
            let s = ms_to_seconds(ms);
            assert_eq!(seconds_to_ms("x", s).ok(), Some(ms));
        }
    }

    #[test]
    fn rounds_to_nearest_millisecond() {
        assert_eq!(seconds_to_ms("x", 0.0004).ok(), Some(0));
        assert_eq!(seconds_to_ms("x", 0.0006).ok(), Some(1));
        assert_eq!(seconds_to_ms("x", 1.5).ok(), Some(1500));
    }
}
