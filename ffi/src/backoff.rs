//! Retry backoff (SPEC §3): a caller-owned state machine. The caller passes
//! the time in; libstamen never sleeps or reads a clock.

use crate::context::{stamen_backoff_strategy, stamen_edge_config};
use crate::result::stamen_result::{self, *};
use crate::util::{opaque_fits, out_write, Opaque};
use stamen_core::backoff::{
    Backoff, BackoffConfig, Decision, GiveUpReason, Jitter, Multiplier, Strategy,
};

/// How a delay is drawn from the envelope `e` (pass as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_jitter {
    /// Exactly `e` (reproduces the schedule).
    STAMEN_JITTER_NONE = 0,
    /// Uniform in `[0, e]`.
    STAMEN_JITTER_FULL = 1,
    /// Uniform in `[e/2, e]` (the default).
    STAMEN_JITTER_EQUAL = 2,
    /// `min(cap, uniform[base, 3 × previous delay])`.
    STAMEN_JITTER_DECORRELATED = 3,
}

/// A backoff policy. Fill it with `stamen_backoff_config_default`,
/// `stamen_backoff_config_fixed_default` or
/// `stamen_backoff_config_from_edge`, then adjust fields. Every value of
/// every field is valid except an unknown `strategy`/`jitter` and a
/// multiplier below 1000 permille.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_backoff_config {
    /// A `stamen_backoff_strategy`.
    pub strategy: u32,
    /// Exponential: the first delay; fixed: every delay (ms).
    pub initial_ms: u64,
    /// Exponential growth per retry in thousandths (2000 = ×2, ≥ 1000).
    /// Ignored by fixed.
    pub multiplier_permille: u32,
    /// Exponential: the largest delay (ms). Ignored by fixed.
    pub cap_ms: u64,
    /// A `stamen_jitter`.
    pub jitter: u32,
    /// Attempts in total, i.e. `max_attempts - 1` retries; 0 = unlimited.
    pub max_attempts: u32,
    /// Give up when a retry would start later than this after the first
    /// failure of the streak (ms); 0 = unlimited.
    pub max_elapsed_ms: u64,
}

pub(crate) fn to_c(cfg: &BackoffConfig) -> stamen_backoff_config {
    let (strategy, initial_ms, multiplier_permille, cap_ms) = match cfg.strategy() {
        Strategy::Fixed { interval_ms } => (
            stamen_backoff_strategy::STAMEN_BACKOFF_FIXED,
            interval_ms,
            Multiplier::ONE.permille(),
            interval_ms,
        ),
        Strategy::Exponential {
            initial_ms,
            multiplier,
            cap_ms,
        } => (
            stamen_backoff_strategy::STAMEN_BACKOFF_EXPONENTIAL,
            initial_ms,
            multiplier.permille(),
            cap_ms,
        ),
        // Not produced by core today; describe it by its envelope.
        _ => (
            stamen_backoff_strategy::STAMEN_BACKOFF_EXPONENTIAL,
            cfg.base_ms(),
            Multiplier::TWO.permille(),
            cfg.cap_ms(),
        ),
    };
    stamen_backoff_config {
        strategy: strategy as u32,
        initial_ms,
        multiplier_permille,
        cap_ms,
        jitter: match cfg.jitter() {
            Jitter::None => stamen_jitter::STAMEN_JITTER_NONE,
            Jitter::Full => stamen_jitter::STAMEN_JITTER_FULL,
            Jitter::Decorrelated => stamen_jitter::STAMEN_JITTER_DECORRELATED,
            _ => stamen_jitter::STAMEN_JITTER_EQUAL,
        } as u32,
        max_attempts: cfg.max_attempts().map_or(0, |n| n.get()),
        max_elapsed_ms: cfg.max_elapsed_ms().map_or(0, |n| n.get()),
    }
}

pub(crate) fn from_c(c: &stamen_backoff_config) -> Result<BackoffConfig, stamen_result> {
    let jitter = match c.jitter {
        0 => Jitter::None,
        1 => Jitter::Full,
        2 => Jitter::Equal,
        3 => Jitter::Decorrelated,
        _ => return Err(STAMEN_RESULT_INVALID_ARGUMENT),
    };
    let cfg = match c.strategy {
        0 => {
            let m = Multiplier::from_permille(c.multiplier_permille)
                .map_err(|_| STAMEN_RESULT_BACKOFF_INVALID_MULTIPLIER)?;
            BackoffConfig::exponential(c.initial_ms, m, c.cap_ms)
        }
        1 => BackoffConfig::fixed(c.initial_ms),
        _ => return Err(STAMEN_RESULT_INVALID_ARGUMENT),
    };
    Ok(cfg
        .with_jitter(jitter)
        .with_max_attempts(c.max_attempts)
        .with_max_elapsed_ms(c.max_elapsed_ms))
}

