//! OneFlow's autoscaler pass for one role (SPEC §7): elasticity and
//! scheduled policies with their runtime state, driven with explicit time
//! (epoch seconds) and a resolver callback for attribute values.

use crate::expr::{stamen_resolve_fn, CResolver};
use crate::policy::{adjustment_from_c, bounds_from_c, stamen_adjustment, stamen_role_bounds};
use crate::result::stamen_result::{self, *};
use crate::util::{flag, opaque_fits, out_write, Opaque, SliceWriter};
use core::ffi::{c_char, c_void};
use core::fmt::Write as _;
use stamen_core::expr::{EvalError as ExprEvalError, Expr, ParseError};
use stamen_core::policy::engine::ScaleError;
use stamen_core::policy::{
    Autoscaler, ElasticityPolicy, ElasticityState, EvalError, Evaluator, RubyException, Schedule,
    ScheduledPolicy, ScheduledState, Source, Trace, DEFAULT_COOLDOWN,
};

/// Elasticity policies (and, separately, scheduled policies) a
/// `stamen_autoscaler` holds.
pub const STAMEN_AUTOSCALER_MAX_POLICIES: usize = 8;
/// Longest `expression_evaluated` trace kept per policy, in bytes.
pub const STAMEN_POLICY_TRACE_MAX: usize = 1024;
/// Words in a `stamen_autoscaler`.
pub const STAMEN_AUTOSCALER_WORDS: usize = 1600;

type Scaler = Autoscaler<'static, STAMEN_AUTOSCALER_MAX_POLICIES, STAMEN_POLICY_TRACE_MAX>;

/// One role's autoscaling state (what OneFlow keeps in the role body),
/// owned by the caller (12.5 KB). Policies point into the expression texts
/// given to `stamen_autoscaler_add_elasticity`: keep them alive and
/// unchanged. May be copied with `memcpy`.
#[repr(C)]
pub struct stamen_autoscaler {
    _opaque: [u64; STAMEN_AUTOSCALER_WORDS],
}

opaque_fits!(stamen_autoscaler, Scaler);

impl Opaque for stamen_autoscaler {
    type Inner = Scaler;
    const MAGIC: u64 = 0x7374_616d_6e61_7363; // "stamnasc"
}

/// Starts a role without policies. `has_cooldown`/`cooldown` are the
/// role's `cooldown`; without one the role uses `default_cooldown`
/// (OneFlow's `:default_cooldown`, normally 300).
///
/// # Safety
/// `role` is readable; `scaler` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_autoscaler_init(
    role: *const stamen_role_bounds,
    has_cooldown: u8,
    cooldown: i64,
    default_cooldown: i64,
    scaler: *mut stamen_autoscaler,
) -> stamen_result {
    ffi_boundary! {{
        let role = try_ref!(role);
        let scaler = try_out!(scaler);
        let bounds = tri!(bounds_from_c(role));
        let cd = if tri!(flag(has_cooldown)) { Some(cooldown) } else { None };
        stamen_autoscaler::store(scaler, Scaler::new(bounds, cd, default_cooldown));
        STAMEN_RESULT_OK
    }}
}

/// OneFlow's `:default_cooldown`.
pub const STAMEN_DEFAULT_COOLDOWN: i64 = 300;
const _: () = assert!(STAMEN_DEFAULT_COOLDOWN == DEFAULT_COOLDOWN);

/// An elasticity policy (numbers already read with Ruby's `to_i`) and the
/// runtime keys to resume from.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_elasticity_policy {
    /// 1 when the policy has an `expression` (an empty one is never true).
    pub has_expression: u8,
    /// The expression text (borrowed: keep it alive while the autoscaler
    /// is used).
    pub expression: *const c_char,
    /// Its length in bytes.
    pub expression_len: usize,
    /// Type, adjust, min_adjust_step.
    pub adjustment: stamen_adjustment,
    /// `period`: seconds between evaluations.
    pub period: i64,
    /// `period_number`: consecutive true evaluations needed (0 acts as 1).
    pub period_number: i64,
    /// 1 when the policy sets `cooldown`.
    pub has_cooldown: u8,
    /// `cooldown`.
    pub cooldown: i64,
    /// 1 to resume with a `last_eval` key.
    pub has_last_eval: u8,
    /// `last_eval` (epoch s).
    pub last_eval: i64,
    /// 1 to resume with a `true_evals` key.
    pub has_true_evals: u8,
    /// `true_evals`.
    pub true_evals: i64,
}

