//! The autoscaler pass (`VMRole#scale?`) and applying its decision, as a
//! state machine the caller owns and drives with explicit time.
//!
//! One [`Autoscaler`] holds one role: its cardinality, cooldown, and up to `P`
//! elasticity and `P` scheduled policies with their runtime state
//! (`last_eval`, `true_evals`, `expression_evaluated`, traces of up to `T`
//! bytes). Expressions are evaluated through the [`Evaluator`] trait, so the
//! engine does not care where attribute values come from.

use core::fmt;

use heapless::{String, Vec};

use super::cardinality::{new_cardinality, Adjustment, Bounds, RubyException};
use super::schedule::Schedule;

/// OneFlow's default cooldown (`:default_cooldown` in oneflow-server.conf).
pub const DEFAULT_COOLDOWN: i64 = 300;

/// An elasticity (expression-driven) policy. Numbers are already `to_i`'d.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElasticityPolicy<'a> {
    /// The expression; `None` or empty is never true.
    pub expression: Option<&'a str>,
    /// Type, adjust, min_adjust_step.
    pub adjustment: Adjustment,
    /// `period` in seconds between evaluations (missing = 0).
    pub period: i64,
    /// `period_number`: consecutive true evaluations needed (missing = 0, acts as 1).
    pub period_number: i64,
    /// `cooldown`, if the policy sets one.
    pub cooldown: Option<i64>,
}

/// A scheduled (time-driven) policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledPolicy {
    /// Type, adjust, min_adjust_step; `None` when `adjust` is missing
    /// (OneFlow then ignores the policy).
    pub adjustment: Option<Adjustment>,
    /// When it fires.
    pub schedule: Schedule,
    /// `cooldown`, if the policy sets one (no role fallback for scheduled ones).
    pub cooldown: Option<i64>,
}

/// The `expression_evaluated` runtime key of an elasticity policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trace<const T: usize> {
    /// Key absent: never evaluated.
    #[default]
    Absent,
    /// `null`: the expression is empty.
    Null,
    /// OneFlow's trace, e.g. `CPU[82.88] > 80`, or the parse-error text.
    Text(String<T>),
}

/// Runtime keys OneFlow stores in an elasticity policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElasticityState<const T: usize> {
    /// `last_eval` (epoch s); `None` = key absent (reads as 0).
    pub last_eval: Option<i64>,
    /// `true_evals`; `None` = key absent (deleted when the role scales).
    pub true_evals: Option<i64>,
    /// `expression_evaluated`.
    pub expression_evaluated: Trace<T>,
}

/// Runtime key OneFlow stores in a scheduled policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScheduledState {
    /// `last_eval` (epoch s); `None` = key absent (reads as 0).
    pub last_eval: Option<i64>,
}

/// Evaluation failures the engine passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvalError {
    /// OneFlow itself crashes on this input (e.g. an average of ±Infinity →
    /// `FloatDomainError`, or a policy without `type` firing).
    Exception(RubyException),
    /// The expression or its trace does not fit the evaluator's fixed
    /// capacities (nodes, name length, `T` bytes of trace).
    Capacity,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Exception(e) => e.fmt(f),
            EvalError::Capacity => {
                f.write_str("expression or its trace exceeds the evaluator's fixed capacity")
            }
        }
    }
}

impl core::error::Error for EvalError {}

impl From<RubyException> for EvalError {
    fn from(e: RubyException) -> Self {
        EvalError::Exception(e)
    }
}

/// Evaluates elasticity expressions over the role's current VMs.
pub trait Evaluator<const T: usize> {
    /// Evaluates a non-empty `expression`, writing OneFlow's trace into the
    /// (cleared) `trace`. A parse error is `Ok(false)` with the trace
    /// `Parse error. '<expr>': <reason>`, as OneFlow records it.
    fn evaluate(&mut self, expression: &str, trace: &mut String<T>) -> Result<bool, EvalError>;
}

/// Which rule produced a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Nothing to do (`[0, 0]`).
    Idle,
    /// The scheduled policy at this index fired.
    Scheduled(usize),
    /// The elasticity policy at this index triggered.
    Elasticity(usize),
    /// The implicit rule raising the role to `min_vms` (cooldown 0).
    MinVms,
}

/// The result of one pass: `diff, cooldown = scale?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// VMs to add (negative: remove).
    pub diff: i64,
    /// Cooldown OneFlow returns; `None` (nil) for a scheduled policy without one.
    pub cooldown: Option<i64>,
    /// Which rule decided.
    pub source: Source,
}

