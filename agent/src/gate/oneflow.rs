//! [`OneFlowEngine`]: the gate's [`Autoscaler`] backed by stamen-core's
//! OneFlow policy engine (`stamen_core::policy`) and expression evaluator.
//!
//! OneFlow keeps each policy's runtime keys (`last_eval`, `true_evals`,
//! `expression_evaluated`) and the role's `cooldown` in the role document
//! between passes; this adapter keeps them per role, rebuilds the core
//! engine from the service file's policies on every pass (read with
//! [`crate::policydoc`]: Ruby's `to_i` for numbers, as OneFlow does), and
//! stores the updated keys back.

use super::autoscale::{Autoscaler, Decision, PolicyKeys, PolicyKind, RoleInput};
use super::model::Vm;
use crate::policydoc::{elasticity_doc, scheduled_doc, ElasticityDoc, ScheduledDoc};
use serde_json::Value;
use stamen_core::policy::engine::{ElasticityState, ScheduledState, Trace};
use stamen_core::policy::{
    Bounds, ElasticityPolicy, EvalError, Evaluator, Inert, Schedule, ScheduledPolicy,
    DEFAULT_COOLDOWN,
};
use std::collections::BTreeMap;

/// Most policies of one kind per role.
pub const MAX_POLICIES: usize = 16;
/// Longest evaluation trace kept (bytes).
pub const TRACE_BYTES: usize = 1024;

type CoreAutoscaler<'a> = stamen_core::policy::engine::Autoscaler<'a, MAX_POLICIES, TRACE_BYTES>;

/// Runtime keys of one role, as OneFlow stores them in the role document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRuntime {
    /// Per elasticity policy: `last_eval`, `true_evals`, `expression_evaluated`.
    pub elasticity: Vec<ElasticityState<TRACE_BYTES>>,
    /// Per scheduled policy: `last_eval`.
    pub scheduled: Vec<ScheduledState>,
}

/// OneFlow's autoscaler, one role document at a time.
#[derive(Debug, Default)]
pub struct OneFlowEngine {
    roles: BTreeMap<String, RoleRuntime>,
}

impl OneFlowEngine {
    /// An engine with no history.
    pub fn new() -> OneFlowEngine {
        OneFlowEngine::default()
    }

    /// The runtime keys of a role (after at least one pass).
    pub fn runtime(&self, role: &str) -> Option<&RoleRuntime> {
        self.roles.get(role)
    }
}

/// Checks a role's policies the way the engine reads them (with
/// [`crate::policydoc`], the project's one reading of OneFlow documents:
/// Ruby `to_i` numbers, values OneFlow would crash on are errors).
/// `path` prefixes error locations, e.g. `roles[1]`.
pub fn check_policies(elasticity: &[Value], scheduled: &[Value], path: &str) -> Result<(), String> {
    if elasticity.len() > MAX_POLICIES || scheduled.len() > MAX_POLICIES {
        return Err(format!(
            "{path}: at most {MAX_POLICIES} policies of each kind per role"
        ));
    }
    for (i, p) in elasticity.iter().enumerate() {
        let at = format!("{path}.elasticity_policies[{i}]");
        elasticity_doc(p, &at).map_err(|e| e.to_string())?;
        strict_numbers(p, &at)?;
    }
    for (i, p) in scheduled.iter().enumerate() {
        let at = format!("{path}.scheduled_policies[{i}]");
        let d = scheduled_doc(p, &at).map_err(|e| e.to_string())?;
        if let Err(e) = d.schedule {
            return Err(format!("{at}.start_time: {e}"));
        }
    }
    Ok(())
}

/// The emulator is stricter than OneFlow, which accepts any JSON for `adjust`
/// and `min_adjust_step` and crashes only when the policy fires: a service file
/// with such a value is refused up front, naming the field.
fn strict_numbers(policy: &Value, path: &str) -> Result<(), String> {
    for key in ["adjust", "min_adjust_step"] {
        match policy.get(key) {
            None | Some(Value::Null) | Some(Value::Number(_)) => {}
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {}
            Some(other) => {
                return Err(format!(
                    "{path}.{key}: {other} is not an integer (allowed: a JSON integer or a string of digits)"
                ))
            }
        }
    }
    Ok(())
}

/// Evaluates expressions over a role's VMs with stamen-core's OneFlow
/// expression evaluator.
pub struct VmEvaluator<'a> {
    /// The role's VMs.
    pub vms: &'a [&'a Vm],
}

impl Evaluator<TRACE_BYTES> for VmEvaluator<'_> {
    fn evaluate(
        &mut self,
        expression: &str,
        trace: &mut heapless::String<TRACE_BYTES>,
    ) -> Result<bool, EvalError> {
        super::expr_eval::evaluate(expression, self.vms, trace)
    }
}

