//! OneFlow elasticity expressions: `Expression`, `evaluate`, `Evaluation`.
//!
//! Python VM documents are converted once into JSON and read with
//! `stamen_json::vmdoc` (as the agent reads them); parsing and evaluation then
//! run with the GIL released.
use crate::convert::to_json;
use crate::errors::{self, ConfigError, EvalError, ExprParseError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyString};
use self_cell::self_cell;
use serde_json::{json, Value};
use stamen_core::expr::{self as core_expr, Expr, ParseError, VmResolver};
use stamen_json::vmdoc::VmDoc;
use stamen_json::Dialect;

/// Node capacity of a compiled expression (128 comparisons).
const CAPACITY: usize = 256;

type CoreExpr<'a> = Expr<'a, CAPACITY>;

self_cell!(
    /// The source text and the expression parsed from it.
    struct Compiled {
        owner: String,
        #[covariant]
        dependent: CoreExpr,
    }
);

/// A parse error without borrows, turned into `ExprParseError`.
struct ParseFailure {
    message: String,
    index: Option<usize>,
    column: Option<usize>,
    failure_reason: Option<String>,
    trace: Option<String>,
}

impl From<ParseError<'_>> for ParseFailure {
    fn from(e: ParseError<'_>) -> Self {
        match e {
            ParseError::Syntax(s) => ParseFailure {
                message: s.oneflow_trace().to_string(),
                index: Some(s.index()),
                column: Some(s.column()),
                failure_reason: Some(s.to_string()),
                trace: Some(s.oneflow_trace().to_string()),
            },
            other => ParseFailure {
                message: other.to_string(),
                index: match other {
                    ParseError::NameTooLong { offset, .. } => Some(offset),
                    _ => None,
                },
                column: None,
                failure_reason: None,
                trace: None,
            },
        }
    }
}

fn parse_error(py: Python<'_>, source: &str, f: ParseFailure) -> PyErr {
    let attrs = || -> PyResult<Vec<(&'static str, Bound<'_, PyAny>)>> {
        Ok(vec![
            ("expression", source.into_pyobject(py)?.into_any()),
            ("index", f.index.into_pyobject(py)?.into_any()),
            ("column", f.column.into_pyobject(py)?.into_any()),
            (
                "failure_reason",
                f.failure_reason.clone().into_pyobject(py)?.into_any(),
            ),
            ("trace", f.trace.clone().into_pyobject(py)?.into_any()),
        ])
    };
    match attrs() {
        Ok(a) => errors::with_attrs::<ExprParseError>(py, f.message.clone(), &a),
        Err(e) => e,
    }
}

/// A NaN or infinite number in a VM document (JSON has none).
fn non_finite(path: &str) -> PyErr {
    ConfigError::new_err(format!(
        "{path}: expected a finite number, got NaN or infinity"
    ))
}

/// The role's VMs as one JSON array, from `vars` (one RUNNING VM with that
/// USER_TEMPLATE) or `vms` (a list of VM dicts); checked by [`vm_docs`].
fn role_vms(vars: Option<&Bound<'_, PyAny>>, vms: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    match (vars, vms) {
        (Some(_), Some(_)) => Err(ConfigError::new_err(
            "pass either vars (one VM's USER_TEMPLATE) or vms (the role's VMs), not both",
        )),
        (Some(vars), None) => {
            let ut = to_json(vars, "vars", 0, &non_finite)?;
            if !ut.is_object() {
                return Err(PyTypeError::new_err(
                    "vars must be a mapping of attribute names to values",
                ));
            }
            Ok(json!([{ "USER_TEMPLATE": ut }]))
        }
        (None, Some(vms)) => {
            let list = to_json(vms, "vms", 0, &non_finite)?;
            if !list.is_array() {
                return Err(PyTypeError::new_err(format!(
                    "vms must be a list of VM dicts, got {}",
                    Dialect::Python.kind(&list)
                )));
            }
            Ok(list)
        }
        (None, None) => Ok(json!([])),
    }
}

/// The keys of each item of `vms` (a list or tuple) in the order Python
/// iterates them (`None` for a non-mapping), so a VM with several bad keys
/// reports the first one written.
fn key_orders(vms: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Option<Vec<String>>>> {
    let Some(vms) = vms else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in vms.try_iter()? {
        let item = item?;
        out.push(
            if item.is_instance_of::<PyDict>() || item.hasattr("items")? {
                let d = PyDict::new(item.py());
                d.update(&item.cast::<PyMapping>()?.clone())?;
                Some(
                    d.keys()
                        .iter()
                        .map(|k| k.extract())
                        .collect::<PyResult<_>>()?,
                )
            } else {
                None
            },
        );
    }
    Ok(out)
}

/// Each VM of `list` (from [`role_vms`]) checked as a VM document; `orders`
/// from [`key_orders`].
fn vm_docs<'v>(list: &'v Value, orders: &[Option<Vec<String>>]) -> PyResult<Vec<VmDoc<'v>>> {
    list.as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let order = orders.get(i).and_then(Option::as_deref);
            VmDoc::new_in(v, i, &format!("vms[{i}]"), Dialect::Python, order)
                .map_err(|e| ConfigError::new_err(e.to_string()))
        })
        .collect()
}

