//! Native module `stamen._stamen`.
use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _stamen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
