//! OneFlow policies: `new_cardinality` and `lint_policy` over Python dicts
//! (OneFlow's JSON shapes; integers read with Ruby's `to_i`).
use crate::errors::{self, PolicyError};
use crate::expr::{kind, to_val, Val};
use pyo3::prelude::*;
use pyo3::types::PyString;
use stamen_core::policy::lint::{
    lint_role, Finding, LintOptions, LintRole, LintScheduled, RoleRef,
};
use stamen_core::policy::ruby::{float_to_i, str_to_i};
use stamen_core::policy::time::TimeError;
use stamen_core::policy::{
    new_cardinality as core_new_cardinality, Adjustment, AdjustmentType, Bounds, CronError,
    ElasticityPolicy, Inert, RubyException, Schedule,
};

fn doc_error(path: &str, message: impl std::fmt::Display) -> PyErr {
    PolicyError::new_err(format!("{path}: {message}"))
}

/// Ruby's class name of a value, for messages.
fn ruby_class(v: &Val) -> &'static str {
    match v {
        Val::Null => "nil",
        Val::Bool(true) => "true",
        Val::Bool(false) => "false",
        Val::Int(_) => "Integer",
        Val::Num(_) => "Float",
        Val::Str(_) => "String",
        Val::List(_) => "Array",
        Val::Map(_) => "Hash",
    }
}

/// Ruby `to_i` (`nil` → 0); values without `to_i` are errors (OneFlow crashes).
fn to_i(v: Option<&Val>, path: &str) -> PyResult<i64> {
    match v {
        None | Some(Val::Null) => Ok(0),
        Some(Val::Int(i)) => Ok(*i),
        Some(Val::Num(x)) => {
            if x.fract() == 0.0 && x.abs() < 9.2e18 {
                Ok(*x as i64)
            } else {
                float_to_i(*x).ok_or_else(|| doc_error(path, "number out of range"))
            }
        }
        Some(Val::Str(s)) => Ok(str_to_i(s)),
        Some(other) => Err(doc_error(
            path,
            format!(
                "expected a number or numeric string, got {} (OneFlow would crash: NoMethodError, undefined method `to_i')",
                ruby_class(other)
            ),
        )),
    }
}

fn opt_to_i(v: Option<&Val>, path: &str) -> PyResult<Option<i64>> {
    match v {
        None | Some(Val::Null) => Ok(None),
        some => to_i(some, path).map(Some),
    }
}

fn opt_str<'v>(v: Option<&'v Val>, path: &str) -> PyResult<Option<&'v str>> {
    match v {
        None | Some(Val::Null) => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s)),
        Some(other) => Err(doc_error(
            path,
            format!(
                "must be a string, got {} (OneFlow would crash on it)",
                ruby_class(other)
            ),
        )),
    }
}

fn object<'v>(v: &'v Val, path: &str) -> PyResult<&'v Val> {
    match v {
        Val::Map(_) => Ok(v),
        other => Err(doc_error(
            path,
            format!("expected a dict, got {}", kind(other)),
        )),
    }
}

/// Methods OneFlow calls on policy fields.
#[derive(Clone, Copy)]
enum RubyMethod {
    ToI,
    Upcase,
    Empty,
    Match,
}

/// The `NoMethodError` OneFlow raises calling `method` on `v` (current Ruby
/// wording: "undefined method 'to_i' for true", "… for an instance of Array").
fn no_method(method: RubyMethod, v: &Val) -> RubyException {
    macro_rules! table {
        ($name:literal) => {
            match v {
                Val::Null => concat!("undefined method '", $name, "' for nil"),
                Val::Bool(true) => concat!("undefined method '", $name, "' for true"),
                Val::Bool(false) => concat!("undefined method '", $name, "' for false"),
                Val::Int(_) => concat!("undefined method '", $name, "' for an instance of Integer"),
                Val::Num(_) => concat!("undefined method '", $name, "' for an instance of Float"),
                Val::Str(_) => concat!("undefined method '", $name, "' for an instance of String"),
                Val::List(_) => concat!("undefined method '", $name, "' for an instance of Array"),
                Val::Map(_) => concat!("undefined method '", $name, "' for an instance of Hash"),
            }
        };
    }
    let message = match method {
        RubyMethod::ToI => table!("to_i"),
        RubyMethod::Upcase => table!("upcase"),
        RubyMethod::Empty => table!("empty?"),
        RubyMethod::Match => table!("match"),
    };
    RubyException {
        class: "NoMethodError",
        message,
    }
}

