//! `Backoff`: the core retry schedule as a Python iterator of delays.
use crate::convert::{ms_to_seconds, seconds_to_ms};
use crate::errors::ConfigError;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyString;
use stamen_core::backoff::{
    Backoff as CoreBackoff, BackoffConfig, Decision, GiveUpReason, Jitter, Multiplier, Strategy,
    DEFAULT_FIXED_INTERVAL_MS, DEFAULT_FIXED_MAX_ATTEMPTS, DEFAULT_INITIAL_MS,
    DEFAULT_MAX_BACKOFF_SECS,
};

/// Retry delays for discovery and restarts (SPEC §3), as an iterator.
#[pyclass(module = "stamen._stamen", name = "Backoff")]
pub(crate) struct PyBackoff {
    inner: CoreBackoff,
}

fn multiplier_from(value: &Bound<'_, PyAny>) -> PyResult<Multiplier> {
    let text = if value.is_instance_of::<PyString>() {
        value.extract::<String>()?
    } else if let Ok(i) = value.extract::<u64>() {
        i.to_string()
    } else if let Ok(f) = value.extract::<f64>() {
        // Rust's `Display` for f64 is the shortest round-trip text without an
        // exponent (`1.6`, `2`), which is what `Multiplier::from_str` reads.
        format!("{f}")
    } else {
        return Err(ConfigError::new_err(
            "multiplier must be a number or a decimal string like \"1.6\"",
        ));
    };
    text.parse::<Multiplier>()
        .map_err(|e| ConfigError::new_err(format!("invalid multiplier {text:?}: {e}")))
}

pub(crate) fn jitter_from(name: &str) -> PyResult<Jitter> {
    name.parse::<Jitter>()
        .map_err(|e| ConfigError::new_err(format!("invalid jitter {name:?}: {e}")))
}

fn reason_text(reason: GiveUpReason) -> String {
    reason.to_string()
}

fn monotonic_ms(py: Python<'_>) -> PyResult<u64> {
    let now: f64 = py
        .import("time")?
        .getattr("monotonic")?
        .call0()?
        .extract()?;
    seconds_to_ms("time.monotonic()", now)
}

fn now_ms(py: Python<'_>, now: Option<f64>) -> PyResult<u64> {
    match now {
        Some(s) => seconds_to_ms("now", s),
        None => monotonic_ms(py),
    }
}

pub(crate) fn seed_or_random(py: Python<'_>, seed: Option<u64>) -> PyResult<u64> {
    match seed {
        Some(s) => Ok(s),
        None => {
            let bytes: Vec<u8> = py
                .import("os")?
                .getattr("urandom")?
                .call1((8,))?
                .extract()?;
            let mut buf = [0u8; 8];
            for (dst, src) in buf.iter_mut().zip(bytes.iter()) {
                *dst = *src;
            }
            Ok(u64::from_le_bytes(buf))
        }
    }
}

impl PyBackoff {
    /// Wraps a core state machine.
    pub(crate) fn from_core(inner: CoreBackoff) -> Self {
        PyBackoff { inner }
    }
}

