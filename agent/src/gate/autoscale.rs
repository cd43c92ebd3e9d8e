//! OneFlow's autoscaler loop over the emulated service.
//!
//! Every period the gate runs one pass, like OneFlow's `ServiceAutoScaler`:
//! only while the service is RUNNING (a role in COOLDOWN holds the whole
//! service), for each role in order it asks the policy engine for
//! `diff, cooldown`, logs the evaluation traces (`FL_CLIENT_STATUS[2.0] > 1.5`),
//! and when `diff ≠ 0` sets the cardinality to `card + diff` (OneFlow's
//! `Role#update` bounds apply), creates/removes VMs, starts the cooldown and
//! tells the engine to clear its policies' counters.
//!
//! The policy engine sits behind the small [`Autoscaler`] trait so the loop,
//! the VM bookkeeping and the hooks do not depend on how policies are
//! evaluated.

use super::model::{State, Vm, VmEvent, STATE_RUNNING};

/// What the engine sees of one role for one pass.
#[derive(Debug)]
pub struct RoleInput<'a> {
    /// Role name.
    pub name: &'a str,
    /// Current cardinality.
    pub cardinality: u32,
    /// `min_vms`.
    pub min_vms: u32,
    /// `max_vms`.
    pub max_vms: Option<u32>,
    /// The role's `cooldown` (the file's or 300, then the last one chosen).
    pub cooldown: u64,
    /// Elasticity policies as written in the service file.
    pub elasticity_policies: &'a [serde_json::Value],
    /// Scheduled policies as written in the service file.
    pub scheduled_policies: &'a [serde_json::Value],
    /// The role's VMs (RUNNING or not; the engine averages over RUNNING ones).
    pub vms: Vec<&'a Vm>,
}

/// The engine's answer for one role and pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Cardinality change (0: nothing to do).
    pub diff: i64,
    /// Cooldown to apply when `diff ≠ 0`, seconds; `None` (OneFlow's `nil`,
    /// a scheduled policy without one) keeps the role's.
    pub cooldown: Option<u64>,
    /// OneFlow's `expression_evaluated` of each policy evaluated this pass.
    pub traces: Vec<String>,
}

/// A OneFlow policy engine, one pass at a time. Implementations keep each
/// policy's `last_eval` / `true_evals` between passes, per role.
pub trait Autoscaler: Send {
    /// One pass over one role at `now` (epoch seconds).
    fn evaluate(&mut self, role: &RoleInput<'_>, now: u64) -> Decision;
    /// The role's cardinality changed: clear every policy's `true_evals`.
    fn role_scaled(&mut self, role: &str);
    /// The runtime keys OneFlow would show in the role's policies.
    fn runtime_keys(&self, _role: &str) -> Vec<PolicyKeys> {
        Vec::new()
    }
}

/// Which list a policy is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `elasticity_policies`.
    Elasticity,
    /// `scheduled_policies`.
    Scheduled,
}

/// Runtime keys of one policy, as OneFlow stores them in the role document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyKeys {
    /// The list.
    pub kind: PolicyKind,
    /// Index in the list.
    pub index: usize,
    /// `last_eval` (absent: `None`).
    pub last_eval: Option<i64>,
    /// `true_evals` (absent: `None`; always `None` for scheduled policies).
    pub true_evals: Option<i64>,
    /// `expression_evaluated`: absent `None`, `null` `Some(None)`.
    pub expression_evaluated: Option<Option<String>>,
}

/// How a pass is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickMode {
    /// Change the cardinality (false: evaluate and record only, like a
    /// OneFlow pass whose scaling is not carried out).
    pub apply: bool,
    /// Evaluate even while the service is in COOLDOWN (replaying OneFlow's
    /// passes in isolation, as the conformance vectors do).
    pub ignore_cooldown: bool,
}

impl Default for TickMode {
    fn default() -> TickMode {
        TickMode {
            apply: true,
            ignore_cooldown: false,
        }
    }
}

/// The engine used when none is plugged in: no elasticity or scheduled
/// policy ever fires; it only enforces OneFlow's last rule of a pass
/// (`card < min_vms` → raise to `min_vms`, cooldown 0).
#[derive(Debug, Default)]
pub struct MinVmsOnly;

