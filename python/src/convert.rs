//! Conversions: Python seconds ↔ the core's integer milliseconds, and Python
//! documents (dicts, lists, …) → `serde_json::Value` for `stamen-json`.
use crate::errors::ConfigError;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deepest nesting of a document accepted from Python.
const MAX_DEPTH: usize = 64;

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

/// Converts a Python document to JSON: `None`, `bool`, `str`, `int` (exact
/// when it fits `i64`, else as a float), `float`, `dict` (and any other
/// mapping, through `dict()`), `list` and `tuple`. `path` names the value in
/// errors (`vms[0].USER_TEMPLATE.CPU`).
///
/// Errors: `TypeError` for a non-`str` key or an unsupported type,
/// `ConfigError` past [`MAX_DEPTH`] levels, `OverflowError` for an `int` too
/// large for a float, and `non_finite(path)` for a NaN or infinite float
/// (JSON has none).
pub(crate) fn to_json(
    obj: &Bound<'_, PyAny>,
    path: &str,
    depth: usize,
    non_finite: &dyn Fn(&str) -> PyErr,
) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(ConfigError::new_err(format!(
            "{path}: nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let float = |x: f64| {
        Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| non_finite(path))
    };
    if obj.is_none() {
        Ok(Value::Null)
    } else if obj.is_instance_of::<PyBool>() {
        Ok(Value::Bool(obj.extract()?))
    } else if obj.is_instance_of::<PyString>() {
        Ok(Value::String(obj.extract()?))
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => float(obj.extract::<f64>()?),
        }
    } else if obj.is_instance_of::<PyFloat>() {
        float(obj.extract::<f64>()?)
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut out = Map::new();
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{path}: keys must be str, got {}",
                    k.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                ))
            })?;
            let child = to_json(&v, &format!("{path}.{key}"), depth + 1, non_finite)?;
            out.insert(key, child);
        }
        Ok(Value::Object(out))
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            out.push(to_json(
                &item?,
                &format!("{path}[{i}]"),
                depth + 1,
                non_finite,
            )?);
        }
        Ok(Value::Array(out))
    } else if obj.hasattr("items")? {
        // Any other mapping (e.g. os.environ): through dict().
        let d = PyDict::new(obj.py());
        d.update(&obj.cast::<PyMapping>()?.clone())?;
        to_json(d.as_any(), path, depth, non_finite)
    } else {
        Err(PyTypeError::new_err(format!(
            "{path}: expected str, int, float, bool, None, a dict or a list, got {}",
            obj.get_type().name()?
        )))
    }
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
