//! Status datagrams for the agent (`stamen_core::ipc`, wire format v1) and
//! OneGate form bodies (`stamen_core::form`).
use crate::errors::{self, ConfigError, IpcError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use stamen_core::form::{self, FormError, UpdateBody};
use stamen_core::ipc::{self, Report};
use stamen_core::status::{ClientStatus, FlStatus};

fn status_from(code: u8) -> PyResult<ClientStatus> {
    ClientStatus::from_code(code).ok_or_else(|| {
        ConfigError::new_err(format!(
            "invalid status {code}; allowed: 1 (IDLE), 2 (TRAINING), 3 (DISCONNECTED)"
        ))
    })
}

/// Encodes one status datagram (`stamen/1 status=2 round=3`). `status` is
/// 1 (IDLE), 2 (TRAINING) or 3 (DISCONNECTED); `round` an integer >= 0 or
/// `None`.
#[pyfunction]
#[pyo3(signature = (status, round = None))]
pub(crate) fn encode_status<'py>(
    py: Python<'py>,
    status: u8,
    round: Option<u64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let report = Report {
        status: status_from(status)?,
        round,
    };
    let mut buf = [0u8; ipc::MAX_ENCODED_LEN];
    let n = ipc::encode(&report, &mut buf)
        .map_err(|e| IpcError::new_err(format!("cannot encode status: {e}")))?;
    Ok(PyBytes::new(py, buf.get(..n).unwrap_or(&[])))
}

/// Decodes one datagram strictly: `(status, round)`. Raises `IpcError` (with
/// the byte `offset` of the first problem) for anything else.
#[pyfunction]
pub(crate) fn decode_status(py: Python<'_>, datagram: &[u8]) -> PyResult<(u8, Option<u64>)> {
    match ipc::decode(datagram) {
        Ok(r) => Ok((r.status.code(), r.round)),
        Err(e) => {
            let offset = e.offset().into_pyobject(py)?.into_any();
            Err(errors::with_attrs::<IpcError>(
                py,
                e.to_string(),
                &[("offset", offset)],
            ))
        }
    }
}

fn form_error(py: Python<'_>, e: FormError, key: Option<&str>) -> PyErr {
    let offset = match e {
        FormError::InvalidKey { offset } | FormError::InvalidValue { offset } => Some(offset),
        _ => None,
    };
    let message = match key {
        Some(k) => format!("{k}: {e}"),
        None => e.to_string(),
    };
    let attrs = || -> PyResult<Vec<(&'static str, Bound<'_, PyAny>)>> {
        Ok(vec![
            ("key", key.into_pyobject(py)?.into_any()),
            ("offset", offset.into_pyobject(py)?.into_any()),
        ])
    };
    match attrs() {
        Ok(a) => errors::with_attrs::<ConfigError>(py, message, &a),
        Err(err) => err,
    }
}

/// Runs a body writer with a buffer that grows until the body fits.
fn with_buffer<F>(mut hint: usize, mut write: F) -> Result<String, FormError>
where
    F: FnMut(&mut [u8]) -> Result<usize, FormError>,
{
    loop {
        let mut buf = vec![0u8; hint];
        match write(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                // Form encoding outputs ASCII only.
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
            Err(FormError::BufferTooSmall { needed }) if needed > hint => hint = needed,
            Err(FormError::BufferTooSmall { .. }) => hint = hint.saturating_mul(2).max(64),
            Err(e) => return Err(e),
        }
    }
}

/// A value of an attribute: str or int (bool is rejected: OneFlow reads
/// numbers, say 1/0).
enum AttrValue {
    Text(String),
    Number(u64),
}

fn attr_value(key: &str, v: &Bound<'_, PyAny>) -> PyResult<AttrValue> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(ConfigError::new_err(format!(
            "{key}: bool values are not allowed (OneFlow reads numbers: use 1 or 0)"
        )));
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(AttrValue::Text(s));
    }
    if v.is_instance_of::<pyo3::types::PyInt>() {
        return match v.extract::<u64>() {
            Ok(n) => Ok(AttrValue::Number(n)),
            Err(_) => Ok(AttrValue::Text(v.str()?.extract::<String>()?)),
        };
    }
    if v.is_instance_of::<pyo3::types::PyFloat>() {
        return Ok(AttrValue::Text(v.str()?.extract::<String>()?));
    }
    Err(ConfigError::new_err(format!(
        "{key}: value must be str, int or float, got {}",
        v.get_type().name()?
    )))
}

/// `data=K%3DV%0AK2%3DV2&type=1`: the body of a OneGate `PUT /vm` that sets
/// USER_TEMPLATE attributes, byte-identical to the official client's.
/// `attrs` maps names (`A-Z a-z 0-9 _ - .`) to str/int/float values; a value
/// may not contain a newline, CR or NUL. Raises `ConfigError` with `key` and
/// `offset` on a bad name or value.
#[pyfunction]
pub(crate) fn encode_onegate_update(py: Python<'_>, attrs: &Bound<'_, PyAny>) -> PyResult<String> {
    let mut pairs: Vec<(String, AttrValue)> = Vec::new();
    for item in attrs.call_method0("items")?.try_iter()? {
        let (k, v): (String, Bound<'_, PyAny>) = item?.extract()?;
        let value = attr_value(&k, &v)?;
        pairs.push((k, value));
    }
    let hint = pairs
        .iter()
        .map(|(k, v)| {
            let vlen = match v {
                AttrValue::Text(s) => s.len(),
                AttrValue::Number(_) => 20,
            };
            (k.len() + vlen).saturating_mul(3).saturating_add(6)
        })
        .fold(16usize, usize::saturating_add);
    let mut failed_key: Option<String> = None;
    let result = py.detach(|| {
        with_buffer(hint, |buf| {
            let mut body = UpdateBody::new(buf);
            for (k, v) in &pairs {
                let r = match v {
                    AttrValue::Text(s) => body.attr(k, s),
                    AttrValue::Number(n) => body.attr_u64(k, *n),
                };
                if let Err(e) = r {
                    if !matches!(e, FormError::BufferTooSmall { .. }) {
                        failed_key = Some(k.clone());
                    }
                    return Err(e);
                }
            }
            body.finish()
        })
    });
    result.map_err(|e| form_error(py, e, failed_key.as_deref()))
}

/// `data=KEY&type=2`: the body of a OneGate `PUT /vm` that erases one
/// USER_TEMPLATE attribute.
#[pyfunction]
pub(crate) fn encode_onegate_erase(py: Python<'_>, key: &str) -> PyResult<String> {
    with_buffer(key.len().saturating_mul(3).saturating_add(16), |buf| {
        form::erase_body(key, buf)
    })
    .map_err(|e| form_error(py, e, Some(key)))
}

/// The FL metrics body: `FL_CLIENT_STATUS`, `FL_TRAINING_ACTIVE`,
/// `FL_ROUND_NUMBER` (SPEC §4), as the agent publishes it.
#[pyfunction]
#[pyo3(signature = (status, round = 0))]
pub(crate) fn encode_onegate_status(py: Python<'_>, status: u8, round: u64) -> PyResult<String> {
    let fl = FlStatus::new(status_from(status)?, round);
    with_buffer(128, |buf| form::status_body(&fl, buf)).map_err(|e| form_error(py, e, None))
}
