//! OneFlow policies: `new_cardinality` and `lint_policy` over Python dicts
//! (OneFlow's JSON shapes; integers read with Ruby's `to_i`).
//!
//! The documents are converted to JSON and read with `stamen_json` (the
//! agent's reading, with Python's wording in messages).
use crate::convert::to_json;
use crate::errors::{self, PolicyError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::Value;
use stamen_core::policy::lint::{Finding, LintOptions};
use stamen_core::policy::new_cardinality as core_new_cardinality;
use stamen_json::lint::lint_roles;
use stamen_json::policydoc::{adjustment, body_of, bounds, object, roles_in, DocError};
use stamen_json::Dialect;

/// A document OneFlow could not read, as `PolicyError("path: message")`.
fn doc_error(e: DocError) -> PyErr {
    PolicyError::new_err(e.to_string())
}

/// A policy document as JSON. A NaN or infinite number is the error reading
/// it as an integer gives.
fn to_doc(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    to_json(obj, path, 0, &|at: &str| {
        PolicyError::new_err(format!("{at}: number out of range"))
    })
}

/// `new_cardinality(role, policy)`: the cardinality OneFlow's
/// `calculate_new_cardinality` gives when `policy` fires on `role` (dicts in
/// OneFlow's JSON shape: `cardinality`, `min_vms`, `max_vms`; `type`,
/// `adjust`, `min_adjust_step`). Raises `PolicyError` (with `ruby_class` and
/// `ruby_message`) where OneFlow itself would crash.
#[pyfunction]
pub(crate) fn new_cardinality(
    py: Python<'_>,
    role: &Bound<'_, PyAny>,
    policy: &Bound<'_, PyAny>,
) -> PyResult<i64> {
    let role = to_doc(role, "role")?;
    let policy = to_doc(policy, "policy")?;
    let b = bounds(
        object(&role, "role", Dialect::Python).map_err(doc_error)?,
        "role",
    )
    .map_err(doc_error)?;
    let a = adjustment(
        object(&policy, "policy", Dialect::Python).map_err(doc_error)?,
        "policy",
    )
    .map_err(doc_error)?;
    core_new_cardinality(&b, &a).map_err(|e| {
        let attrs = || -> PyResult<Vec<(&'static str, Bound<'_, PyAny>)>> {
            Ok(vec![
                ("ruby_class", e.class.into_pyobject(py)?.into_any()),
                ("ruby_message", e.message.into_pyobject(py)?.into_any()),
            ])
        };
        match attrs() {
            Ok(a) => errors::with_attrs::<PolicyError>(py, e.to_string(), &a),
            Err(err) => err,
        }
    })
}

/// One lint finding.
#[pyclass(module = "stamen._stamen", name = "LintFinding", frozen, eq)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LintFinding {
    /// Stable code, e.g. `STAMEN-L001`.
    #[pyo3(get)]
    code: &'static str,
    /// `info`, `warning` or `error`.
    #[pyo3(get)]
    severity: &'static str,
    /// JSON path of the offending field, e.g. `$.roles[1].min_vms`.
    #[pyo3(get)]
    path: String,
    /// What is wrong.
    #[pyo3(get)]
    message: String,
    /// How to fix it.
    #[pyo3(get)]
    fix: &'static str,
}

impl From<&Finding> for LintFinding {
    fn from(f: &Finding) -> Self {
        LintFinding {
            code: f.id.code(),
            severity: f.severity.as_str(),
            path: f.location.to_string(),
            message: f.message.as_str().to_owned(),
            fix: f.fix,
        }
    }
}

#[pymethods]
impl LintFinding {
    fn __str__(&self) -> String {
        format!(
            "{} {} {}: {} (fix: {})",
            self.severity, self.code, self.path, self.message, self.fix
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = |s: &str| -> PyResult<String> { Ok(PyString::new(py, s).repr()?.to_string()) };
        Ok(format!(
            "LintFinding(code={}, severity={}, path={}, message={})",
            r(self.code)?,
            r(self.severity)?,
            r(&self.path)?,
            r(&self.message)?
        ))
    }
}

/// `lint_policy(doc, *, min_fit_clients=None, round_seconds=None,
/// extra_attributes=None)`: stamen's lints (STAMEN-L001…) for a OneFlow service
/// template (a dict with `roles`, or `{"DOCUMENT": {"TEMPLATE": {"BODY": …}}}`)
/// or a single role. Returns every finding in a stable order; raises
/// `PolicyError` (with the JSON path) for a document OneFlow could not read.
#[pyfunction]
#[pyo3(signature = (doc, *, min_fit_clients = None, round_seconds = None, extra_attributes = None))]
pub(crate) fn lint_policy(
    py: Python<'_>,
    doc: &Bound<'_, PyAny>,
    min_fit_clients: Option<i64>,
    round_seconds: Option<i64>,
    extra_attributes: Option<Vec<String>>,
) -> PyResult<Vec<LintFinding>> {
    let extra_attributes = extra_attributes.unwrap_or_default();
    let doc = to_doc(doc, "$")?;
    let roles = roles_in(&doc, "$", Dialect::Python).map_err(doc_error)?;
    // From the body alone (the CLI also looks at a top-level `roles`).
    let service = body_of(&doc).get("roles").is_some();
    Ok(py.detach(move || {
        let extra: Vec<&str> = extra_attributes.iter().map(String::as_str).collect();
        let opts = LintOptions {
            min_fit_clients,
            round_seconds,
            extra_attributes: &extra,
        };
        let mut out = Vec::new();
        lint_roles(&roles, service, &opts, &mut |f| {
            out.push(LintFinding::from(f))
        });
        out
    }))
}