/// The seed default: exponential from 10 s, ×2, capped at
/// `max_backoff_secs` (FL_EDGE_MAX_BACKOFF, normally 300), unlimited,
/// equal jitter.
///
/// # Safety
/// `config` points to a writable `stamen_backoff_config`.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_config_default(
    max_backoff_secs: u64,
    config: *mut stamen_backoff_config,
) -> stamen_result {
    ffi_boundary! {{
        let config = try_out!(config);
        out_write(config, to_c(&BackoffConfig::exponential_default(max_backoff_secs)));
        STAMEN_RESULT_OK
    }}
}

/// The legacy fixed schedule: 10 s, 30 attempts (29 retries), equal jitter
/// (set `jitter` to `STAMEN_JITTER_NONE` for the exact legacy timing).
///
/// # Safety
/// `config` points to a writable `stamen_backoff_config`.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_config_fixed_default(
    config: *mut stamen_backoff_config,
) -> stamen_result {
    ffi_boundary! {{
        let config = try_out!(config);
        out_write(config, to_c(&BackoffConfig::fixed_default()));
        STAMEN_RESULT_OK
    }}
}

/// The discovery backoff an edge VM's context asks for: `FL_EDGE_BACKOFF`
/// fixed → the legacy fixed default, else exponential capped at
/// `FL_EDGE_MAX_BACKOFF`.
///
/// # Safety
/// `edge` points to a `stamen_edge_config` (from
/// `stamen_edge_config_parse`); `config` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_config_from_edge(
    edge: *const stamen_edge_config,
    config: *mut stamen_backoff_config,
) -> stamen_result {
    ffi_boundary! {{
        let edge = try_ref!(edge);
        let config = try_out!(config);
        let cfg = match edge.backoff {
            0 => BackoffConfig::exponential_default(u64::from(edge.max_backoff_secs)),
            1 => BackoffConfig::fixed_default(),
            _ => return STAMEN_RESULT_INVALID_ARGUMENT,
        };
        out_write(config, to_c(&cfg));
        STAMEN_RESULT_OK
    }}
}

/// Words in a `stamen_backoff`.
pub const STAMEN_BACKOFF_WORDS: usize = 24;

/// A backoff state machine, owned by the caller (on the stack, in a struct,
/// static). Initialise it with `stamen_backoff_init`; do not touch its
/// bytes. It holds no pointers, so it may be copied with `memcpy`.
#[repr(C)]
pub struct stamen_backoff {
    _opaque: [u64; STAMEN_BACKOFF_WORDS],
}

opaque_fits!(stamen_backoff, Backoff);

impl Opaque for stamen_backoff {
    type Inner = Backoff;
    const MAGIC: u64 = 0x7374_616d_6e62_6b31; // "stamnbk1"
}

/// Starts a backoff with no failures yet; `seed` drives the jitter (pass
/// something that differs between nodes, e.g. the VMID mixed with the time).
///
/// # Safety
/// `config` is readable; `backoff` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_init(
    config: *const stamen_backoff_config,
    seed: u64,
    backoff: *mut stamen_backoff,
) -> stamen_result {
    ffi_boundary! {{
        let config = try_ref!(config);
        let backoff = try_out!(backoff);
        let cfg = tri!(from_c(config));
        stamen_backoff::store(backoff, Backoff::new(cfg, seed));
        STAMEN_RESULT_OK
    }}
}

/// What to do after a failure (`stamen_decision.kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_decision_kind {
    /// Try again at `at_ms`.
    STAMEN_DECISION_RETRY = 0,
    /// Stop: `max_attempts` reached (`attempt` holds the attempts made).
    STAMEN_DECISION_GIVE_UP_MAX_ATTEMPTS = 1,
    /// Stop: the next retry would pass `max_elapsed_ms` (`elapsed_ms`).
    STAMEN_DECISION_GIVE_UP_MAX_ELAPSED = 2,
}