fn has_to_i(v: Option<&Val>) -> bool {
    matches!(
        v,
        None | Some(Val::Null | Val::Int(_) | Val::Num(_) | Val::Str(_))
    )
}

/// Type/adjust/min_adjust_step. Values OneFlow cannot convert make the policy
/// crash when it fires (`AdjustmentType::Crash`), in OneFlow's order:
/// `adjust.to_i`, `type.upcase`, then (PERCENTAGE_CHANGE only)
/// `min_adjust_step.to_i`.
fn adjustment(p: &Val, path: &str) -> PyResult<Adjustment> {
    let crash = |e| Adjustment {
        kind: AdjustmentType::Crash(e),
        adjust: 0,
        min_adjust_step: 0,
    };
    let adjust = p.get("adjust");
    if !has_to_i(adjust) {
        return Ok(crash(no_method(
            RubyMethod::ToI,
            adjust.unwrap_or(&Val::Null),
        )));
    }
    let kind = match p.get("type") {
        None | Some(Val::Null) => AdjustmentType::Missing,
        Some(Val::Str(name)) => AdjustmentType::from_name(Some(name)),
        Some(other) => return Ok(crash(no_method(RubyMethod::Upcase, other))),
    };
    let step = p.get("min_adjust_step");
    let min_adjust_step = match (kind, has_to_i(step)) {
        (_, true) => to_i(step, &format!("{path}.min_adjust_step"))?,
        (AdjustmentType::PercentageChange, false) => {
            return Ok(crash(no_method(
                RubyMethod::ToI,
                step.unwrap_or(&Val::Null),
            )))
        }
        // Only PERCENTAGE_CHANGE reads it.
        (_, false) => 0,
    };
    Ok(Adjustment {
        kind,
        adjust: to_i(adjust, &format!("{path}.adjust"))?,
        min_adjust_step,
    })
}

/// `start_time` / `recurrence` as OneFlow's `scale_time?` reads them: strings
/// as usual; empty lists/dicts count as empty; numbers and booleans crash
/// OneFlow (`empty?`), a non-empty list/dict `start_time` crashes it (`match`)
/// and a non-empty list/dict `recurrence` fails the cron parser (rescued:
/// never fires).
fn schedule_of(start: Option<&Val>, recurrence: Option<&Val>) -> Result<Schedule, TimeError> {
    let empty = |v: &Val| match v {
        Val::Null => true,
        Val::Str(s) => s.is_empty(),
        Val::List(a) => a.is_empty(),
        Val::Map(o) => o.is_empty(),
        _ => false,
    };
    match start {
        Some(Val::Str(s)) if !s.is_empty() => return Schedule::from_fields(Some(s), None),
        Some(v @ (Val::Int(_) | Val::Num(_) | Val::Bool(_))) => {
            return Ok(Schedule::Crash(no_method(RubyMethod::Empty, v)))
        }
        Some(v @ (Val::List(_) | Val::Map(_))) if !empty(v) => {
            return Ok(Schedule::Crash(no_method(RubyMethod::Match, v)))
        }
        _ => {}
    }
    match recurrence {
        Some(Val::Str(r)) => Schedule::from_fields(None, Some(r)),
        Some(v @ (Val::Int(_) | Val::Num(_) | Val::Bool(_))) => {
            Ok(Schedule::Crash(no_method(RubyMethod::Empty, v)))
        }
        Some(v @ (Val::List(_) | Val::Map(_))) if !empty(v) => {
            Ok(Schedule::Never(Inert::Cron(CronError::FieldCount)))
        }
        _ => Ok(Schedule::Never(Inert::NoSchedule)),
    }
}

