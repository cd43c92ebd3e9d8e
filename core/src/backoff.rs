//! Retry backoff: a sans-IO state machine for discovery and restart retries.
//!
//! The caller reports outcomes and the current time; the machine answers when
//! to try next. It never sleeps, reads a clock or allocates.
//!
//! ```
//! use stamen_core::backoff::{Backoff, BackoffConfig, Decision, Jitter};
//!
//! // The seed schedule without jitter: 10 s, doubling, capped at 300 s.
//! let cfg = BackoffConfig::exponential_default(300).with_jitter(Jitter::None);
//! let mut b = Backoff::new(cfg, 42);
//! let mut now = 0;
//! let mut delays = [0u64; 8];
//! for d in delays.iter_mut() {
//!     match b.on_failure(now) {
//!         Decision::Retry { at_ms, delay_ms, .. } => { *d = delay_ms / 1000; now = at_ms; }
//!         _ => unreachable!("unlimited attempts and time"),
//!     }
//! }
//! assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
//! b.on_success(now); // the next failure starts again at 10 s
//! ```
//!
//! # Attempts, retries and failures (read this before setting a limit)
//!
//! An **attempt** is one try of the operation; the very first try is attempt 1.
//! A **retry** is every attempt after the first, so retry *r* is attempt *r*+1,
//! and it is preceded by the *r*-th delay. [`Backoff::on_failure`] is called
//! once per failed attempt.
//!
//! `max_attempts = N` allows **N attempts in total, i.e. N − 1 retries**: the
//! N-th consecutive failure returns [`Decision::GiveUp`]. With the legacy
//! fixed default (`N = 30`) the operation is tried 30 times with 29 waits in
//! between. `max_attempts = 1` means "never retry". Unlimited is `0` in
//! [`BackoffConfig::with_max_attempts`].
//!
//! [`Decision::Retry::attempt`] is the number of the attempt that is due at
//! `at_ms` — after the first failure it is 2.
//!
//! # The delay of retry *r*
//!
//! 1. The **envelope** `e(r)` depends only on *r*, never on earlier jitter:
//!    exponential `e(r) = min(cap, ⌈initial × m^(r−1)⌉)` (computed step by
//!    step, rounding each step up, so a small delay with a multiplier above 1
//!    always grows); fixed `e(r) = interval`. Integer milliseconds,
//!    saturating; `e` reaches the cap and stays there for every `r` up to
//!    `u32::MAX`.
//! 2. **Jitter** picks the delay from the envelope with the caller-seeded
//!    [`SplitMix64`]:
//!    `None` → `e`; `Full` → uniform in `[0, e]`; `Equal` → uniform in
//!    `[⌊e/2⌋, e]` (the seed schedule is an upper envelope);
//!    `Decorrelated` → `min(cap, uniform[base, 3 × previous])` where `base =
//!    min(initial, cap)` and `previous` is the last decorrelated delay (it
//!    starts at `base`). Decorrelated is the only mode that depends on the
//!    previous delay, by definition, and it is still capped. For the fixed
//!    strategy the cap is the interval, so decorrelated always yields it.
//!    No jitter mode ever yields more than the cap, and jitter never feeds back
//!    into the next envelope (no compounding).
//! 3. A **server hint** ([`Backoff::hint_retry_after`], e.g. from an HTTP
//!    `Retry-After`) raises the next delay to at least the hint. It is the
//!    server's explicit request, so it is honoured even above the cap (the cap
//!    bounds our own schedule); it applies to one delay and does not change the
//!    envelope or the attempt count.
//! 4. **Max elapsed**: the streak starts at its first failure. A retry that
//!    would start later than `streak start + max_elapsed` is not scheduled:
//!    the failure returns [`GiveUpReason::MaxElapsed`] instead.
//!
//! # Reset
//!
//! [`Backoff::on_success`] ends the streak: the failure count, the envelope,
//! the decorrelated state, a pending hint and a give-up are all cleared, so the
//! next failure waits the initial delay again. The PRNG stream continues (the
//! whole run stays reproducible from the seed).

use crate::rng::SplitMix64;
use core::fmt;
use core::num::{NonZeroU32, NonZeroU64};
use core::str::FromStr;