/// The result of one evaluation: OneFlow's boolean and its trace
/// (`expression_evaluated`).
#[pyclass(module = "stamen._stamen", name = "Evaluation", frozen, eq)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Evaluation {
    /// Whether the condition holds.
    #[pyo3(get)]
    value: bool,
    /// OneFlow's trace, e.g. `CPU[82.88] > 80 && MEM[--] < 3`.
    #[pyo3(get)]
    trace: String,
}

#[pymethods]
impl Evaluation {
    #[new]
    fn new(value: bool, trace: String) -> Self {
        Evaluation { value, trace }
    }

    fn __bool__(&self) -> bool {
        self.value
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Evaluation(value={}, trace={})",
            if self.value { "True" } else { "False" },
            PyString::new(py, &self.trace).repr()?
        ))
    }
}

/// A OneFlow elasticity expression, parsed once.
#[pyclass(module = "stamen._stamen", name = "Expression", frozen)]
pub(crate) struct Expression {
    compiled: Compiled,
}

fn compile(py: Python<'_>, source: String) -> PyResult<Compiled> {
    let src_for_error = source.clone();
    py.detach(move || {
        Compiled::try_new(source, |s| {
            CoreExpr::parse(s.as_str()).map_err(ParseFailure::from)
        })
    })
    .map_err(|f| parse_error(py, &src_for_error, f))
}

impl Expression {
    fn run(&self, py: Python<'_>, vms: Vec<VmDoc<'_>>) -> PyResult<Evaluation> {
        let compiled = &self.compiled;
        let result = py.detach(move || {
            let mut resolver = VmResolver::new(&vms);
            let mut trace = String::new();
            compiled
                .borrow_dependent()
                .eval_traced(&mut resolver, &mut trace)
                .map(|value| Evaluation { value, trace })
        });
        result.map_err(|e| match e {
            core_expr::EvalError::Resolve(avg) => {
                let attrs = || -> PyResult<Vec<(&'static str, Bound<'_, PyAny>)>> {
                    Ok(vec![
                        ("ruby_class", avg.ruby_class().into_pyobject(py)?.into_any()),
                        (
                            "ruby_message",
                            avg.ruby_message().into_pyobject(py)?.into_any(),
                        ),
                    ])
                };
                match attrs() {
                    Ok(a) => errors::with_attrs::<EvalError>(py, avg.to_string(), &a),
                    Err(err) => err,
                }
            }
            other => EvalError::new_err(other.to_string()),
        })
    }
}

#[pymethods]
impl Expression {
    #[new]
    fn new(py: Python<'_>, source: String) -> PyResult<Self> {
        Ok(Expression {
            compiled: compile(py, source)?,
        })
    }

    /// The expression as written.
    #[getter]
    fn source(&self) -> &str {
        self.compiled.borrow_owner()
    }

    /// The attribute names it reads, as looked up (upper-cased), each once.
    /// Quoted names are never found by OneFlow and are not listed.
    #[getter]
    fn variables(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.compiled.borrow_dependent().variables() {
            if v.is_quoted() {
                continue;
            }
            let name = v.with_lookup_name(str::to_owned);
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// The parse tree as an S-expression (for checking grouping).
    #[getter]
    fn tree(&self) -> String {
        self.compiled.borrow_dependent().tree().to_string()
    }

    /// Evaluates like OneFlow over `vars` (one RUNNING VM whose USER_TEMPLATE
    /// is that mapping) or `vms` (the role's VM documents). With neither,
    /// every attribute is missing.
    #[pyo3(signature = (vars = None, vms = None))]
    fn evaluate(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyAny>>,
        vms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Evaluation> {
        let list = role_vms(vars, vms)?;
        let vms = vm_docs(&list, &key_orders(vms)?)?;
        self.run(py, vms)
    }

    fn __str__(&self) -> String {
        self.compiled.borrow_dependent().to_string()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Expression({})",
            PyString::new(py, self.compiled.borrow_owner()).repr()?
        ))
    }
}

/// `evaluate(expr, vars=None, vms=None)`: parse and evaluate once.
#[pyfunction]
#[pyo3(signature = (expr, vars = None, vms = None))]
pub(crate) fn evaluate(
    py: Python<'_>,
    expr: String,
    vars: Option<&Bound<'_, PyAny>>,
    vms: Option<&Bound<'_, PyAny>>,
) -> PyResult<Evaluation> {
    let list = role_vms(vars, vms)?;
    let vms = vm_docs(&list, &key_orders(vms)?)?;
    let e = Expression {
        compiled: compile(py, expr)?,
    };
    e.run(py, vms)
}

/// Ruby's `String#to_f`, as OneFlow converts attribute text.
#[pyfunction]
pub(crate) fn ruby_to_f(text: &str) -> f64 {
    core_expr::str_to_f(text)
}

/// Ruby's `Float#to_s`, as OneFlow prints attribute values in traces.
#[pyfunction]
pub(crate) fn ruby_float_to_s(value: f64) -> String {
    core_expr::RubyFloat(value).to_string()
}
