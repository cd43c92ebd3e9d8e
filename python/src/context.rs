//! OpenNebula context: `parse_context`, `EdgeConfig`, `ContextIssue`.
//!
//! Text is copied out of Python first, then parsed and validated with the GIL
//! released; results come back as owned values.
use crate::backoff::PyBackoff;
use crate::errors::{self, ContextError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use stamen_core::backoff::{Backoff as CoreBackoff, BackoffConfig};
use stamen_core::context::{
    BackoffStrategy, ConfigErrors, Dialect, EdgeConfig, NodeConfigValue, ParseError, Parser, Pos,
    Var,
};

/// Most config errors kept per file; the rest are counted (see `ContextError`).
const MAX_CONFIG_ERRORS: usize = 64;

/// One problem in a context file.
#[pyclass(
    module = "stamen._stamen",
    name = "ContextIssue",
    frozen,
    eq,
    from_py_object
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContextIssue {
    /// 1-based line, when the problem has a position in the file.
    #[pyo3(get)]
    line: Option<u32>,
    /// 1-based column in characters.
    #[pyo3(get)]
    column: Option<u32>,
    /// 0-based byte offset.
    #[pyo3(get)]
    offset: Option<usize>,
    /// The variable name, when the problem is about one variable.
    #[pyo3(get)]
    key: Option<String>,
    /// The offending value (for invalid values).
    #[pyo3(get)]
    value: Option<String>,
    /// What is wrong and what is allowed.
    #[pyo3(get)]
    message: String,
}

impl ContextIssue {
    fn from_parse(e: &ParseError) -> Self {
        ContextIssue {
            line: Some(e.pos.line),
            column: Some(e.pos.column),
            offset: Some(e.pos.offset),
            key: None,
            value: None,
            message: e.kind.message().to_owned(),
        }
    }

    fn located(&self, filename: &str) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{filename}:{l}:{c}: {}", self.message),
            _ => format!("{filename}: {}", self.message),
        }
    }
}

#[pymethods]
impl ContextIssue {
    fn __str__(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{l}:{c}: {}", self.message),
            _ => self.message.clone(),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "ContextIssue(line={}, column={}, key={}, message={:?})",
            opt(self.line),
            opt(self.column),
            self.key
                .as_deref()
                .map_or("None".to_owned(), |k| format!("{k:?}")),
            self.message
        )
    }
}

/// Python's `repr` of a str (or `None`), for `__repr__`.
fn py_repr(py: Python<'_>, s: Option<&str>) -> PyResult<String> {
    match s {
        Some(s) => Ok(PyString::new(py, s).repr()?.to_string()),
        None => Ok("None".to_owned()),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("None".to_owned(), |v| v.to_string())
}

/// Raises `ContextError` for `issues` (at least one).
fn context_error(py: Python<'_>, filename: Option<&str>, issues: Vec<ContextIssue>) -> PyErr {
    let name = filename.unwrap_or("<context>");
    let mut message = issues
        .iter()
        .map(|i| i.located(name))
        .collect::<Vec<_>>()
        .join("\n");
    if issues.len() > 1 {
        message = format!("{} problems in {name}:\n{message}", issues.len());
    }
    let first = issues.first().cloned();
    let list = match issues
        .into_iter()
        .map(|i| Py::new(py, i))
        .collect::<PyResult<Vec<_>>>()
    {
        Ok(l) => l,
        Err(e) => return e,
    };
    let attrs = || -> PyResult<Vec<(&'static str, Bound<'_, PyAny>)>> {
        Ok(vec![
            ("filename", filename.into_pyobject(py)?.into_any()),
            (
                "line",
                first
                    .as_ref()
                    .and_then(|i| i.line)
                    .into_pyobject(py)?
                    .into_any(),
            ),
            (
                "column",
                first
                    .as_ref()
                    .and_then(|i| i.column)
                    .into_pyobject(py)?
                    .into_any(),
            ),
            (
                "key",
                first
                    .as_ref()
                    .and_then(|i| i.key.clone())
                    .into_pyobject(py)?
                    .into_any(),
            ),
            ("errors", list.into_pyobject(py)?.into_any()),
        ])
    };
    match attrs() {
        Ok(a) => errors::with_attrs::<ContextError>(py, message, &a),
        Err(e) => e,
    }
}

/// Owned variables of one file, in file order.
struct OwnedVar {
    key: String,
    value: String,
    pos: Pos,
    lossy: bool,
}

fn text_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else if obj.is_instance_of::<PyString>() {
        Ok(obj.extract::<String>()?.into_bytes())
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err(
            "context text must be str or bytes",
        ))
    }
}

fn dialect_from(name: &str) -> PyResult<Dialect> {
    match name {
        "context.sh" => Ok(Dialect::ContextSh),
        "lenient" | "one_env" => Ok(Dialect::Lenient),
        other => Err(crate::errors::ConfigError::new_err(format!(
            "invalid dialect {other:?}; allowed: \"context.sh\", \"lenient\" (one_env)"
        ))),
    }
}