fn opt(has: u8, v: i64) -> Result<Option<i64>, stamen_result> {
    Ok(if flag(has)? { Some(v) } else { None })
}

/// Appends an elasticity policy (evaluated in order; the first non-zero
/// wins). `STAMEN_RESULT_POLICY_TOO_MANY` beyond
/// `STAMEN_AUTOSCALER_MAX_POLICIES`.
///
/// # Safety
/// `scaler` was initialised; `policy` is readable and its expression stays
/// valid while `scaler` is used.
#[no_mangle]
pub unsafe extern "C" fn stamen_autoscaler_add_elasticity(
    scaler: *mut stamen_autoscaler,
    policy: *const stamen_elasticity_policy,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(scaler);
        let policy = try_ref!(policy);
        let expression: Option<&'static str> = if tri!(flag(policy.has_expression)) {
            Some(try_str!(policy.expression, policy.expression_len))
        } else {
            None
        };
        let core_policy = ElasticityPolicy {
            expression,
            adjustment: tri!(adjustment_from_c(&policy.adjustment)),
            period: policy.period,
            period_number: policy.period_number,
            cooldown: tri!(opt(policy.has_cooldown, policy.cooldown)),
        };
        let state = ElasticityState {
            last_eval: tri!(opt(policy.has_last_eval, policy.last_eval)),
            true_evals: tri!(opt(policy.has_true_evals, policy.true_evals)),
            expression_evaluated: Trace::Absent,
        };
        let mut a = tri!(stamen_autoscaler::load(p));
        if a.add_elasticity(core_policy, state).is_err() {
            return STAMEN_RESULT_POLICY_TOO_MANY;
        }
        stamen_autoscaler::store(p, core::mem::ManuallyDrop::into_inner(a));
        STAMEN_RESULT_OK
    }}
}

/// A scheduled policy and the `last_eval` key to resume from. An empty
/// `start_time` / `recurrence` means absent.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_scheduled_policy {
    /// 0 when the policy has no `adjust` (OneFlow then ignores it).
    pub has_adjustment: u8,
    /// Type, adjust, min_adjust_step.
    pub adjustment: stamen_adjustment,
    /// `start_time`: epoch digits or ISO-8601 (copied; need not stay alive).
    pub start_time: *const c_char,
    /// Its length (0 = absent).
    pub start_time_len: usize,
    /// `recurrence`: 5-field cron (`@daily` …) (copied).
    pub recurrence: *const c_char,
    /// Its length (0 = absent).
    pub recurrence_len: usize,
    /// 1 when the policy sets `cooldown`.
    pub has_cooldown: u8,
    /// `cooldown`.
    pub cooldown: i64,
    /// 1 to resume with a `last_eval` key.
    pub has_last_eval: u8,
    /// `last_eval` (epoch s).
    pub last_eval: i64,
}

/// Appends a scheduled policy (checked before elasticity ones; the first
/// non-zero wins). A recurrence that does not parse is kept as a policy that
/// never fires, like OneFlow; a `start_time` in a date format stamen does
/// not read gives `STAMEN_RESULT_POLICY_START_TIME`.
///
/// # Safety
/// `scaler` was initialised; `policy` and its strings are readable.
#[no_mangle]
pub unsafe extern "C" fn stamen_autoscaler_add_scheduled(
    scaler: *mut stamen_autoscaler,
    policy: *const stamen_scheduled_policy,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(scaler);
        let policy = try_ref!(policy);
        let start = try_str!(policy.start_time, policy.start_time_len);
        let recurrence = try_str!(policy.recurrence, policy.recurrence_len);
        let Ok(schedule) = Schedule::from_fields(Some(start), Some(recurrence)) else {
            return STAMEN_RESULT_POLICY_START_TIME;
        };
        let adjustment = if tri!(flag(policy.has_adjustment)) {
            Some(tri!(adjustment_from_c(&policy.adjustment)))
        } else {
            None
        };
        let core_policy = ScheduledPolicy {
            adjustment,
            schedule,
            cooldown: tri!(opt(policy.has_cooldown, policy.cooldown)),
        };
        let state = ScheduledState { last_eval: tri!(opt(policy.has_last_eval, policy.last_eval)) };
        let mut a = tri!(stamen_autoscaler::load(p));
        if a.add_scheduled(core_policy, state).is_err() {
            return STAMEN_RESULT_POLICY_TOO_MANY;
        }
        stamen_autoscaler::store(p, core::mem::ManuallyDrop::into_inner(a));
        STAMEN_RESULT_OK
    }}
}