impl Autoscaler for OneFlowEngine {
    fn evaluate(&mut self, role: &RoleInput<'_>, now: u64) -> Decision {
        let rt = self.roles.entry(role.name.to_string()).or_default();
        rt.elasticity
            .resize(role.elasticity_policies.len(), ElasticityState::default());
        rt.scheduled
            .resize(role.scheduled_policies.len(), ScheduledState::default());
        let bounds = Bounds {
            cardinality: i64::from(role.cardinality),
            min_vms: Some(i64::from(role.min_vms)),
            max_vms: role.max_vms.map(i64::from),
        };
        let mut notes = Vec::new();
        let docs = role
            .elasticity_policies
            .iter()
            .map(|p| elasticity_doc(p, "elasticity_policies"))
            .collect::<Result<Vec<ElasticityDoc>, _>>()
            .and_then(|e| {
                role.scheduled_policies
                    .iter()
                    .map(|p| scheduled_doc(p, "scheduled_policies"))
                    .collect::<Result<Vec<ScheduledDoc>, _>>()
                    .map(|s| (e, s))
            });
        let (el_docs, sc_docs) = match docs {
            Ok(d) => d,
            Err(e) => {
                return Decision {
                    traces: vec![format!("policies not evaluated: {e}")],
                    ..Decision::default()
                }
            }
        };
        let role_cooldown = i64::try_from(role.cooldown).unwrap_or(i64::MAX);
        let mut a = CoreAutoscaler::new(bounds, Some(role_cooldown), DEFAULT_COOLDOWN);
        for (d, st) in el_docs.iter().zip(&rt.elasticity) {
            let policy = ElasticityPolicy {
                expression: d.expression.as_deref(),
                adjustment: d.adjustment,
                period: d.period,
                period_number: d.period_number,
                cooldown: d.cooldown,
            };
            if a.add_elasticity(policy, st.clone()).is_err() {
                notes.push(format!(
                    "more than {MAX_POLICIES} elasticity policies: the rest are ignored"
                ));
                break;
            }
        }
        for (i, (d, st)) in sc_docs.iter().zip(&rt.scheduled).enumerate() {
            let schedule = d.schedule.unwrap_or_else(|e| {
                notes.push(format!("scheduled_policies[{i}] never fires: {e}"));
                Schedule::Never(Inert::NoSchedule)
            });
            let policy = ScheduledPolicy {
                adjustment: d.adjustment,
                schedule,
                cooldown: d.cooldown,
            };
            if a.add_scheduled(policy, *st).is_err() {
                notes.push(format!(
                    "more than {MAX_POLICIES} scheduled policies: the rest are ignored"
                ));
                break;
            }
        }
        let now_i = i64::try_from(now).unwrap_or(i64::MAX);
        let mut eval = VmEvaluator { vms: &role.vms };
        let result = a.scale(now_i, &mut eval);
        let mut traces = notes;
        let decision = match result {
            Ok(d) => {
                // A non-zero decision writes its cooldown into the role even
                // when the new cardinality is then refused.
                let _ = a.apply(&d, false);
                Decision {
                    diff: d.diff,
                    cooldown: d.cooldown.map(|c| u64::try_from(c).unwrap_or(0)),
                    traces: Vec::new(),
                }
            }
            Err(e) => {
                traces.push(format!("OneFlow would fail this pass: {e}"));
                Decision::default()
            }
        };
        for (i, e) in a.elasticity.iter().enumerate() {
            if e.state.last_eval == Some(now_i) {
                let t = match &e.state.expression_evaluated {
                    Trace::Text(t) => t.as_str().to_string(),
                    Trace::Null => "(empty expression)".to_string(),
                    Trace::Absent => continue,
                };
                let n = e.policy.period_number.max(1);
                traces.push(format!(
                    "elasticity_policies[{i}]: {t} (true_evals {}/{n})",
                    e.state.true_evals.unwrap_or(0)
                ));
            }
        }
        for (dst, src) in rt.elasticity.iter_mut().zip(a.elasticity.iter()) {
            *dst = src.state.clone();
        }
        for (dst, src) in rt.scheduled.iter_mut().zip(a.scheduled.iter()) {
            *dst = src.state;
        }
        Decision {
            traces: [traces, decision.traces].concat(),
            ..decision
        }
    }

    fn runtime_keys(&self, role: &str) -> Vec<PolicyKeys> {
        let Some(rt) = self.roles.get(role) else {
            return Vec::new();
        };
        let el = rt
            .elasticity
            .iter()
            .enumerate()
            .map(|(index, st)| PolicyKeys {
                kind: PolicyKind::Elasticity,
                index,
                last_eval: st.last_eval,
                true_evals: st.true_evals,
                expression_evaluated: match &st.expression_evaluated {
                    Trace::Absent => None,
                    Trace::Null => Some(None),
                    Trace::Text(t) => Some(Some(t.as_str().to_string())),
                },
            });
        let sc = rt
            .scheduled
            .iter()
            .enumerate()
            .map(|(index, st)| PolicyKeys {
                kind: PolicyKind::Scheduled,
                index,
                last_eval: st.last_eval,
                true_evals: None,
                expression_evaluated: None,
            });
        el.chain(sc).collect()
    }

    fn role_scaled(&mut self, role: &str) {
        if let Some(rt) = self.roles.get_mut(role) {
            for st in &mut rt.elasticity {
                st.true_evals = None;
            }
        }
    }
}