fn bounds(role: &Val, path: &str) -> PyResult<Bounds> {
    Ok(Bounds {
        cardinality: to_i(role.get("cardinality"), &format!("{path}.cardinality"))?,
        min_vms: opt_to_i(role.get("min_vms"), &format!("{path}.min_vms"))?,
        max_vms: opt_to_i(role.get("max_vms"), &format!("{path}.max_vms"))?,
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
    let role = to_val(role, "role", 0)?;
    let policy = to_val(policy, "policy", 0)?;
    let b = bounds(object(&role, "role")?, "role")?;
    let a = adjustment(object(&policy, "policy")?, "policy")?;
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

/// An elasticity policy read from the document (owns its expression).
struct ElasticityIn {
    expression: Option<String>,
    adjustment: Adjustment,
    period: i64,
    period_number: i64,
    cooldown: Option<i64>,
}

/// A role read from the document, owning everything the lint borrows.
struct RoleIn {
    role_ref: RoleRef,
    name: Option<String>,
    bounds: Bounds,
    cooldown: Option<i64>,
    elasticity: Vec<ElasticityIn>,
    scheduled: Vec<LintScheduled>,
}

fn policies<'v>(role: &'v Val, key: &str, path: &str) -> PyResult<&'v [Val]> {
    match role.get(key) {
        None | Some(Val::Null) => Ok(&[]),
        Some(Val::List(items)) => Ok(items),
        Some(other) => Err(doc_error(
            &format!("{path}.{key}"),
            format!("must be a list, got {}", kind(other)),
        )),
    }
}

fn read_role(v: &Val, path: &str, role_ref: RoleRef) -> PyResult<RoleIn> {
    let r = object(v, path)?;
    let mut elasticity = Vec::new();
    for (i, p) in policies(r, "elasticity_policies", path)?.iter().enumerate() {
        let pp = format!("{path}.elasticity_policies[{i}]");
        let p = object(p, &pp)?;
        elasticity.push(ElasticityIn {
            expression: opt_str(p.get("expression"), &format!("{pp}.expression"))?
                .map(str::to_owned),
            adjustment: adjustment(p, &pp)?,
            period: to_i(p.get("period"), &format!("{pp}.period"))?,
            period_number: to_i(p.get("period_number"), &format!("{pp}.period_number"))?,
            cooldown: opt_to_i(p.get("cooldown"), &format!("{pp}.cooldown"))?,
        });
    }
    let mut scheduled = Vec::new();
    for (i, p) in policies(r, "scheduled_policies", path)?.iter().enumerate() {
        let pp = format!("{path}.scheduled_policies[{i}]");
        let p = object(p, &pp)?;
        scheduled.push(LintScheduled {
            adjustment: match p.get("adjust") {
                None | Some(Val::Null) => None,
                Some(_) => Some(adjustment(p, &pp)?),
            },
            schedule: schedule_of(p.get("start_time"), p.get("recurrence")),
            cooldown: opt_to_i(p.get("cooldown"), &format!("{pp}.cooldown"))?,
        });
    }
    Ok(RoleIn {
        role_ref,
        name: opt_str(r.get("name"), &format!("{path}.name"))?.map(str::to_owned),
        bounds: bounds(r, path)?,
        cooldown: opt_to_i(r.get("cooldown"), &format!("{path}.cooldown"))?,
        elasticity,
        scheduled,
    })
}

fn lint_all(roles: &[RoleIn], opts: &LintOptions<'_>) -> Vec<LintFinding> {
    let mut out = Vec::new();
    for role in roles {
        let elasticity: Vec<ElasticityPolicy<'_>> = role
            .elasticity
            .iter()
            .map(|p| ElasticityPolicy {
                expression: p.expression.as_deref(),
                adjustment: p.adjustment,
                period: p.period,
                period_number: p.period_number,
                cooldown: p.cooldown,
            })
            .collect();
        let lr = LintRole {
            name: role.name.as_deref(),
            cardinality: role.bounds.cardinality,
            min_vms: role.bounds.min_vms,
            max_vms: role.bounds.max_vms,
            cooldown: role.cooldown,
            elasticity: &elasticity,
            scheduled: &role.scheduled,
        };
        lint_role(role.role_ref, &lr, opts, &mut |f| {
            out.push(LintFinding::from(f))
        });
    }
    out
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
    let doc = to_val(doc, "$", 0)?;
    let body = doc
        .get("DOCUMENT")
        .and_then(|d| d.get("TEMPLATE"))
        .and_then(|t| t.get("BODY"))
        .unwrap_or(&doc);
    let roles = match body.get("roles") {
        Some(Val::List(roles)) => roles
            .iter()
            .enumerate()
            .map(|(i, r)| read_role(r, &format!("$.roles[{i}]"), RoleRef::Index(i)))
            .collect::<PyResult<Vec<_>>>()?,
        Some(other) => {
            return Err(doc_error(
                "$.roles",
                format!("must be a list, got {}", kind(other)),
            ))
        }
        None => vec![read_role(body, "$", RoleRef::Root)?],
    };
    Ok(py.detach(move || {
        let extra: Vec<&str> = extra_attributes.iter().map(String::as_str).collect();
        let opts = LintOptions {
            min_fit_clients,
            round_seconds,
            extra_attributes: &extra,
        };
        lint_all(&roles, &opts)
    }))
}