#[pymethods]
impl PyBackoff {
    #[new]
    #[pyo3(signature = (
        strategy = "exponential",
        *,
        initial = None,
        multiplier = None,
        max_backoff = None,
        interval = None,
        jitter = "equal",
        max_attempts = None,
        max_elapsed = None,
        seed = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        strategy: &str,
        initial: Option<f64>,
        multiplier: Option<&Bound<'_, PyAny>>,
        max_backoff: Option<f64>,
        interval: Option<f64>,
        jitter: &str,
        max_attempts: Option<u32>,
        max_elapsed: Option<f64>,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        let config = match strategy {
            "exponential" => {
                if interval.is_some() {
                    return Err(ConfigError::new_err(
                        "interval applies to the fixed strategy only; \
                         exponential takes initial, multiplier, max_backoff",
                    ));
                }
                let initial_ms =
                    initial.map_or(Ok(DEFAULT_INITIAL_MS), |s| seconds_to_ms("initial", s))?;
                let cap_ms = max_backoff
                    .map_or(Ok(DEFAULT_MAX_BACKOFF_SECS.saturating_mul(1000)), |s| {
                        seconds_to_ms("max_backoff", s)
                    })?;
                let m = multiplier.map_or(Ok(Multiplier::TWO), multiplier_from)?;
                BackoffConfig::exponential(initial_ms, m, cap_ms)
                    .with_max_attempts(max_attempts.unwrap_or(0))
            }
            "fixed" => {
                if initial.is_some() || multiplier.is_some() || max_backoff.is_some() {
                    return Err(ConfigError::new_err(
                        "initial, multiplier and max_backoff apply to the exponential \
                         strategy only; fixed takes interval",
                    ));
                }
                let interval_ms = interval.map_or(Ok(DEFAULT_FIXED_INTERVAL_MS), |s| {
                    seconds_to_ms("interval", s)
                })?;
                BackoffConfig::fixed(interval_ms)
                    .with_max_attempts(max_attempts.unwrap_or(DEFAULT_FIXED_MAX_ATTEMPTS))
            }
            other => {
                return Err(ConfigError::new_err(format!(
                    "invalid strategy {other:?}; allowed: exponential, fixed"
                )))
            }
        };
        let max_elapsed_ms = max_elapsed.map_or(Ok(0), |s| seconds_to_ms("max_elapsed", s))?;
        let config = config
            .with_jitter(jitter_from(jitter)?)
            .with_max_elapsed_ms(max_elapsed_ms);
        Ok(PyBackoff {
            inner: CoreBackoff::new(config, seed_or_random(py, seed)?),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<f64> {
        match self.on_failure(py, None)? {
            Some(delay) => Ok(delay),
            None => Err(PyStopIteration::new_err(self.gave_up())),
        }
    }

    /// Records a failed attempt at `now` (seconds; default `time.monotonic()`).
    /// Returns the delay before the next attempt in seconds, or `None` once
    /// the limits are reached (see `gave_up`).
    #[pyo3(signature = (now = None))]
    fn on_failure(&mut self, py: Python<'_>, now: Option<f64>) -> PyResult<Option<f64>> {
        let now = now_ms(py, now)?;
        Ok(match self.inner.on_failure(now) {
            Decision::Retry { delay_ms, .. } => Some(ms_to_seconds(delay_ms)),
            _ => None,
        })
    }

    /// Records a success: the next failure waits the initial delay again.
    #[pyo3(signature = (now = None))]
    fn on_success(&mut self, py: Python<'_>, now: Option<f64>) -> PyResult<()> {
        let now = now_ms(py, now)?;
        self.inner.on_success(now);
        Ok(())
    }

    /// Forgets the current streak without reporting a success.
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// A server hint (e.g. HTTP Retry-After, in seconds): the next delay is at
    /// least this long, even above the cap.
    fn hint_retry_after(&mut self, seconds: f64) -> PyResult<()> {
        self.inner
            .hint_retry_after(seconds_to_ms("retry_after", seconds)?);
        Ok(())
    }

    /// The un-jittered delay of retry `retry` (1-based), in seconds.
    fn envelope(&self, retry: u32) -> f64 {
        ms_to_seconds(self.inner.config().envelope_ms(retry))
    }

    /// Consecutive failures in the current streak.
    #[getter]
    fn failures(&self) -> u32 {
        self.inner.failures()
    }

    /// Why retrying stopped, or `None` while retries continue.
    #[getter]
    fn gave_up(&self) -> Option<String> {
        self.inner.gave_up().map(reason_text)
    }

    /// When the scheduled retry is due (seconds, same clock as `now`), if any.
    #[getter]
    fn next_at(&self) -> Option<f64> {
        self.inner.poll_at().map(ms_to_seconds)
    }

    /// The largest delay jitter can produce, in seconds.
    #[getter]
    fn cap(&self) -> f64 {
        ms_to_seconds(self.inner.config().cap_ms())
    }

    fn __repr__(&self) -> String {
        let cfg = self.inner.config();
        let strategy = match cfg.strategy() {
            Strategy::Exponential {
                initial_ms,
                multiplier,
                cap_ms,
            } => format!(
                "'exponential', initial={}, multiplier={multiplier}, max_backoff={}",
                ms_to_seconds(initial_ms),
                ms_to_seconds(cap_ms)
            ),
            Strategy::Fixed { interval_ms } => {
                format!("'fixed', interval={}", ms_to_seconds(interval_ms))
            }
            _ => "'unknown'".to_owned(),
        };
        let attempts = cfg.max_attempts().map_or(0, |n| n.get());
        let elapsed = cfg.max_elapsed_ms().map_or(0, |n| n.get());
        format!(
            "Backoff({strategy}, jitter='{}', max_attempts={attempts}, max_elapsed={}, failures={})",
            cfg.jitter(),
            ms_to_seconds(elapsed),
            self.inner.failures()
        )
    }
}
