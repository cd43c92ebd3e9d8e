//! OneFlow elasticity expressions: `Expression`, `evaluate`, `Evaluation`.
//!
//! Python VM documents are converted once into an owned tree ([`Val`]);
//! parsing and evaluation then run with the GIL released.
use crate::errors::{self, ConfigError, EvalError, ExprParseError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use self_cell::self_cell;
use stamen_core::expr::{self as core_expr, Expr, Lookup, ParseError, Section, VmResolver, VmView};

/// Node capacity of a compiled expression (128 comparisons).
const CAPACITY: usize = 256;
/// Deepest nesting of a VM document accepted from Python.
const MAX_DEPTH: usize = 64;

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

/// An owned value of a VM document (OpenNebula's XML-to-hash shapes).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    /// A Python int that fits `i64` (kept exact; Ruby `Integer`).
    Int(i64),
    /// Any other number (Ruby `Float`).
    Num(f64),
    Str(String),
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
}

impl Val {
    pub(crate) fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

pub(crate) fn to_val(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Val> {
    if depth > MAX_DEPTH {
        return Err(ConfigError::new_err(format!(
            "{path}: nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if obj.is_none() {
        Ok(Val::Null)
    } else if obj.is_instance_of::<PyBool>() {
        Ok(Val::Bool(obj.extract()?))
    } else if obj.is_instance_of::<PyString>() {
        Ok(Val::Str(obj.extract()?))
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(i) => Ok(Val::Int(i)),
            Err(_) => Ok(Val::Num(obj.extract::<f64>()?)),
        }
    } else if obj.is_instance_of::<PyFloat>() {
        Ok(Val::Num(obj.extract::<f64>()?))
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{path}: keys must be str, got {}",
                    k.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                ))
            })?;
            let child = to_val(&v, &format!("{path}.{key}"), depth + 1)?;
            out.push((key, child));
        }
        Ok(Val::Map(out))
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            out.push(to_val(&item?, &format!("{path}[{i}]"), depth + 1)?);
        }
        Ok(Val::List(out))
    } else if obj.hasattr("items")? {
        // Any other mapping (e.g. os.environ): through dict().
        let d = PyDict::new(obj.py());
        d.update(&obj.cast::<pyo3::types::PyMapping>()?.clone())?;
        to_val(d.as_any(), path, depth)
    } else {
        Err(PyTypeError::new_err(format!(
            "{path}: expected str, int, float, bool, None, a dict or a list, got {}",
            obj.get_type().name()?
        )))
    }
}

/// Keys a VM object (the conformance shape) may have.
const VM_KEYS: [&str; 9] = [
    "ID",
    "STATE",
    "LCM_STATE",
    "USER_TEMPLATE",
    "MONITORING",
    "POOL_MONITORING",
    "TEMPLATE",
    "ROOT",
    "IN_POOL",
];

/// One VM of a role: a conformance-shape object or `{"VM": {...}}`.
#[derive(Clone, Debug)]
enum Vm {
    Case { doc: Val, index: usize },
    OpenNebula { vm: Val },
}

pub(crate) fn kind(v: &Val) -> &'static str {
    match v {
        Val::Null => "None",
        Val::Bool(_) => "a bool",
        Val::Int(_) | Val::Num(_) => "a number",
        Val::Str(_) => "a str",
        Val::List(_) => "a list",
        Val::Map(_) => "a dict",
    }
}

fn vm_from(doc: Val, index: usize, path: &str) -> PyResult<Vm> {
    let Val::Map(entries) = &doc else {
        return Err(ConfigError::new_err(format!(
            "{path}: expected a VM dict, got {}",
            kind(&doc)
        )));
    };
    if let [(key, vm)] = entries.as_slice() {
        if key == "VM" {
            return match vm {
                Val::Map(_) => Ok(Vm::OpenNebula { vm: vm.clone() }),
                other => Err(ConfigError::new_err(format!(
                    "{path}.VM: expected a dict, got {}",
                    kind(other)
                ))),
            };
        }
    }
    for (key, v) in entries {
        match (key.as_str(), v) {
            ("IN_POOL", Val::Bool(_)) | ("ROOT", Val::Map(_)) => {}
            ("IN_POOL", other) => {
                return Err(ConfigError::new_err(format!(
                    "{path}.IN_POOL: expected True or False, got {}",
                    kind(other)
                )))
            }
            ("ROOT", other) => {
                return Err(ConfigError::new_err(format!(
                    "{path}.ROOT: expected a dict of extra /VM attributes, got {}",
                    kind(other)
                )))
            }
            (k, _) if VM_KEYS.contains(&k) => {}
            (k, _) => {
                return Err(ConfigError::new_err(format!(
                    "{path}.{k}: unknown key; allowed: {} (or a single \"VM\" key holding an OpenNebula VM document)",
                    VM_KEYS.join(", ")
                )))
            }
        }
    }
    Ok(Vm::Case { doc, index })
}

