//! Evaluating elasticity expressions for the policy engine: the VMs of a tick
//! (`vars` / `vms`, read with [`crate::vmdoc`]) and the core `Evaluator` that
//! parses, averages and traces like OneFlow.

use serde_json::{json, Value};
use stamen_core::expr::{scale_rule, AvgError, RuleError, RuleOutcome, VmResolver};
use stamen_core::policy::{EvalError, Evaluator, RubyException};

use crate::policydoc::TRACE_CAPACITY;
use crate::vmdoc::VmDoc;

/// Nodes an expression may have.
const EXPR_NODES: usize = 256;

/// Evaluates expressions over one tick's VMs.
#[derive(Debug, Clone)]
pub struct VmsEvaluator {
    /// The VM documents, as a JSON array (checked by `VmDoc::list`).
    vms: Value,
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
            (Some(vars @ Value::Object(_)), None) => json!([{ "USER_TEMPLATE": vars }]),
            (Some(other), None) => return Err(format!("vars: expected an object, got {other}")),
            (None, Some(list)) => list.clone(),
            (None, None) => json!([]),
        };
        VmDoc::list(&vms, "vms").map_err(|e| e.to_string())?;
        Ok(VmsEvaluator { vms, error: None })
    }

    fn docs(&self) -> Vec<VmDoc<'_>> {
        // Checked in `from_tick`.
        VmDoc::list(&self.vms, "vms").unwrap_or_default()
    }

    /// OneFlow's average of attribute `name` (upper-cased like an expression
    /// name); `Ok(None)` when no RUNNING VM has it.
    pub fn average(&self, name: &str) -> Result<Option<f64>, String> {
        let upper = name.to_uppercase();
        stamen_core::expr::average(self.docs().iter(), &upper).map_err(|e| e.to_string())
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
        let docs = self.docs();
        let mut resolver = VmResolver::new(&docs);
        match scale_rule::<_, _, EXPR_NODES>(Some(expression), &mut resolver, trace) {
            Ok(RuleOutcome::Evaluated(v)) => Ok(v),
            // The trace holds OneFlow's parse-error text; empty never reaches here.
            Ok(_) => Ok(false),
            Err(RuleError::Resolve(e)) => Err(EvalError::Exception(ruby_exception(e))),
            Err(other) => {
                self.error = Some(format!("expression {expression:?}: {other}"));
                Err(EvalError::Capacity)
            }
        }
    }
}