/// Initial delay of the default exponential schedule: 10 s.
pub const DEFAULT_INITIAL_MS: u64 = 10_000;
/// Default cap of the exponential schedule (FL_EDGE_MAX_BACKOFF): 300 s.
pub const DEFAULT_MAX_BACKOFF_SECS: u64 = 300;
/// Interval of the legacy fixed schedule: 10 s.
pub const DEFAULT_FIXED_INTERVAL_MS: u64 = 10_000;
/// Attempt limit of the legacy fixed schedule: 30 attempts (29 retries).
pub const DEFAULT_FIXED_MAX_ATTEMPTS: u32 = 30;

/// Growth factor of the exponential envelope, in thousandths (`2000` = ×2,
/// `1600` = ×1.6). Always at least ×1, so the envelope never shrinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Multiplier(u32);

impl Multiplier {
    /// ×1: the envelope stays at the initial delay.
    pub const ONE: Multiplier = Multiplier(1000);
    /// ×2: the seed schedule's doubling.
    pub const TWO: Multiplier = Multiplier(2000);

    /// A multiplier of `permille / 1000`.
    ///
    /// # Errors
    /// [`MultiplierError::BelowOne`] if `permille < 1000`.
    pub const fn from_permille(permille: u32) -> Result<Self, MultiplierError> {
        if permille < 1000 {
            Err(MultiplierError::BelowOne)
        } else {
            Ok(Multiplier(permille))
        }
    }

    /// The multiplier in thousandths.
    pub const fn permille(self) -> u32 {
        self.0
    }
}

impl Default for Multiplier {
    fn default() -> Self {
        Multiplier::TWO
    }
}

impl fmt::Display for Multiplier {
    /// Decimal form without trailing zeros: `2`, `1.6`, `1.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let mut frac = self.0 % 1000;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let mut width = 3;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{whole}.{frac:0width$}")
    }
}

impl FromStr for Multiplier {
    type Err = MultiplierError;

    /// Parses `2`, `1.6`, `1.125` (at most three decimals, no sign, no
    /// exponent, at least ×1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(MultiplierError::Empty);
        }
        let mut whole: u64 = 0;
        let mut frac: u64 = 0;
        let mut frac_digits = 0u32;
        let mut seen_point = false;
        let mut whole_digits = 0u32;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'0'..=b'9' => {
                    let d = u64::from(b - b'0');
                    if seen_point {
                        frac_digits += 1;
                        if frac_digits > 3 {
                            return Err(MultiplierError::TooPrecise { offset: i });
                        }
                        frac = frac * 10 + d;
                    } else {
                        whole_digits += 1;
                        whole = whole
                            .checked_mul(10)
                            .and_then(|w| w.checked_add(d))
                            .ok_or(MultiplierError::TooLarge)?;
                    }
                }
                b'.' if !seen_point && whole_digits > 0 => seen_point = true,
                _ => return Err(MultiplierError::InvalidChar { offset: i }),
            }
        }
        if seen_point && frac_digits == 0 {
            return Err(MultiplierError::InvalidChar {
                offset: bytes.len(),
            });
        }
        while frac_digits < 3 {
            frac *= 10;
            frac_digits += 1;
        }
        let permille = whole
            .checked_mul(1000)
            .and_then(|w| w.checked_add(frac))
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(MultiplierError::TooLarge)?;
        Multiplier::from_permille(permille)
    }
}

/// Why a multiplier was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiplierError {
    /// The text was empty.
    Empty,
    /// A character other than a digit or one decimal point (after a digit,
    /// followed by a digit) at byte `offset`.
    InvalidChar {
        /// Byte offset of the offending character (the text length if the
        /// text ends right after the point).
        offset: usize,
    },
    /// More than three decimals; the fourth is at byte `offset`.
    TooPrecise {
        /// Byte offset of the first decimal beyond the third.
        offset: usize,
    },
    /// Above ×4294967.295 (the largest representable factor).
    TooLarge,
    /// Below ×1: the envelope would shrink.
    BelowOne,
}

