//! Status datagrams for the agent (IPC wire format v1).
//!
//! INTERIM: encodes `stamen/1 status=<1|2|3>[ round=<u64>]` here until
//! `stamen_core::ipc::encode` lands on this branch; then this file calls it.
use crate::errors::ConfigError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Encodes one status datagram. `status` is 1 (IDLE), 2 (TRAINING) or
/// 3 (DISCONNECTED); `round` an integer >= 0 or `None`.
#[pyfunction]
#[pyo3(signature = (status, round = None))]
pub(crate) fn encode_status<'py>(
    py: Python<'py>,
    status: u8,
    round: Option<u64>,
) -> PyResult<Bound<'py, PyBytes>> {
    if !(1..=3).contains(&status) {
        return Err(ConfigError::new_err(format!(
            "invalid status {status}; allowed: 1 (IDLE), 2 (TRAINING), 3 (DISCONNECTED)"
        )));
    }
    let text = match round {
        Some(r) => format!("stamen/1 status={status} round={r}"),
        None => format!("stamen/1 status={status}"),
    };
    Ok(PyBytes::new(py, text.as_bytes()))
}