/// Why applying a decision left the cardinality unchanged (`Role#update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScaleError {
    /// The new cardinality is below `min_vms` (`None`: min_vms unset, the new
    /// cardinality is negative).
    Minimum(Option<i64>),
    /// The new cardinality is above `max_vms`.
    Maximum(i64),
}

impl fmt::Display for ScaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleError::Minimum(Some(m)) => write!(f, "Minimum cardinality is {m}"),
            ScaleError::Minimum(None) => f.write_str("Minimum cardinality is "),
            ScaleError::Maximum(m) => write!(f, "Maximum cardinality is {m}"),
        }
    }
}

impl core::error::Error for ScaleError {}

/// The outcome of one autoscaler tick (pass + apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// What the pass decided.
    pub decision: Decision,
    /// Set when the decision was to be applied but `Role#update` refused it.
    pub scale_error: Option<ScaleError>,
}

/// More policies than the fixed capacity `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError;

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many policies for this autoscaler's capacity")
    }
}

impl core::error::Error for CapacityError {}

/// An elasticity policy with its runtime state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticityEntry<'a, const T: usize> {
    /// Configuration.
    pub policy: ElasticityPolicy<'a>,
    /// Runtime keys.
    pub state: ElasticityState<T>,
}

/// A scheduled policy with its runtime state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledEntry {
    /// Configuration.
    pub policy: ScheduledPolicy,
    /// Runtime keys.
    pub state: ScheduledState,
}

/// One role's autoscaling state: what OneFlow keeps in the role body.
#[derive(Debug, Clone)]
pub struct Autoscaler<'a, const P: usize, const T: usize> {
    /// Cardinality and limits.
    pub bounds: Bounds,
    /// The role's `cooldown` (set to the default at construction when absent,
    /// overwritten by every scaling decision that carries one).
    pub cooldown: i64,
    /// Elasticity policies in order.
    pub elasticity: Vec<ElasticityEntry<'a, T>, P>,
    /// Scheduled policies in order.
    pub scheduled: Vec<ScheduledEntry, P>,
}

impl<'a, const P: usize, const T: usize> Autoscaler<'a, P, T> {
    /// A role without policies. `cooldown: None` takes `default_cooldown`
    /// (OneFlow: 300).
    pub fn new(bounds: Bounds, cooldown: Option<i64>, default_cooldown: i64) -> Self {
        Autoscaler {
            bounds,
            cooldown: cooldown.unwrap_or(default_cooldown),
            elasticity: Vec::new(),
            scheduled: Vec::new(),
        }
    }

    /// Appends an elasticity policy with its starting state.
    pub fn add_elasticity(
        &mut self,
        policy: ElasticityPolicy<'a>,
        state: ElasticityState<T>,
    ) -> Result<(), CapacityError> {
        self.elasticity
            .push(ElasticityEntry { policy, state })
            .map_err(|_| CapacityError)
    }

    /// Appends a scheduled policy with its starting state.
    pub fn add_scheduled(
        &mut self,
        policy: ScheduledPolicy,
        state: ScheduledState,
    ) -> Result<(), CapacityError> {
        self.scheduled
            .push(ScheduledEntry { policy, state })
            .map_err(|_| CapacityError)
    }

    /// One `scale?` pass at epoch second `now`: scheduled policies first (the
    /// first non-zero wins), then elasticity policies in order (the first
    /// non-zero wins, later ones are not evaluated), then the `min_vms` rule.
    /// Updates the policies' runtime keys as OneFlow does. An `Err` leaves the
    /// keys as they were when OneFlow crashed.
    pub fn scale<E: Evaluator<T>>(
        &mut self,
        now: i64,
        eval: &mut E,
    ) -> Result<Decision, EvalError> {
        let bounds = self.bounds;
        for (i, entry) in self.scheduled.iter_mut().enumerate() {
            let (diff, cooldown) = scale_time(&bounds, entry, now)?;
            if diff != 0 {
                return Ok(Decision {
                    diff,
                    cooldown,
                    source: Source::Scheduled(i),
                });
            }
        }
        for (i, entry) in self.elasticity.iter_mut().enumerate() {
            let (diff, cooldown) = scale_attributes(&bounds, entry, now, eval)?;
            if diff != 0 {
                return Ok(Decision {
                    diff,
                    cooldown: Some(cooldown.unwrap_or(self.cooldown)),
                    source: Source::Elasticity(i),
                });
            }
        }
        let min = bounds.min_vms.unwrap_or(0);
        if bounds.cardinality < min {
            return Ok(Decision {
                diff: min.saturating_sub(bounds.cardinality),
                cooldown: Some(0),
                source: Source::MinVms,
            });
        }
        Ok(Decision {
            diff: 0,
            cooldown: Some(0),
            source: Source::Idle,
        })
    }

