//! Evaluating elasticity expressions for the policy engine: JSON VM documents
//! (the `vars` / `vms` of the conformance vectors, see
//! `tests/vectors/oneflow/README.md`) seen through `stamen_core::expr::VmView`,
//! and the core `Evaluator` that parses, averages and traces like OneFlow.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use stamen_core::expr::{
    AvgError, EvalError as ExprEvalError, Expr, Lookup, ParseError, Section, VmResolver, VmView,
};
use stamen_core::policy::{EvalError, Evaluator, RubyException};

use crate::policydoc::TRACE_CAPACITY;

/// Nodes an expression may have.
const EXPR_NODES: usize = 256;

/// One VM document.
#[derive(Debug, Clone)]
pub struct JsonVm {
    doc: Map<String, Value>,
    index: usize,
}

fn lookup_in<'a>(section: Option<&'a Value>, name: &str, absent: Lookup<'a>) -> Lookup<'a> {
    match section {
        None => absent,
        Some(Value::Null) => Lookup::NoSection,
        Some(Value::Object(m)) => match m.get(name) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Lookup::Missing,
            Some(Value::String(s)) => Lookup::Text(s),
            Some(Value::Number(n)) => n.as_f64().map_or(Lookup::NotNumeric, Lookup::Number),
            Some(Value::Object(o)) if o.is_empty() => Lookup::Empty,
            Some(Value::Object(_)) => Lookup::Nested,
            Some(Value::Array(_)) => Lookup::Array,
            Some(Value::Bool(true)) => Lookup::NotNumeric,
        },
        Some(_) => Lookup::BadSection,
    }
}

impl VmView for JsonVm {
    fn is_running(&self) -> bool {
        if self.doc.get("IN_POOL") == Some(&Value::Bool(false)) {
            return false;
        }
        let state = |k: &str| match self.doc.get(k) {
            None => true,
            Some(Value::String(s)) => s == "3",
            Some(_) => false,
        };
        state("STATE") && state("LCM_STATE")
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        match section {
            Section::UserTemplate => {
                lookup_in(self.doc.get("USER_TEMPLATE"), name, Lookup::Missing)
            }
            Section::Monitoring => match self.doc.get("MONITORING") {
                Some(m) => lookup_in(Some(m), name, Lookup::Missing),
                None => lookup_in(self.doc.get("POOL_MONITORING"), name, Lookup::Missing),
            },
            Section::Template => lookup_in(self.doc.get("TEMPLATE"), name, Lookup::Missing),
            Section::Root => match name {
                // Every /VM has these; the vectors default them (ID: the VM's
                // position, NAME: a non-numeric text, STATE/LCM_STATE: "3").
                "ID" | "NAME" | "STATE" | "LCM_STATE" => match self.doc.get(name) {
                    Some(Value::String(s)) => Lookup::Text(s),
                    Some(Value::Number(n)) => n.as_f64().map_or(Lookup::NotNumeric, Lookup::Number),
                    Some(_) => Lookup::NotNumeric,
                    None => match name {
                        "ID" => Lookup::Number(self.index as f64),
                        "NAME" => Lookup::Text("vm"),
                        _ => Lookup::Text("3"),
                    },
                },
                _ => lookup_in(self.doc.get("ROOT"), name, Lookup::Missing),
            },
            _ => Lookup::Missing,
        }
    }
}

/// Evaluates expressions over one tick's VMs.
#[derive(Debug, Clone)]
pub struct VmsEvaluator {
    vms: Vec<JsonVm>,
    error: Option<String>,
}

fn ruby_exception(e: AvgError) -> RubyException {
    RubyException {
        class: e.ruby_class(),
        message: e.ruby_message(),
    }
}

impl VmsEvaluator {
    /// VMs from a tick object: `vars` (one RUNNING VM with that USER_TEMPLATE)
    /// or `vms` (a list of VM objects). Neither means no VMs.
    pub fn from_tick(tick: &Value) -> Result<Self, String> {
        let vms = match (tick.get("vars"), tick.get("vms")) {
            (Some(_), Some(_)) => return Err("give either vars or vms, not both".into()),
            (Some(Value::Object(vars)), None) => {
                let mut doc = Map::new();
                doc.insert("USER_TEMPLATE".into(), Value::Object(vars.clone()));
                vec![JsonVm { doc, index: 0 }]
            }
            (Some(other), None) => return Err(format!("vars: expected an object, got {other}")),
            (None, Some(Value::Array(list))) => list
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(doc) => Ok(JsonVm {
                        doc: doc.clone(),
                        index: i,
                    }),
                    other => Err(format!("vms[{i}]: expected an object, got {other}")),
                })
                .collect::<Result<_, _>>()?,
            (None, Some(other)) => return Err(format!("vms: expected an array, got {other}")),
            (None, None) => Vec::new(),
        };
        Ok(VmsEvaluator { vms, error: None })
    }

    /// OneFlow's average of attribute `name` (upper-cased like an expression
    /// name); `Ok(None)` when no RUNNING VM has it.
    pub fn average(&self, name: &str) -> Result<Option<f64>, String> {
        let upper = name.to_uppercase();
        stamen_core::expr::average(self.vms.iter(), &upper).map_err(|e| e.to_string())
    }

    /// An error that is not OneFlow's (a capacity limit), left by the last
    /// evaluation.
    pub fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }
}

impl Evaluator<TRACE_CAPACITY> for VmsEvaluator {
    fn evaluate(
        &mut self,
        expression: &str,
        trace: &mut heapless::String<TRACE_CAPACITY>,
    ) -> Result<bool, EvalError> {
        trace.clear();
        let parsed = match Expr::<'_, EXPR_NODES>::parse(expression) {
            Ok(e) => e,
            Err(ParseError::Syntax(e)) => {
                write!(trace, "{}", e.oneflow_trace()).map_err(|_| EvalError::Capacity)?;
                return Ok(false);
            }
            Err(ParseError::Empty) => return Ok(false),
            Err(other) => {
                self.error = Some(format!("expression {expression:?}: {other}"));
                return Err(EvalError::Capacity);
            }
        };
        let mut resolver = VmResolver::new(&self.vms);
        match parsed.eval_traced(&mut resolver, trace) {
            Ok(v) => Ok(v),
            Err(ExprEvalError::Resolve(e)) => Err(EvalError::Exception(ruby_exception(e))),
            Err(_) => {
                self.error = Some(format!(
                    "trace of {expression:?} exceeds {TRACE_CAPACITY} bytes"
                ));
                Err(EvalError::Capacity)
            }
        }
    }
}