impl Autoscaler for MinVmsOnly {
    fn evaluate(&mut self, role: &RoleInput<'_>, _now: u64) -> Decision {
        let diff = i64::from(role.min_vms) - i64::from(role.cardinality);
        Decision {
            diff: diff.max(0),
            cooldown: Some(0),
            traces: Vec::new(),
        }
    }
    fn role_scaled(&mut self, _role: &str) {}
}

/// What one pass did to one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Role name.
    pub role: String,
    /// The engine's decision.
    pub decision: Decision,
    /// Cardinality after the pass.
    pub cardinality: u32,
    /// OneFlow's refusal when `card + diff` is out of bounds.
    pub scale_error: Option<String>,
    /// The role's `cooldown` after the pass.
    pub role_cooldown: u64,
    /// The policies' runtime keys after the pass.
    pub policies: Vec<PolicyKeys>,
}

/// Runs one autoscaler pass at `now`. Returns per-role reports (empty when
/// the service is not RUNNING) and the VMs created or removed.
pub fn tick(
    st: &mut State,
    engine: &mut dyn Autoscaler,
    now: u64,
    mode: TickMode,
    log: &dyn Fn(&str),
) -> (Vec<TickReport>, Vec<VmEvent>) {
    st.expire_cooldowns(now);
    for id in st.reap_done() {
        log(&format!("monitor: VM {id} is DONE, removed from its role"));
    }
    let mut reports = Vec::new();
    let mut events = Vec::new();
    if !mode.ignore_cooldown && st.service_state() != STATE_RUNNING {
        log(&format!(
            "autoscaler: service {} is in COOLDOWN, no evaluation",
            st.service_id
        ));
        return (reports, events);
    }
    for ri in 0..st.roles.len() {
        let decision = {
            let r = &st.roles[ri];
            let input = RoleInput {
                name: &r.spec.name,
                cardinality: r.cardinality,
                min_vms: r.spec.min_vms,
                max_vms: r.spec.max_vms,
                cooldown: r.cooldown,
                elasticity_policies: &r.spec.elasticity_policies,
                scheduled_policies: &r.spec.scheduled_policies,
                vms: r.nodes.iter().filter_map(|id| st.vms.get(id)).collect(),
            };
            engine.evaluate(&input, now)
        };
        let name = st.roles[ri].spec.name.clone();
        for t in &decision.traces {
            log(&format!("autoscaler: role {name}: {t}"));
        }
        let mut scale_error = None;
        if decision.diff != 0 {
            // OneFlow writes the decision's cooldown into the role first.
            if let Some(c) = decision.cooldown {
                st.roles[ri].cooldown = c;
            }
        }
        if decision.diff != 0 && mode.apply {
            let card = i64::from(st.roles[ri].cardinality);
            let new = card.saturating_add(decision.diff);
            let can = if mode.ignore_cooldown {
                Ok(())
            } else {
                st.check_can_scale()
            };
            let min = st.roles[ri].spec.min_vms;
            let res = can
                .and_then(|_| {
                    u32::try_from(new).map_err(|_| format!("Minimum cardinality is {min}"))
                })
                .and_then(|n| {
                    let cd = st.roles[ri].cooldown;
                    st.scale(ri, n, cd, now)
                });
            match res {
                Ok(ev) => {
                    log(&format!(
                        "autoscaler: role {name}: cardinality {card} -> {new}, cooldown {}s",
                        st.roles[ri].cooldown
                    ));
                    events.extend(ev);
                    engine.role_scaled(&name);
                }
                Err(e) => {
                    log(&format!(
                        "autoscaler: role {name}: cannot scale to {new}: {e}"
                    ));
                    scale_error = Some(e);
                }
            }
        }
        reports.push(TickReport {
            cardinality: st.roles[ri].cardinality,
            role_cooldown: st.roles[ri].cooldown,
            policies: engine.runtime_keys(&name),
            role: name,
            decision,
            scale_error,
        });
    }
    (reports, events)
}
