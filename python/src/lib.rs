//! Native module `stamen._stamen`.
//!
//! Thin pyo3 bindings over `stamen-core`; the public, documented Python API is
//! the pure-Python package `stamen`, which re-exports these names. Errors of the
//! core become the precise exceptions of the `StamenError` hierarchy
//! ([`errors`]); pure computation runs with the GIL released.
use pyo3::prelude::*;

mod backoff;
mod context;
mod convert;
mod errors;
mod expr;
mod policy;
mod status;

/// The native module.
#[pymodule]
fn _stamen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<backoff::PyBackoff>()?;
    m.add_function(wrap_pyfunction!(status::encode_status, m)?)?;
    m.add_function(wrap_pyfunction!(status::decode_status, m)?)?;
    m.add_function(wrap_pyfunction!(status::encode_onegate_update, m)?)?;
    m.add_function(wrap_pyfunction!(status::encode_onegate_erase, m)?)?;
    m.add_function(wrap_pyfunction!(status::encode_onegate_status, m)?)?;
    m.add_class::<context::ContextIssue>()?;
    m.add_class::<context::PyEdgeConfig>()?;
    m.add_function(wrap_pyfunction!(context::parse_context, m)?)?;
    m.add_class::<expr::Expression>()?;
    m.add_class::<expr::Evaluation>()?;
    m.add_function(wrap_pyfunction!(expr::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(expr::ruby_to_f, m)?)?;
    m.add_function(wrap_pyfunction!(expr::ruby_float_to_s, m)?)?;
    m.add_function(wrap_pyfunction!(policy::new_cardinality, m)?)?;
    m.add_class::<policy::LintFinding>()?;
    m.add_function(wrap_pyfunction!(policy::lint_policy, m)?)?;
    Ok(())
}