/// Which rule decided (`stamen_tick.source`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_scale_source {
    /// Nothing to do.
    STAMEN_SCALE_IDLE = 0,
    /// The scheduled policy `source_index` fired.
    STAMEN_SCALE_SCHEDULED = 1,
    /// The elasticity policy `source_index` triggered.
    STAMEN_SCALE_ELASTICITY = 2,
    /// The role was below `min_vms` (cooldown 0).
    STAMEN_SCALE_MIN_VMS = 3,
}

/// Why `Role#update` refused to apply a decision (`stamen_tick.scale_error`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_scale_error {
    /// Applied (or not asked to apply, or nothing to apply).
    STAMEN_SCALE_ERROR_NONE = 0,
    /// Below `min_vms` ("Minimum cardinality is N"; `scale_error_bound`).
    STAMEN_SCALE_ERROR_MINIMUM = 1,
    /// Above `max_vms` ("Maximum cardinality is N").
    STAMEN_SCALE_ERROR_MAXIMUM = 2,
}

/// The outcome of one autoscaler pass.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_tick {
    /// VMs to add (negative: remove).
    pub diff: i64,
    /// 0 when OneFlow's cooldown is nil (a scheduled policy without one).
    pub has_cooldown: u8,
    /// The cooldown OneFlow returns.
    pub cooldown: i64,
    /// A `stamen_scale_source`.
    pub source: u32,
    /// Index of the deciding policy (scheduled or elasticity list).
    pub source_index: u32,
    /// A `stamen_scale_error`.
    pub scale_error: u32,
    /// 1 when the violated bound is known (`min_vms` may be unset).
    pub has_scale_error_bound: u8,
    /// The violated `min_vms` / `max_vms`.
    pub scale_error_bound: i64,
    /// The role's cardinality after the pass.
    pub cardinality: i64,
    /// The role's cooldown after the pass.
    pub role_cooldown: i64,
}

struct CEvaluator {
    resolver: CResolver,
    code: Option<stamen_result>,
}

impl Evaluator<STAMEN_POLICY_TRACE_MAX> for CEvaluator {
    fn evaluate(
        &mut self,
        expression: &str,
        trace: &mut heapless::String<STAMEN_POLICY_TRACE_MAX>,
    ) -> Result<bool, EvalError> {
        trace.clear();
        let e = match Expr::<'_, 64>::parse(expression) {
            Ok(e) => e,
            Err(ParseError::Syntax(s)) => {
                write!(trace, "{}", s.oneflow_trace()).map_err(|_| EvalError::Capacity)?;
                return Ok(false);
            }
            Err(ParseError::Empty) => return Ok(false),
            Err(ParseError::TooComplex { .. }) => {
                self.code = Some(STAMEN_RESULT_EXPR_TOO_COMPLEX);
                return Err(EvalError::Capacity);
            }
            Err(_) => {
                self.code = Some(STAMEN_RESULT_EXPR_NAME_TOO_LONG);
                return Err(EvalError::Capacity);
            }
        };
        match e.eval_traced(&mut self.resolver, trace) {
            Ok(v) => Ok(v),
            Err(ExprEvalError::Resolve(code)) => {
                self.code = Some(code);
                Err(EvalError::Exception(ruby_exception(code)))
            }
            Err(_) => {
                self.code = Some(STAMEN_RESULT_BUFFER_TOO_SMALL);
                Err(EvalError::Capacity)
            }
        }
    }
}