impl fmt::Display for MultiplierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultiplierError::Empty => f.write_str("multiplier is empty"),
            MultiplierError::InvalidChar { offset } => write!(
                f,
                "invalid multiplier at byte {offset}: expected a decimal number like 2 or 1.6"
            ),
            MultiplierError::TooPrecise { offset } => write!(
                f,
                "multiplier has more than 3 decimals (byte {offset}); allowed: e.g. 1.125"
            ),
            MultiplierError::TooLarge => f.write_str("multiplier too large (at most 4294967.295)"),
            MultiplierError::BelowOne => f.write_str("multiplier must be at least 1"),
        }
    }
}

impl core::error::Error for MultiplierError {}

/// How the envelope (the un-jittered delay) evolves with the retry number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// `min(cap_ms, ⌈initial_ms × multiplier^(r−1)⌉)` for retry `r`.
    Exponential {
        /// Envelope of the first retry, in milliseconds.
        initial_ms: u64,
        /// Growth per retry.
        multiplier: Multiplier,
        /// Largest envelope (and largest jittered delay), in milliseconds.
        cap_ms: u64,
    },
    /// The same envelope for every retry.
    Fixed {
        /// Envelope of every retry (also its cap), in milliseconds.
        interval_ms: u64,
    },
}

/// How the delay is drawn from the envelope `e`. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly `e`: reproduces the schedule.
    None,
    /// Uniform in `[0, e]`.
    Full,
    /// Uniform in `[⌊e/2⌋, e]` (the default).
    #[default]
    Equal,
    /// `min(cap, uniform[base, 3 × previous delay])`.
    Decorrelated,
}

impl Jitter {
    /// The lower-case name used on the command line and in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Jitter {
    type Err = UnknownJitter;
    /// Accepts exactly `none`, `full`, `equal`, `decorrelated`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Jitter::None),
            "full" => Ok(Jitter::Full),
            "equal" => Ok(Jitter::Equal),
            "decorrelated" => Ok(Jitter::Decorrelated),
            _ => Err(UnknownJitter),
        }
    }
}

/// A jitter name other than `none`, `full`, `equal`, `decorrelated`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownJitter;

impl fmt::Display for UnknownJitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown jitter; allowed: none, full, equal, decorrelated")
    }
}

impl core::error::Error for UnknownJitter {}

/// A complete backoff policy. Every value of every field is valid: zero
/// delays mean "retry immediately", huge ones saturate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    strategy: Strategy,
    jitter: Jitter,
    max_attempts: Option<NonZeroU32>,
    max_elapsed_ms: Option<NonZeroU64>,
}

impl BackoffConfig {
    /// Exponential envelope, equal jitter, no limits.
    pub const fn exponential(initial_ms: u64, multiplier: Multiplier, cap_ms: u64) -> Self {
        BackoffConfig {
            strategy: Strategy::Exponential {
                initial_ms,
                multiplier,
                cap_ms,
            },
            jitter: Jitter::Equal,
            max_attempts: None,
            max_elapsed_ms: None,
        }
    }

    /// Fixed envelope, equal jitter, no limits.
    pub const fn fixed(interval_ms: u64) -> Self {
        BackoffConfig {
            strategy: Strategy::Fixed { interval_ms },
            jitter: Jitter::Equal,
            max_attempts: None,
            max_elapsed_ms: None,
        }
    }

    /// The seed default: 10 s, ×2, capped at `max_backoff_secs` seconds
    /// (FL_EDGE_MAX_BACKOFF, normally [`DEFAULT_MAX_BACKOFF_SECS`]),
    /// unlimited attempts and time, equal jitter.
    pub const fn exponential_default(max_backoff_secs: u64) -> Self {
        BackoffConfig::exponential(
            DEFAULT_INITIAL_MS,
            Multiplier::TWO,
            max_backoff_secs.saturating_mul(1000),
        )
    }

    /// The legacy fixed schedule: 10 s, 30 attempts (29 retries), equal
    /// jitter (use [`with_jitter`](Self::with_jitter) with [`Jitter::None`]
    /// for the exact legacy timing).
    pub const fn fixed_default() -> Self {
        BackoffConfig::fixed(DEFAULT_FIXED_INTERVAL_MS)
            .with_max_attempts(DEFAULT_FIXED_MAX_ATTEMPTS)
    }