/// Parses a whole file: every variable, or every error.
fn parse_all(input: &[u8], dialect: Dialect) -> Result<Vec<OwnedVar>, Vec<ContextIssue>> {
    let mut vars = Vec::new();
    let mut issues = Vec::new();
    for item in Parser::new(input, dialect) {
        match item {
            Ok(entry) => {
                let mut buf = vec![0u8; entry.unescaped_len()];
                match entry.value(&mut buf) {
                    Ok(v) => vars.push(OwnedVar {
                        key: entry.key().to_owned(),
                        value: v.to_owned(),
                        pos: entry.key_pos(),
                        lossy: entry.is_lossy(),
                    }),
                    // Cannot happen (the buffer has the exact size); still a
                    // reported error rather than a silently missing value.
                    Err(e) => issues.push(ContextIssue {
                        line: Some(entry.key_pos().line),
                        column: Some(entry.key_pos().column),
                        offset: Some(entry.key_pos().offset),
                        key: Some(entry.key().to_owned()),
                        value: None,
                        message: e.to_string(),
                    }),
                }
            }
            Err(e) => issues.push(ContextIssue::from_parse(&e)),
        }
    }
    if issues.is_empty() {
        Ok(vars)
    } else {
        Err(issues)
    }
}

/// `parse_context(text, *, dialect="context.sh", filename=None)`: the
/// variables of a context file (shell semantics: the last assignment wins),
/// in file order. Every problem is reported at once in one `ContextError`.
/// Returns `(vars, lossy_keys)`; the Python wrapper warns about lossy keys.
#[pyfunction]
#[pyo3(signature = (text, *, dialect = "context.sh", filename = None))]
pub(crate) fn parse_context<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyAny>,
    dialect: &str,
    filename: Option<&str>,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let input = text_from(text)?;
    let dialect = dialect_from(dialect)?;
    let parsed = py.detach(move || parse_all(&input, dialect));
    let vars = parsed.map_err(|issues| context_error(py, filename, issues))?;
    let dict = PyDict::new(py);
    let mut lossy = Vec::new();
    for v in vars {
        // Re-insert so the dict order follows the last assignment.
        let _ = dict.del_item(&v.key);
        if v.lossy {
            lossy.push(v.key.clone());
        }
        dict.set_item(v.key, v.value)?;
    }
    Ok((dict, lossy))
}

/// A node-config value, owned.
#[derive(Clone, Debug, PartialEq)]
enum NodeValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// The validated FL settings of an edge VM (SPEC §2), owned.
#[pyclass(module = "stamen._stamen", name = "EdgeConfig", frozen)]
#[derive(Clone, Debug)]
pub(crate) struct PyEdgeConfig {
    #[pyo3(get)]
    superlink: Option<String>,
    #[pyo3(get)]
    backoff: &'static str,
    #[pyo3(get)]
    max_backoff: u32,
    #[pyo3(get)]
    max_retries: u32,
    #[pyo3(get)]
    max_wait_time: u32,
    #[pyo3(get)]
    node_config_text: String,
    node_config: Vec<(String, NodeValue)>,
    #[pyo3(get)]
    isolation: &'static str,
    #[pyo3(get)]
    log_level: &'static str,
    #[pyo3(get)]
    tls_enabled: bool,
    #[pyo3(get)]
    min_fit_clients: Option<u32>,
    #[pyo3(get)]
    vmid: Option<u32>,
    #[pyo3(get)]
    onegate_endpoint: Option<String>,
}

fn owned_config(cfg: &EdgeConfig<'_>) -> PyEdgeConfig {
    let nc = cfg.node_config();
    let node_config = nc
        .iter()
        .map(|p| {
            let value = match p.value {
                NodeConfigValue::Bool(b) => NodeValue::Bool(b),
                NodeConfigValue::Int(i) => NodeValue::Int(i),
                NodeConfigValue::Float(f) => NodeValue::Float(f),
                NodeConfigValue::Str(s) => {
                    let mut buf = vec![0u8; s.raw().len()];
                    NodeValue::Str(
                        s.value(&mut buf)
                            .map_or_else(|_| s.raw().to_owned(), str::to_owned),
                    )
                }
                // A future value type: keep the text as written.
                _ => NodeValue::Str(p.raw_value.to_owned()),
            };
            (p.key.to_owned(), value)
        })
        .collect();
    PyEdgeConfig {
        superlink: cfg.superlink().map(|s| s.as_str().to_owned()),
        backoff: match cfg.backoff() {
            BackoffStrategy::Fixed => "fixed",
            _ => "exponential",
        },
        max_backoff: cfg.max_backoff_secs(),
        max_retries: cfg.max_retries(),
        max_wait_time: cfg.max_wait_time_secs(),
        node_config_text: nc.as_str().to_owned(),
        node_config,
        isolation: cfg.isolation().as_str(),
        log_level: cfg.log_level().as_str(),
        tls_enabled: cfg.tls_enabled(),
        min_fit_clients: cfg.min_fit_clients(),
        vmid: cfg.vmid(),
        onegate_endpoint: cfg.onegate_endpoint().map(|e| e.as_str().to_owned()),
    }
}