fn ruby_exception(code: stamen_result) -> RubyException {
    let (class, message) = match code {
        STAMEN_RESULT_AVG_INFINITY => ("FloatDomainError", "Infinity"),
        STAMEN_RESULT_AVG_NEG_INFINITY => ("FloatDomainError", "-Infinity"),
        STAMEN_RESULT_AVG_NAN => ("FloatDomainError", "NaN"),
        STAMEN_RESULT_AVG_NO_SECTION => ("NoMethodError", "undefined method '[]' for nil"),
        STAMEN_RESULT_AVG_BAD_SECTION => {
            ("TypeError", "no implicit conversion of String into Integer")
        }
        _ => ("RuntimeError", "attribute resolver failed"),
    };
    RubyException { class, message }
}

/// One autoscaler pass at epoch second `now` (OneFlow's `scale?`), then,
/// when it asks for a change, its cooldown is written into the role and —
/// with `apply` = 1 — the new cardinality is applied (refusals are reported
/// in `scale_error`, not as a failure) and every `true_evals` cleared.
///
/// Where OneFlow itself would raise (an attribute's average is not finite,
/// a triggered policy has no type) the call returns that code (e.g.
/// `STAMEN_RESULT_AVG_INFINITY`, `STAMEN_RESULT_POLICY_MISSING_TYPE`), keeps
/// the runtime keys as OneFlow leaves them, and does not write `tick`.
///
/// # Safety
/// `scaler` was initialised and its expressions are alive; `resolve` is a
/// valid function; `tick` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_autoscaler_tick(
    scaler: *mut stamen_autoscaler,
    now: i64,
    apply: u8,
    resolve: stamen_resolve_fn,
    user: *mut c_void,
    tick: *mut stamen_tick,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(scaler);
        let tick = try_out!(tick);
        let f = try_callback!(resolve);
        let apply = tri!(flag(apply));
        let mut a = tri!(stamen_autoscaler::load(p));
        let mut ev = CEvaluator { resolver: CResolver { f, user }, code: None };
        let r = a.tick(now, apply, &mut ev);
        let cardinality = a.bounds.cardinality;
        let role_cooldown = a.cooldown;
        stamen_autoscaler::store(p, core::mem::ManuallyDrop::into_inner(a));
        let t = match r {
            Ok(t) => t,
            Err(EvalError::Exception(e)) => {
                return match ev.code {
                    Some(code) => code,
                    None if e.message.contains("upcase") => STAMEN_RESULT_POLICY_MISSING_TYPE,
                    None => STAMEN_RESULT_POLICY_RUBY_EXCEPTION,
                };
            }
            Err(_) => return ev.code.unwrap_or(STAMEN_RESULT_EXPR_TOO_COMPLEX),
        };
        let d = t.decision;
        let (source, index) = match d.source {
            Source::Scheduled(i) => (stamen_scale_source::STAMEN_SCALE_SCHEDULED, i),
            Source::Elasticity(i) => (stamen_scale_source::STAMEN_SCALE_ELASTICITY, i),
            Source::MinVms => (stamen_scale_source::STAMEN_SCALE_MIN_VMS, 0),
            _ => (stamen_scale_source::STAMEN_SCALE_IDLE, 0),
        };
        let (err, bound) = match t.scale_error {
            None => (stamen_scale_error::STAMEN_SCALE_ERROR_NONE, None),
            Some(ScaleError::Minimum(m)) => (stamen_scale_error::STAMEN_SCALE_ERROR_MINIMUM, m),
            Some(ScaleError::Maximum(m)) => (stamen_scale_error::STAMEN_SCALE_ERROR_MAXIMUM, Some(m)),
            Some(_) => (stamen_scale_error::STAMEN_SCALE_ERROR_MAXIMUM, None),
        };
        out_write(tick, stamen_tick {
            diff: d.diff,
            has_cooldown: u8::from(d.cooldown.is_some()),
            cooldown: d.cooldown.unwrap_or(0),
            source: source as u32,
            source_index: u32::try_from(index).unwrap_or(u32::MAX),
            scale_error: err as u32,
            has_scale_error_bound: u8::from(bound.is_some()),
            scale_error_bound: bound.unwrap_or(0),
            cardinality,
            role_cooldown,
        });
        STAMEN_RESULT_OK
    }}
}