    /// The same policy with another jitter mode.
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The same policy allowing `max_attempts` attempts in total
    /// (`max_attempts − 1` retries); `0` means unlimited.
    pub const fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = NonZeroU32::new(max_attempts);
        self
    }

    /// The same policy giving up when a retry would start more than
    /// `max_elapsed_ms` after the first failure of the streak; `0` means
    /// unlimited.
    pub const fn with_max_elapsed_ms(mut self, max_elapsed_ms: u64) -> Self {
        self.max_elapsed_ms = NonZeroU64::new(max_elapsed_ms);
        self
    }

    /// The envelope strategy.
    pub const fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The jitter mode.
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The attempt limit (`None` = unlimited).
    pub const fn max_attempts(&self) -> Option<NonZeroU32> {
        self.max_attempts
    }

    /// The elapsed-time limit in milliseconds (`None` = unlimited).
    pub const fn max_elapsed_ms(&self) -> Option<NonZeroU64> {
        self.max_elapsed_ms
    }

    /// The largest delay jitter can produce (the exponential cap, or the
    /// fixed interval).
    pub const fn cap_ms(&self) -> u64 {
        match self.strategy {
            Strategy::Exponential { cap_ms, .. } => cap_ms,
            Strategy::Fixed { interval_ms } => interval_ms,
        }
    }

    /// The envelope of the first retry: `min(initial, cap)`, or the interval.
    pub const fn base_ms(&self) -> u64 {
        match self.strategy {
            Strategy::Exponential {
                initial_ms, cap_ms, ..
            } => {
                if initial_ms < cap_ms {
                    initial_ms
                } else {
                    cap_ms
                }
            }
            Strategy::Fixed { interval_ms } => interval_ms,
        }
    }

    /// The envelope after `e`: one exponential step, rounded up, capped.
    fn grow(&self, e: u64) -> u64 {
        match self.strategy {
            Strategy::Exponential {
                multiplier, cap_ms, ..
            } => {
                if e >= cap_ms {
                    return cap_ms;
                }
                // u64 × u32 fits in u128; the ceiling division cannot overflow.
                let scaled = u128::from(e) * u128::from(multiplier.permille());
                let next = scaled.div_ceil(1000);
                u64::try_from(next).map_or(cap_ms, |n| n.min(cap_ms))
            }
            Strategy::Fixed { interval_ms } => interval_ms,
        }
    }

    /// The envelope (un-jittered delay) of retry `retry` (1-based; retry 0
    /// is treated as retry 1). Pure and bounded: it stops as soon as the
    /// envelope reaches the cap or stops changing, so it is cheap even for
    /// `retry = u32::MAX`.
    pub fn envelope_ms(&self, retry: u32) -> u64 {
        let mut e = self.base_ms();
        let mut steps = retry.saturating_sub(1);
        while steps > 0 {
            let next = self.grow(e);
            if next == e {
                break;
            }
            e = next;
            steps -= 1;
        }
        e
    }
}

impl Default for BackoffConfig {
    /// [`BackoffConfig::exponential_default`] with the 300 s cap.
    fn default() -> Self {
        BackoffConfig::exponential_default(DEFAULT_MAX_BACKOFF_SECS)
    }
}

/// Why [`Backoff::on_failure`] stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The failure was attempt number `max_attempts`.
    MaxAttempts {
        /// Attempts made in the streak (equals the configured limit).
        attempts: u32,
    },
    /// The next retry would start after the streak's elapsed-time limit.
    MaxElapsed {
        /// Milliseconds from the streak's first failure to this failure.
        elapsed_ms: u64,
    },
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUpReason::MaxAttempts { attempts } => {
                write!(
                    f,
                    "gave up after {attempts} attempts (max attempts reached)"
                )
            }
            GiveUpReason::MaxElapsed { elapsed_ms } => write!(
                f,
                "gave up after {elapsed_ms} ms: the next retry would pass max elapsed time"
            ),
        }
    }
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Try again at `at_ms`.
    Retry {
        /// When the next attempt is due (`now_ms + delay_ms`, saturating).
        at_ms: u64,
        /// How long to wait, in milliseconds.
        delay_ms: u64,
        /// Number of the attempt due at `at_ms` (the first try is attempt 1,
        /// so the first `Retry` of a streak carries 2). Saturates at
        /// `u32::MAX`.
        attempt: u32,
    },
    /// Stop retrying; repeated by every later failure until a success.
    GiveUp {
        /// Which limit was hit.
        reason: GiveUpReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Waiting { at_ms: u64 },
    GaveUp(GiveUpReason),
}