/// Builds an owned config from owned variables, or every problem.
fn build_config(vars: &[OwnedVar]) -> Result<PyEdgeConfig, Vec<ContextIssue>> {
    let iter = vars.iter().map(|v| Var {
        key: &v.key,
        value: &v.value,
        pos: if v.pos.line == 0 { None } else { Some(v.pos) },
    });
    let (cfg, errs): (EdgeConfig<'_>, ConfigErrors<'_, MAX_CONFIG_ERRORS>) =
        EdgeConfig::build(iter);
    if errs.is_empty() {
        return Ok(owned_config(&cfg));
    }
    let mut issues: Vec<ContextIssue> = errs
        .iter()
        .map(|e| ContextIssue {
            line: e.pos.map(|p| p.line),
            column: e.pos.map(|p| p.column),
            offset: e.pos.map(|p| p.offset),
            key: Some(e.key.to_owned()),
            value: Some(e.value.to_owned()),
            message: e.to_string(),
        })
        .collect();
    if errs.dropped() > 0 {
        issues.push(ContextIssue {
            line: None,
            column: None,
            offset: None,
            key: None,
            value: None,
            message: format!("{} more invalid variables not listed", errs.dropped()),
        });
    }
    Err(issues)
}

#[pymethods]
impl PyEdgeConfig {
    /// Builds the config from a mapping of variables (e.g. `os.environ` or the
    /// result of `parse_context`). Raises `ContextError` listing every
    /// invalid variable.
    #[staticmethod]
    #[pyo3(signature = (vars, *, filename = None))]
    fn from_vars(
        py: Python<'_>,
        vars: &Bound<'_, PyAny>,
        filename: Option<&str>,
    ) -> PyResult<Self> {
        let mut owned = Vec::new();
        for item in vars.call_method0("items")?.try_iter()? {
            let (key, value): (String, String) = item?.extract()?;
            owned.push(OwnedVar {
                key,
                value,
                pos: Pos {
                    line: 0,
                    column: 0,
                    offset: 0,
                },
                lossy: false,
            });
        }
        py.detach(move || build_config(&owned))
            .map_err(|issues| context_error(py, filename, issues))
    }

    /// Parses a context file and builds the config; parse and value errors
    /// carry their line and column. Raises `ContextError` with every problem.
    #[staticmethod]
    #[pyo3(signature = (text, *, dialect = "context.sh", filename = None))]
    fn from_context(
        py: Python<'_>,
        text: &Bound<'_, PyAny>,
        dialect: &str,
        filename: Option<&str>,
    ) -> PyResult<Self> {
        let input = text_from(text)?;
        let dialect = dialect_from(dialect)?;
        py.detach(move || parse_all(&input, dialect).and_then(|vars| build_config(&vars)))
            .map_err(|issues| context_error(py, filename, issues))
    }

    /// `FL_NODE_CONFIG` as a dict of typed values (bool, int, float, str).
    #[getter]
    fn node_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.node_config {
            match v {
                NodeValue::Bool(b) => d.set_item(k, *b)?,
                NodeValue::Int(i) => d.set_item(k, *i)?,
                NodeValue::Float(f) => d.set_item(k, *f)?,
                NodeValue::Str(s) => d.set_item(k, s)?,
            }
        }
        Ok(d)
    }

    /// The discovery retry schedule this config asks for (`FL_EDGE_BACKOFF`,
    /// `FL_EDGE_MAX_BACKOFF`), with the given jitter and seed.
    #[pyo3(signature = (*, jitter = "equal", seed = None))]
    fn new_backoff(&self, py: Python<'_>, jitter: &str, seed: Option<u64>) -> PyResult<PyBackoff> {
        let config = match self.backoff {
            "fixed" => BackoffConfig::fixed_default(),
            _ => BackoffConfig::exponential_default(u64::from(self.max_backoff)),
        };
        let config = config.with_jitter(crate::backoff::jitter_from(jitter)?);
        Ok(PyBackoff::from_core(CoreBackoff::new(
            config,
            crate::backoff::seed_or_random(py, seed)?,
        )))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "EdgeConfig(superlink={}, backoff={}, max_backoff={}, max_retries={}, \
             max_wait_time={}, node_config={}, isolation={}, log_level={}, \
             tls_enabled={}, min_fit_clients={}, vmid={}, onegate_endpoint={})",
            py_repr(py, self.superlink.as_deref())?,
            py_repr(py, Some(self.backoff))?,
            self.max_backoff,
            self.max_retries,
            self.max_wait_time,
            py_repr(py, Some(&self.node_config_text))?,
            py_repr(py, Some(self.isolation))?,
            py_repr(py, Some(self.log_level))?,
            if self.tls_enabled { "True" } else { "False" },
            opt(self.min_fit_clients),
            opt(self.vmid),
            py_repr(py, self.onegate_endpoint.as_deref())?,
        ))
    }
}