/// The answer of `stamen_backoff_on_failure`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_decision {
    /// A `stamen_decision_kind`.
    pub kind: u32,
    /// Retry: when the next attempt is due (`now_ms + delay_ms`).
    pub at_ms: u64,
    /// Retry: how long to wait (ms).
    pub delay_ms: u64,
    /// Retry: number of the attempt due at `at_ms` (the first try is 1, so
    /// the first retry is 2). Give-up on attempts: attempts made.
    pub attempt: u32,
    /// Give-up on time: ms from the streak's first failure to this one.
    pub elapsed_ms: u64,
}

/// Records a failed attempt at `now_ms` and decides what to do next. After
/// a give-up every further failure repeats it until a success.
///
/// # Safety
/// `backoff` was initialised by `stamen_backoff_init`; `decision` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_on_failure(
    backoff: *mut stamen_backoff,
    now_ms: u64,
    decision: *mut stamen_decision,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(backoff);
        let decision = try_out!(decision);
        let mut b = *tri!(stamen_backoff::load(p));
        let d = b.on_failure(now_ms);
        stamen_backoff::store(p, b);
        let mut out = stamen_decision {
            kind: stamen_decision_kind::STAMEN_DECISION_RETRY as u32,
            at_ms: 0,
            delay_ms: 0,
            attempt: 0,
            elapsed_ms: 0,
        };
        match d {
            Decision::Retry { at_ms, delay_ms, attempt } => {
                out.at_ms = at_ms;
                out.delay_ms = delay_ms;
                out.attempt = attempt;
            }
            Decision::GiveUp { reason: GiveUpReason::MaxAttempts { attempts } } => {
                out.kind = stamen_decision_kind::STAMEN_DECISION_GIVE_UP_MAX_ATTEMPTS as u32;
                out.attempt = attempts;
            }
            Decision::GiveUp { reason } => {
                out.kind = stamen_decision_kind::STAMEN_DECISION_GIVE_UP_MAX_ELAPSED as u32;
                if let GiveUpReason::MaxElapsed { elapsed_ms } = reason {
                    out.elapsed_ms = elapsed_ms;
                }
            }
            _ => return STAMEN_RESULT_PANIC,
        }
        out_write(decision, out);
        STAMEN_RESULT_OK
    }}
}

/// Records a success: the streak ends and the next failure waits the
/// initial delay again (the jitter stream continues).
///
/// # Safety
/// `backoff` was initialised by `stamen_backoff_init`.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_on_success(
    backoff: *mut stamen_backoff,
    now_ms: u64,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(backoff);
        let mut b = *tri!(stamen_backoff::load(p));
        b.on_success(now_ms);
        stamen_backoff::store(p, b);
        STAMEN_RESULT_OK
    }}
}

/// A server hint (e.g. HTTP `Retry-After`, in ms): the next delay is at
/// least `delay_ms`, even above the cap. Call it before the
/// `stamen_backoff_on_failure` of the failed request.
///
/// # Safety
/// `backoff` was initialised by `stamen_backoff_init`.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_hint_retry_after(
    backoff: *mut stamen_backoff,
    delay_ms: u64,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(backoff);
        let mut b = *tri!(stamen_backoff::load(p));
        b.hint_retry_after(delay_ms);
        stamen_backoff::store(p, b);
        STAMEN_RESULT_OK
    }}
}

/// When the scheduled retry is due. `STAMEN_RESULT_NOT_FOUND` when none is
/// scheduled (before the first failure, after a success or a give-up).
///
/// # Safety
/// `backoff` was initialised; `at_ms` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_poll_at(
    backoff: *const stamen_backoff,
    at_ms: *mut u64,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(backoff);
        let at_ms = try_out!(at_ms);
        let b = *tri!(stamen_backoff::load(p));
        let Some(at) = b.poll_at() else { return STAMEN_RESULT_NOT_FOUND };
        out_write(at_ms, at);
        STAMEN_RESULT_OK
    }}
}

/// Consecutive failures (= failed attempts) in the current streak.
///
/// # Safety
/// `backoff` was initialised; `failures` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_backoff_failures(
    backoff: *const stamen_backoff,
    failures: *mut u32,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(backoff);
        let failures = try_out!(failures);
        let b = *tri!(stamen_backoff::load(p));
        out_write(failures, b.failures());
        STAMEN_RESULT_OK
    }}
}