/// The backoff state machine. `Copy`, allocation-free, deterministic for a
/// given config, seed and sequence of calls.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    rng: SplitMix64,
    /// Consecutive failures in the current streak (saturating).
    failures: u32,
    /// Envelope of the next retry.
    envelope_ms: u64,
    /// Last decorrelated delay (starts at the base).
    prev_ms: u64,
    streak_start_ms: Option<u64>,
    hint_ms: Option<u64>,
    state: State,
}

impl Backoff {
    /// A fresh machine (no failures yet) drawing jitter from `seed`.
    pub const fn new(config: BackoffConfig, seed: u64) -> Self {
        let base = config.base_ms();
        Backoff {
            config,
            rng: SplitMix64::new(seed),
            failures: 0,
            envelope_ms: base,
            prev_ms: base,
            streak_start_ms: None,
            hint_ms: None,
            state: State::Idle,
        }
    }

    /// The policy.
    pub const fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Consecutive failures (= failed attempts) in the current streak.
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// When the scheduled retry is due, if one is scheduled (after a
    /// `Retry`, until the next success or failure).
    pub const fn poll_at(&self) -> Option<u64> {
        match self.state {
            State::Waiting { at_ms } => Some(at_ms),
            _ => None,
        }
    }

    /// Whether a scheduled retry is due at `now_ms`.
    pub const fn is_due(&self, now_ms: u64) -> bool {
        match self.state {
            State::Waiting { at_ms } => now_ms >= at_ms,
            _ => false,
        }
    }

    /// The give-up reason, once the machine has given up.
    pub const fn gave_up(&self) -> Option<GiveUpReason> {
        match self.state {
            State::GaveUp(r) => Some(r),
            _ => None,
        }
    }

    /// Record a server hint (e.g. `Retry-After`, converted to ms by the
    /// caller): the next delay will be at least `delay_ms`. Call it before
    /// the [`on_failure`](Self::on_failure) of the failed request; several
    /// hints keep the largest. Cleared by that failure and by a success.
    pub fn hint_retry_after(&mut self, delay_ms: u64) {
        self.hint_ms = Some(self.hint_ms.map_or(delay_ms, |h| h.max(delay_ms)));
    }

    /// Record a failed attempt at `now_ms` and decide what to do next.
    pub fn on_failure(&mut self, now_ms: u64) -> Decision {
        if let State::GaveUp(reason) = self.state {
            return Decision::GiveUp { reason };
        }
        let start = *self.streak_start_ms.get_or_insert(now_ms);
        self.failures = self.failures.saturating_add(1);
        let hint = self.hint_ms.take();

        if let Some(max) = self.config.max_attempts {
            if self.failures >= max.get() {
                return self.give_up(GiveUpReason::MaxAttempts {
                    attempts: self.failures,
                });
            }
        }

        let envelope = self.envelope_ms;
        self.envelope_ms = self.config.grow(envelope);
        let mut delay_ms = self.jittered(envelope);
        if let Some(h) = hint {
            delay_ms = delay_ms.max(h);
        }
        let at_ms = now_ms.saturating_add(delay_ms);

        if let Some(max) = self.config.max_elapsed_ms {
            if at_ms > start.saturating_add(max.get()) {
                return self.give_up(GiveUpReason::MaxElapsed {
                    elapsed_ms: now_ms.saturating_sub(start),
                });
            }
        }

        self.state = State::Waiting { at_ms };
        Decision::Retry {
            at_ms,
            delay_ms,
            attempt: self.failures.saturating_add(1),
        }
    }

    /// Record a success at `now_ms`: the streak ends and the next failure
    /// waits the initial delay again (see "Reset" in the module docs).
    /// The time is not needed for the reset itself; it is taken so every
    /// event has the same shape.
    pub fn on_success(&mut self, now_ms: u64) {
        let _ = now_ms;
        self.reset();
    }