    /// Applies a decision the way OneFlow's autoscaler does: a non-zero diff
    /// writes its cooldown (when not nil) into the role; with `apply`, the new
    /// cardinality is refused below `min_vms` or above
    /// `max(cardinality, max_vms)` (the conformance harness's rule; messages
    /// as `Role#update` words them) and, on success, every elasticity
    /// policy's `true_evals` is deleted (the role enters SCALING).
    pub fn apply(&mut self, decision: &Decision, apply: bool) -> Result<(), ScaleError> {
        if decision.diff == 0 {
            return Ok(());
        }
        if let Some(c) = decision.cooldown {
            self.cooldown = c;
        }
        if !apply {
            return Ok(());
        }
        let new = self.bounds.cardinality.saturating_add(decision.diff);
        if new < self.bounds.min_vms.unwrap_or(0) {
            return Err(ScaleError::Minimum(self.bounds.min_vms));
        }
        if let Some(max) = self.bounds.max_vms {
            // A role forced above max_vms may still step down towards it.
            if new > max.max(self.bounds.cardinality) {
                return Err(ScaleError::Maximum(max));
            }
        }
        self.bounds.cardinality = new;
        for entry in self.elasticity.iter_mut() {
            entry.state.true_evals = None;
        }
        Ok(())
    }

    /// [`scale`](Self::scale) then [`apply`](Self::apply).
    pub fn tick<E: Evaluator<T>>(
        &mut self,
        now: i64,
        apply: bool,
        eval: &mut E,
    ) -> Result<Tick, EvalError> {
        let decision = self.scale(now, eval)?;
        let scale_error = self.apply(&decision, apply).err();
        Ok(Tick {
            decision,
            scale_error,
        })
    }
}

/// `scale_time?`.
fn scale_time(
    bounds: &Bounds,
    entry: &mut ScheduledEntry,
    now: i64,
) -> Result<(i64, Option<i64>), EvalError> {
    let last_eval = entry.state.last_eval.unwrap_or(0);
    entry.state.last_eval = Some(now);
    if last_eval == 0 {
        return Ok((0, None));
    }
    let Some(adjustment) = entry.policy.adjustment else {
        return Ok((0, None));
    };
    let Some(start) = entry.policy.schedule.planned(last_eval)? else {
        return Ok((0, None));
    };
    if start > last_eval && start <= now {
        let new = new_cardinality(bounds, &adjustment)?;
        return Ok((
            new.saturating_sub(bounds.cardinality),
            entry.policy.cooldown,
        ));
    }
    Ok((0, entry.policy.cooldown))
}

/// `scale_attributes?`.
fn scale_attributes<const T: usize, E: Evaluator<T>>(
    bounds: &Bounds,
    entry: &mut ElasticityEntry<'_, T>,
    now: i64,
    eval: &mut E,
) -> Result<(i64, Option<i64>), EvalError> {
    let policy = &entry.policy;
    let state = &mut entry.state;
    let last_eval = state.last_eval.unwrap_or(0);
    if i128::from(now) < i128::from(last_eval) + i128::from(policy.period) {
        return Ok((0, Some(0)));
    }
    state.last_eval = Some(now);
    let mut new = bounds.cardinality;
    let mut new_evals = 0;
    let (value, trace) = match policy.expression.filter(|e| !e.is_empty()) {
        None => (false, Trace::Null),
        Some(expr) => {
            let mut text = String::new();
            let value = eval.evaluate(expr, &mut text)?;
            (value, Trace::Text(text))
        }
    };
    if value {
        new_evals = state
            .true_evals
            .unwrap_or(0)
            .saturating_add(1)
            .min(policy.period_number);
        if new_evals >= policy.period_number {
            new = new_cardinality(bounds, &policy.adjustment)?;
        }
    }
    state.true_evals = Some(new_evals);
    state.expression_evaluated = trace;
    Ok((new.saturating_sub(bounds.cardinality), policy.cooldown))
}