/// `section[name]` as Ruby evaluates it on the XML-to-hash value.
fn get_in<'v>(section: Option<&'v Val>, name: &str, absent: Lookup<'v>) -> Lookup<'v> {
    match section {
        None => absent,
        Some(Val::Map(_)) => value_lookup(section.and_then(|s| s.get(name))),
        Some(Val::Null) | Some(Val::Bool(_)) => Lookup::NoSection,
        // String#[](str): the substring itself when it occurs, else nil.
        Some(Val::Str(s)) => match s.find(name) {
            Some(at) => s
                .get(at..at + name.len())
                .map_or(Lookup::Missing, Lookup::Text),
            None => Lookup::Missing,
        },
        Some(Val::List(_)) | Some(Val::Int(_)) | Some(Val::Num(_)) => Lookup::BadSection,
    }
}

fn value_lookup(v: Option<&Val>) -> Lookup<'_> {
    match v {
        None | Some(Val::Null) | Some(Val::Bool(false)) => Lookup::Missing,
        Some(Val::Bool(true)) => Lookup::NotNumeric,
        Some(Val::Str(s)) => Lookup::Text(s),
        Some(Val::Int(i)) => Lookup::Number(*i as f64),
        Some(Val::Num(n)) => Lookup::Number(*n),
        Some(Val::Map(m)) if m.is_empty() => Lookup::Empty,
        Some(Val::Map(_)) => Lookup::Nested,
        Some(Val::List(_)) => Lookup::Array,
    }
}

fn is_three(v: Option<&Val>) -> bool {
    matches!(v, Some(Val::Str(s)) if s == "3")
}

impl VmView for Vm {
    fn is_running(&self) -> bool {
        match self {
            Vm::OpenNebula { vm } => is_three(vm.get("STATE")) && is_three(vm.get("LCM_STATE")),
            Vm::Case { doc, .. } => {
                let in_pool = !matches!(doc.get("IN_POOL"), Some(Val::Bool(false)));
                let state = |k: &str| doc.get(k).is_none_or(|v| is_three(Some(v)));
                in_pool && state("STATE") && state("LCM_STATE")
            }
        }
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        match self {
            Vm::OpenNebula { vm } => match section {
                Section::UserTemplate => get_in(vm.get("USER_TEMPLATE"), name, Lookup::NoSection),
                Section::Monitoring => get_in(vm.get("MONITORING"), name, Lookup::NoSection),
                Section::Template => get_in(vm.get("TEMPLATE"), name, Lookup::NoSection),
                _ => value_lookup(vm.get(name)),
            },
            Vm::Case { doc, index } => match section {
                Section::UserTemplate => get_in(doc.get("USER_TEMPLATE"), name, Lookup::Missing),
                // MONITORING, when present, replaces the pool's monitoring.
                Section::Monitoring => match doc.get("MONITORING") {
                    Some(m) => get_in(Some(m), name, Lookup::Missing),
                    None => get_in(doc.get("POOL_MONITORING"), name, Lookup::Missing),
                },
                Section::Template => get_in(doc.get("TEMPLATE"), name, Lookup::Missing),
                _ => case_root(doc, *index, name),
            },
        }
    }
}

/// `/VM[name]` of a conformance-shape VM: the `ROOT` extras, then the
/// elements every VM document has.
fn case_root<'v>(doc: &'v Val, index: usize, name: &str) -> Lookup<'v> {
    if let Some(v) = doc.get("ROOT").and_then(|r| r.get(name)) {
        return value_lookup(Some(v));
    }
    match name {
        "ID" => match doc.get("ID") {
            Some(v) => value_lookup(Some(v)),
            None => Lookup::Number(index as f64),
        },
        "STATE" | "LCM_STATE" => match doc.get(name) {
            Some(v) => value_lookup(Some(v)),
            None => Lookup::Text("3"),
        },
        "NAME" => Lookup::Text("stamen-vm"),
        "USER_TEMPLATE" | "TEMPLATE" | "MONITORING" => {
            let v = if name == "MONITORING" && doc.get("MONITORING").is_none() {
                doc.get("POOL_MONITORING")
            } else {
                doc.get(name)
            };
            v.map_or(Lookup::Empty, |v| value_lookup(Some(v)))
        }
        _ => Lookup::Missing,
    }
}

/// Builds the role's VMs from `vars` (one RUNNING VM with that USER_TEMPLATE)
/// or `vms` (a list of VM dicts).
fn role_vms(vars: Option<&Bound<'_, PyAny>>, vms: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Vm>> {
    match (vars, vms) {
        (Some(_), Some(_)) => Err(ConfigError::new_err(
            "pass either vars (one VM's USER_TEMPLATE) or vms (the role's VMs), not both",
        )),
        (Some(vars), None) => {
            let ut = to_val(vars, "vars", 0)?;
            if !matches!(ut, Val::Map(_)) {
                return Err(PyTypeError::new_err(
                    "vars must be a mapping of attribute names to values",
                ));
            }
            Ok(vec![Vm::Case {
                doc: Val::Map(vec![("USER_TEMPLATE".to_owned(), ut)]),
                index: 0,
            }])
        }
        (None, Some(vms)) => {
            let list = to_val(vms, "vms", 0)?;
            let items = match list {
                Val::List(items) => items,
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "vms must be a list of VM dicts, got {}",
                        kind(&other)
                    )))
                }
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, doc)| vm_from(doc, i, &format!("vms[{i}]")))
                .collect()
        }
        (None, None) => Ok(Vec::new()),
    }
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
    fn run(&self, py: Python<'_>, vms: Vec<Vm>) -> PyResult<Evaluation> {
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
        let vms = role_vms(vars, vms)?;
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
    let vms = role_vms(vars, vms)?;
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