    /// Forget the streak (as after a success) without reporting one.
    pub fn reset(&mut self) {
        let base = self.config.base_ms();
        self.failures = 0;
        self.envelope_ms = base;
        self.prev_ms = base;
        self.streak_start_ms = None;
        self.hint_ms = None;
        self.state = State::Idle;
    }

    fn give_up(&mut self, reason: GiveUpReason) -> Decision {
        self.state = State::GaveUp(reason);
        Decision::GiveUp { reason }
    }

    fn jittered(&mut self, e: u64) -> u64 {
        match self.config.jitter {
            Jitter::None => e,
            Jitter::Full => self.rng.range_inclusive(0, e),
            Jitter::Equal => {
                let half = e / 2;
                half + self.rng.range_inclusive(0, e - half)
            }
            Jitter::Decorrelated => {
                let cap = self.config.cap_ms();
                let base = self.config.base_ms();
                let hi = self.prev_ms.saturating_mul(3).min(cap).max(base);
                let d = self.rng.range_inclusive(base, hi);
                self.prev_ms = d;
                d
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    /// A backoff script: `at T => fail, delay D;` expects a retry after D ms
    /// (due at T + D); `at T => fail, give_up Reason;` expects a give-up;
    /// `at T => success;` resets; `hint H;` records a server hint.
    macro_rules! script {
        ($b:ident;) => {};
        ($b:ident; at $t:expr => fail, delay $d:expr; $($rest:tt)*) => {
            match $b.on_failure($t) {
                Decision::Retry { at_ms, delay_ms, .. } => {
                    assert_eq!(delay_ms, $d, "delay of the failure at {}", $t);
                    assert_eq!(at_ms, $t + $d, "due time of the failure at {}", $t);
                    assert_eq!($b.poll_at(), Some(at_ms));
                }
                other => panic!("failure at {}: expected a retry, got {:?}", $t, other),
            }
            script!($b; $($rest)*);
        };
        ($b:ident; at $t:expr => fail, give_up $r:ident; $($rest:tt)*) => {
            match $b.on_failure($t) {
                Decision::GiveUp { reason: GiveUpReason::$r { .. } } => {
                    assert_eq!($b.poll_at(), None);
                }
                other => panic!("failure at {}: expected a give-up, got {:?}", $t, other),
            }
            script!($b; $($rest)*);
        };
        ($b:ident; at $t:expr => success; $($rest:tt)*) => {
            $b.on_success($t);
            assert_eq!($b.poll_at(), None);
            assert_eq!($b.failures(), 0);
            script!($b; $($rest)*);
        };
        ($b:ident; hint $h:expr; $($rest:tt)*) => {
            $b.hint_retry_after($h);
            script!($b; $($rest)*);
        };
    }

    fn none(cfg: BackoffConfig) -> Backoff {
        Backoff::new(cfg.with_jitter(Jitter::None), 1)
    }

    #[test]
    fn seed_schedule_without_jitter() {
        let mut b = none(BackoffConfig::exponential_default(300));
        script!(b;
            at 0 => fail, delay 10_000;
            at 10_000 => fail, delay 20_000;
            at 30_000 => fail, delay 40_000;
            at 70_000 => fail, delay 80_000;
            at 150_000 => fail, delay 160_000;
            at 310_000 => fail, delay 300_000;
            at 610_000 => fail, delay 300_000;
            at 910_000 => fail, delay 300_000;
        );
    }

    #[test]
    fn success_resets_to_initial_delay() {
        let mut b = none(BackoffConfig::exponential_default(300));
        script!(b;
            at 0 => fail, delay 10_000;
            at 10_000 => fail, delay 20_000;
            at 30_000 => fail, delay 40_000;
            at 70_000 => success;
            at 500_000 => fail, delay 10_000;
            at 510_000 => fail, delay 20_000;
        );
    }

    #[test]
    fn fixed_default_allows_30_attempts_29_retries() {
        let mut b = none(BackoffConfig::fixed_default());
        for i in 0..29u64 {
            script!(b; at i * 10_000 => fail, delay 10_000;);
        }
        assert_eq!(b.failures(), 29);
        script!(b; at 290_000 => fail, give_up MaxAttempts;);
        assert_eq!(
            b.gave_up(),
            Some(GiveUpReason::MaxAttempts { attempts: 30 })
        );
        // Sticky until a success.
        script!(b;
            at 300_000 => fail, give_up MaxAttempts;
            at 310_000 => success;
            at 320_000 => fail, delay 10_000;
        );
    }

    #[test]
    fn attempt_number_is_the_attempt_due_next() {
        let mut b = none(BackoffConfig::fixed(5));
        assert!(matches!(
            b.on_failure(0),
            Decision::Retry { attempt: 2, .. }
        ));
        assert!(matches!(
            b.on_failure(5),
            Decision::Retry { attempt: 3, .. }
        ));
    }

    #[test]
    fn max_attempts_one_never_retries() {
        let mut b = none(BackoffConfig::fixed(5).with_max_attempts(1));
        script!(b; at 0 => fail, give_up MaxAttempts;);
    }

    #[test]
    fn max_elapsed_gives_up_before_passing_the_deadline() {
        // Deadline 70 s after the first failure: retries at 10, 30, 70 s
        // fit; the next one (at 150 s) would not.
        let mut b = none(BackoffConfig::exponential_default(300).with_max_elapsed_ms(70_000));
        script!(b;
            at 0 => fail, delay 10_000;
            at 10_000 => fail, delay 20_000;
            at 30_000 => fail, delay 40_000;
            at 70_000 => fail, give_up MaxElapsed;
        );
    }

    #[test]
    fn hint_raises_one_delay_only() {
        let mut b = none(BackoffConfig::exponential_default(300));
        script!(b;
            at 0 => fail, delay 10_000;
            hint 45_000;
            at 10_000 => fail, delay 45_000;
            // The envelope kept its own course (40 s), the hint is gone.
            at 55_000 => fail, delay 40_000;
            hint 1_000;
            at 95_000 => fail, delay 80_000;
            // A hint above the cap is honoured once.
            hint 900_000;
            at 175_000 => fail, delay 900_000;
            at 1_075_000 => fail, delay 300_000;
        );
    }

    #[test]
    fn success_clears_a_pending_hint() {
        let mut b = none(BackoffConfig::fixed(1_000));
        script!(b;
            hint 60_000;
            at 0 => success;
            at 1 => fail, delay 1_000;
        );
    }

    #[test]
    fn fractional_multiplier_rounds_up() {
        let m: Multiplier = "1.6".parse().unwrap();
        let mut b = none(BackoffConfig::exponential(1_000, m, 120_000));
        script!(b;
            at 0 => fail, delay 1_000;
            at 0 => fail, delay 1_600;
            at 0 => fail, delay 2_560;
            at 0 => fail, delay 4_096;
        );
        // Tiny initial still grows with a small multiplier.
        let m: Multiplier = "1.001".parse().unwrap();
        let mut b = none(BackoffConfig::exponential(1, m, 10));
        script!(b;
            at 0 => fail, delay 1;
            at 0 => fail, delay 2;
            at 0 => fail, delay 3;
        );
    }

    #[test]
    fn zero_configs_retry_immediately() {
        let mut b = none(BackoffConfig::exponential(0, Multiplier::TWO, 0));
        script!(b; at 5 => fail, delay 0; at 5 => fail, delay 0;);
        let mut b = Backoff::new(BackoffConfig::fixed(0).with_jitter(Jitter::Decorrelated), 3);
        script!(b; at 5 => fail, delay 0;);
    }

    #[test]
    fn saturates_at_u32_max_failures() {
        let cfg = BackoffConfig::exponential(u64::MAX, Multiplier::TWO, u64::MAX)
            .with_jitter(Jitter::Equal);
        let mut b = Backoff::new(cfg, 9);
        b.failures = u32::MAX - 1;
        b.envelope_ms = cfg.envelope_ms(u32::MAX);
        for _ in 0..3 {
            match b.on_failure(u64::MAX - 1) {
                Decision::Retry {
                    at_ms,
                    delay_ms,
                    attempt,
                } => {
                    assert_eq!(attempt, u32::MAX);
                    assert_eq!(at_ms, u64::MAX);
                    assert!(delay_ms >= u64::MAX / 2);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(b.failures(), u32::MAX);
        // The limit u32::MAX is reached, not skipped, by saturation.
        let mut b = Backoff::new(cfg.with_max_attempts(u32::MAX), 9);
        b.failures = u32::MAX - 1;
        assert!(matches!(
            b.on_failure(0),
            Decision::GiveUp {
                reason: GiveUpReason::MaxAttempts { attempts: u32::MAX }
            }
        ));
    }

    #[test]
    fn envelope_closed_form_matches_machine() {
        let cfg = BackoffConfig::exponential(7, "1.5".parse().unwrap(), 1_000_000)
            .with_jitter(Jitter::None);
        let mut b = Backoff::new(cfg, 0);
        for r in 1..200u32 {
            match b.on_failure(0) {
                Decision::Retry { delay_ms, .. } => assert_eq!(delay_ms, cfg.envelope_ms(r)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(cfg.envelope_ms(u32::MAX), 1_000_000);
        assert_eq!(cfg.envelope_ms(0), 7);
    }

    #[test]
    fn equal_jitter_pinned_for_seed() {
        // Bit-exact: SplitMix64(42), Lemire ranges, equal jitter. Recomputed
        // independently in Python from the module-doc definitions.
        let mut b = Backoff::new(BackoffConfig::exponential_default(300), 42);
        let mut got = [0u64; 8];
        let mut now = 0;
        for g in got.iter_mut() {
            if let Decision::Retry {
                delay_ms, at_ms, ..
            } = b.on_failure(now)
            {
                *g = delay_ms;
                now = at_ms;
            }
        }
        assert_eq!(got, EQUAL_SEED_42);
    }

    const EQUAL_SEED_42: [u64; 8] = [8708, 11599, 25572, 53767, 83042, 280235, 182760, 270095];

    fn schedule(jitter: Jitter, seed: u64) -> [u64; 8] {
        let mut b = Backoff::new(
            BackoffConfig::exponential_default(300).with_jitter(jitter),
            seed,
        );
        let mut got = [0u64; 8];
        for g in got.iter_mut() {
            if let Decision::Retry { delay_ms, .. } = b.on_failure(0) {
                *g = delay_ms;
            }
        }
        got
    }

    #[test]
    fn full_and_decorrelated_pinned_for_seed() {
        // Same independent Python reference as above.
        assert_eq!(
            schedule(Jitter::Full, 7),
            [3898, 335, 36031, 46635, 72391, 74829, 140386, 98423]
        );
        assert_eq!(
            schedule(Jitter::Decorrelated, 1),
            [21331, 50267, 146719, 138864, 138837, 231240, 264431, 161690]
        );
    }

    #[test]
    fn multiplier_parse_and_display() {
        for (s, p) in [
            ("2", 2000),
            ("1.6", 1600),
            ("1.125", 1125),
            ("1", 1000),
            ("10.05", 10050),
        ] {
            let m: Multiplier = s.parse().unwrap();
            assert_eq!(m.permille(), p);
            assert_eq!(m.to_string(), s);
        }
        assert_eq!("".parse::<Multiplier>(), Err(MultiplierError::Empty));
        assert_eq!("0.5".parse::<Multiplier>(), Err(MultiplierError::BelowOne));
        assert_eq!(
            "1.2345".parse::<Multiplier>(),
            Err(MultiplierError::TooPrecise { offset: 5 })
        );
        assert_eq!(
            "-2".parse::<Multiplier>(),
            Err(MultiplierError::InvalidChar { offset: 0 })
        );
        assert_eq!(
            "2.".parse::<Multiplier>(),
            Err(MultiplierError::InvalidChar { offset: 2 })
        );
        assert_eq!(
            ".5".parse::<Multiplier>(),
            Err(MultiplierError::InvalidChar { offset: 0 })
        );
        assert_eq!(
            "4294967.296".parse::<Multiplier>(),
            Err(MultiplierError::TooLarge)
        );
        assert_eq!(
            "99999999999999999999999".parse::<Multiplier>(),
            Err(MultiplierError::TooLarge)
        );
    }
}
