//! The `StamenError` exception hierarchy.
//!
//! Every error the core reports becomes one precise Python exception class; the
//! structured parts of the error (line, column, key, ...) become attributes of
//! the exception instance so callers never parse messages.
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _stamen,
    StamenError,
    PyException,
    "Base class of every error raised by stamen."
);
create_exception!(
    _stamen,
    ContextError,
    StamenError,
    "An OpenNebula context file could not be read or holds invalid values.\n\n\
     Attributes: ``line``, ``column`` (1-based, of the first problem), ``key``\n\
     (or ``None``), ``errors`` (every problem, each a ``ContextIssue``)."
);
create_exception!(
    _stamen,
    ConfigError,
    StamenError,
    "A configuration value (backoff settings, an encoder input) is invalid."
);
create_exception!(
    _stamen,
    ExprParseError,
    StamenError,
    "A OneFlow elasticity expression does not parse.\n\n\
     Attributes: ``column`` (1-based), ``index`` (0-based byte offset),\n\
     ``failure_reason`` (OneFlow's text)."
);
create_exception!(
    _stamen,
    EvalError,
    StamenError,
    "An expression parsed but could not be evaluated (OneFlow itself would crash)."
);
create_exception!(
    _stamen,
    IpcError,
    StamenError,
    "A status datagram is not valid wire format v1.\n\n\
     Attribute: ``offset`` (0-based byte offset of the first problem)."
);
create_exception!(
    _stamen,
    PolicyError,
    StamenError,
    "A OneFlow policy or role definition is invalid."
);

/// Builds an exception of type `T` with `message` and sets `attrs` on it.
pub(crate) fn with_attrs<T: pyo3::PyTypeInfo>(
    py: Python<'_>,
    message: String,
    attrs: &[(&str, Bound<'_, PyAny>)],
) -> PyErr {
    let err = PyErr::new::<T, _>(message);
    let value = err.value(py);
    for (name, attr) in attrs {
        if let Err(e) = value.setattr(*name, attr) {
            return e;
        }
    }
    err
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("StamenError", py.get_type::<StamenError>())?;
    m.add("ContextError", py.get_type::<ContextError>())?;
    let config_error = py.get_type::<ConfigError>();
    // Only encoder errors know a key and offset; others read these defaults.
    config_error.setattr("key", py.None())?;
    config_error.setattr("offset", py.None())?;
    m.add("ConfigError", config_error)?;
    m.add("ExprParseError", py.get_type::<ExprParseError>())?;
    m.add("EvalError", py.get_type::<EvalError>())?;
    m.add("IpcError", py.get_type::<IpcError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    Ok(())
}