/// `stamen_policy_state.trace_kind`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_trace_kind {
    /// `expression_evaluated` absent: never evaluated.
    STAMEN_TRACE_ABSENT = 0,
    /// `expression_evaluated` is null: the expression is empty.
    STAMEN_TRACE_NULL = 1,
    /// A trace (written to the caller's buffer).
    STAMEN_TRACE_TEXT = 2,
}

/// The runtime keys of one elasticity policy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_policy_state {
    /// 1 when `last_eval` is present.
    pub has_last_eval: u8,
    /// `last_eval` (epoch s).
    pub last_eval: i64,
    /// 1 when `true_evals` is present (it is deleted when the role scales).
    pub has_true_evals: u8,
    /// `true_evals`.
    pub true_evals: i64,
    /// A `stamen_trace_kind` for `expression_evaluated`.
    pub trace_kind: u32,
}

/// The runtime keys of elasticity policy `index`; its trace (for
/// `STAMEN_TRACE_TEXT`) goes to `trace` (`STAMEN_POLICY_TRACE_MAX` bytes
/// always suffice). `STAMEN_RESULT_NOT_FOUND` for an index past the end.
///
/// # Safety
/// `scaler` was initialised; `trace` has `trace_len` writable bytes;
/// `trace_written` and `state` are writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_autoscaler_elasticity_state(
    scaler: *const stamen_autoscaler,
    index: usize,
    trace: *mut u8,
    trace_len: usize,
    trace_written: *mut usize,
    state: *mut stamen_policy_state,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(scaler);
        let out = try_slice_mut!(trace, trace_len);
        let trace_written = try_out!(trace_written);
        let state = try_out!(state);
        let a = tri!(stamen_autoscaler::load(p));
        let Some(e) = a.elasticity.get(index) else { return STAMEN_RESULT_NOT_FOUND };
        let s = &e.state;
        let mut w = SliceWriter::new(out);
        let kind = match &s.expression_evaluated {
            Trace::Absent => stamen_trace_kind::STAMEN_TRACE_ABSENT,
            Trace::Null => stamen_trace_kind::STAMEN_TRACE_NULL,
            Trace::Text(t) => {
                if w.write_str(t).is_err() {
                    return STAMEN_RESULT_BUFFER_TOO_SMALL;
                }
                stamen_trace_kind::STAMEN_TRACE_TEXT
            }
        };
        out_write(trace_written, w.len());
        out_write(state, stamen_policy_state {
            has_last_eval: u8::from(s.last_eval.is_some()),
            last_eval: s.last_eval.unwrap_or(0),
            has_true_evals: u8::from(s.true_evals.is_some()),
            true_evals: s.true_evals.unwrap_or(0),
            trace_kind: kind as u32,
        });
        STAMEN_RESULT_OK
    }}
}

/// The `last_eval` key of scheduled policy `index` (`STAMEN_RESULT_NOT_FOUND`
/// for an index past the end; `*has_last_eval` 0 when absent).
///
/// # Safety
/// `scaler` was initialised; the outputs are writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_autoscaler_scheduled_state(
    scaler: *const stamen_autoscaler,
    index: usize,
    has_last_eval: *mut u8,
    last_eval: *mut i64,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(scaler);
        let has_last_eval = try_out!(has_last_eval);
        let last_eval = try_out!(last_eval);
        let a = tri!(stamen_autoscaler::load(p));
        let Some(e) = a.scheduled.get(index) else { return STAMEN_RESULT_NOT_FOUND };
        out_write(has_last_eval, u8::from(e.state.last_eval.is_some()));
        out_write(last_eval, e.state.last_eval.unwrap_or(0));
        STAMEN_RESULT_OK
    }}
}
