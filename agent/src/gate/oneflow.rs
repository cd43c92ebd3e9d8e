//! [`OneFlowEngine`]: the gate's [`Autoscaler`] backed by stamen-core's
//! OneFlow policy engine (`stamen_core::policy`) and expression evaluator.
//!
//! OneFlow keeps each policy's runtime keys (`last_eval`, `true_evals`,
//! `expression_evaluated`) and the role's `cooldown` in the role document
//! between passes; this adapter keeps them per role, rebuilds the core
//! engine from the service file's policies on every pass, and stores the
//! updated keys back. Policy numbers are read with Ruby's `to_i`, as OneFlow
//! does.

use super::autoscale::{Autoscaler, Decision, PolicyKeys, PolicyKind, RoleInput};
use super::model::Vm;
use serde_json::Value;
use stamen_core::policy::engine::{ElasticityState, ScheduledState, Trace};
use stamen_core::policy::ruby::{float_to_i, str_to_i};
use stamen_core::policy::{
    Adjustment, AdjustmentType, Bounds, ElasticityPolicy, EvalError, Evaluator, Inert, Schedule,
    ScheduledPolicy, DEFAULT_COOLDOWN,
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

/// Ruby's `to_i` on a JSON value: integers as they are, floats truncated,
/// strings by their leading integer, anything else 0.
pub fn json_to_i(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(float_to_i))
            .unwrap_or(0),
        Some(Value::String(s)) => str_to_i(s),
        _ => 0,
    }
}

fn json_str(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn adjustment(p: &Value) -> Adjustment {
    Adjustment {
        kind: AdjustmentType::from_name(p.get("type").and_then(Value::as_str)),
        adjust: json_to_i(p.get("adjust")),
        min_adjust_step: json_to_i(p.get("min_adjust_step")),
    }
}

fn cooldown_of(p: &Value) -> Option<i64> {
    match p.get("cooldown") {
        None | Some(Value::Null) => None,
        c => Some(json_to_i(c)),
    }
}

/// Reads an elasticity policy of the service file.
pub fn elasticity_policy(p: &Value) -> ElasticityPolicy<'_> {
    ElasticityPolicy {
        expression: p.get("expression").and_then(Value::as_str),
        adjustment: adjustment(p),
        period: json_to_i(p.get("period")),
        period_number: json_to_i(p.get("period_number")),
        cooldown: cooldown_of(p),
    }
}

/// Reads a scheduled policy of the service file. A `start_time` in a date
/// format OneFlow's `Time.parse` might read differently is an error.
pub fn scheduled_policy(p: &Value) -> Result<ScheduledPolicy, String> {
    let start = json_str(p.get("start_time"));
    let rec = json_str(p.get("recurrence"));
    let schedule = Schedule::from_fields(start.as_deref(), rec.as_deref())
        .map_err(|e| format!("start_time {:?}: {e}", start.unwrap_or_default()))?;
    Ok(ScheduledPolicy {
        adjustment: p.get("adjust").map(|_| adjustment(p)),
        schedule,
        cooldown: cooldown_of(p),
    })
}

/// Checks the policies of a role the way the engine will read them.
pub fn check_policies(elasticity: &[Value], scheduled: &[Value]) -> Result<(), String> {
    if elasticity.len() > MAX_POLICIES || scheduled.len() > MAX_POLICIES {
        return Err(format!(
            "at most {MAX_POLICIES} policies of each kind per role"
        ));
    }
    for (i, p) in elasticity.iter().enumerate() {
        if !p.is_object() {
            return Err(format!("elasticity_policies[{i}]: expected an object"));
        }
    }
    for (i, p) in scheduled.iter().enumerate() {
        if !p.is_object() {
            return Err(format!("scheduled_policies[{i}]: expected an object"));
        }
        scheduled_policy(p).map_err(|e| format!("scheduled_policies[{i}]: {e}"))?;
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
        let role_cooldown = i64::try_from(role.cooldown).unwrap_or(i64::MAX);
        let mut a = CoreAutoscaler::new(bounds, Some(role_cooldown), DEFAULT_COOLDOWN);
        let mut notes = Vec::new();
        for (p, st) in role.elasticity_policies.iter().zip(&rt.elasticity) {
            if a.add_elasticity(elasticity_policy(p), st.clone()).is_err() {
                notes.push(format!(
                    "more than {MAX_POLICIES} elasticity policies: the rest are ignored"
                ));
                break;
            }
        }
        for (i, (p, st)) in role
            .scheduled_policies
            .iter()
            .zip(&rt.scheduled)
            .enumerate()
        {
            let policy = scheduled_policy(p).unwrap_or_else(|e| {
                notes.push(format!("scheduled_policies[{i}] never fires: {e}"));
                ScheduledPolicy {
                    adjustment: None,
                    schedule: Schedule::Never(Inert::NoSchedule),
                    cooldown: None,
                }
            });
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
