//! FL status and the decision of when to publish it to OneGate.
//!
//! [`FlStatus`] is what a SuperNode VM publishes in its USER_TEMPLATE (SPEC
//! §4), all numeric so OneFlow can average and compare it:
//!
//! | attribute | value |
//! |---|---|
//! | `FL_CLIENT_STATUS` | 1 = IDLE, 2 = TRAINING, 3 = DISCONNECTED ([`ClientStatus::code`]) |
//! | `FL_TRAINING_ACTIVE` | 1 / 0 (OneFlow reads `YES`/`NO` as 0.0, so never strings) |
//! | `FL_ROUND_NUMBER` | last round seen, integer ≥ 0 |
//!
//! [`StatusTracker`] decides *when* to send: only on change (plus a slow
//! heartbeat), coalescing bursts, and never losing the newest state. It is a
//! sans-IO state machine: the caller feeds updates and publish outcomes with
//! the current time, asks [`StatusTracker::poll`] what to send, and sleeps
//! until [`StatusTracker::poll_at`].
//!
//! ```
//! use stamen_core::status::{ClientStatus, FlStatus, StatusTracker, TrackerConfig};
//!
//! let mut t = StatusTracker::new(TrackerConfig::default(), 7);
//! t.update(0, FlStatus::new(ClientStatus::Training, 1));
//! let p = t.poll(0).expect("first change is sent at once");
//! // ... PUT /vm with stamen_core::form::status_body(&p.status, &mut buf) ...
//! t.published(10, &p.status);
//! assert_eq!(t.confirmed(), Some(p.status));
//! ```
//!
//! # Rules
//!
//! - **One publish in flight.** After `poll` hands out a [`Publish`], nothing
//!   else is handed out until [`published`](StatusTracker::published) or
//!   [`publish_failed`](StatusTracker::publish_failed) is reported.
//! - **Rate limit / coalescing.** Two publishes are handed out at least
//!   `min_interval_ms` apart (counted between `poll`s that return `Some`,
//!   retries included). Updates arriving in between only replace the pending
//!   value: a burst publishes its newest value once.
//! - **Change.** A value different from the last confirmed one is due at the
//!   time of the update that made the state differ (subject to the rules
//!   above). Updating back to the confirmed value cancels the change.
//! - **Heartbeat.** With `heartbeat_ms > 0`, the confirmed value is re-sent
//!   `heartbeat_ms` after its last confirmation.
//! - **Failure.** `publish_failed` schedules a retry with the configured
//!   [`BackoffConfig`] (its attempt and elapsed limits are ignored: the
//!   tracker never gives up). The retry sends the *newest* value, including
//!   updates made while the failed publish was in flight. A success resets
//!   the backoff.
//! - **Convergence.** Hence, once OneGate accepts publishes again, the
//!   tracker keeps publishing until the confirmed value equals the newest
//!   update.

use crate::backoff::{Backoff, BackoffConfig, Decision, Multiplier};
use core::fmt;

/// `FL_CLIENT_STATUS`: what the SuperNode is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum ClientStatus {
    /// 1: connected and waiting for work (also the state at start).
    Idle = 1,
    /// 2: running a train (or evaluate) message.
    Training = 2,
    /// 3: the SuperNode lost the SuperLink or is not running.
    Disconnected = 3,
}

impl ClientStatus {
    /// The numeric code published as `FL_CLIENT_STATUS`.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The status for a code, `None` for anything but 1, 2, 3.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ClientStatus::Idle),
            2 => Some(ClientStatus::Training),
            3 => Some(ClientStatus::Disconnected),
            _ => None,
        }
    }

    /// Upper-case name (`IDLE`, `TRAINING`, `DISCONNECTED`) for logs.
    pub const fn name(self) -> &'static str {
        match self {
            ClientStatus::Idle => "IDLE",
            ClientStatus::Training => "TRAINING",
            ClientStatus::Disconnected => "DISCONNECTED",
        }
    }
}

impl fmt::Display for ClientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The FL metrics one SuperNode VM publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlStatus {
    /// `FL_CLIENT_STATUS`.
    pub status: ClientStatus,
    /// `FL_TRAINING_ACTIVE` (published as 1 / 0).
    pub training_active: bool,
    /// `FL_ROUND_NUMBER`: the last round seen.
    pub round: u64,
}

impl FlStatus {
    /// A status whose `training_active` follows `status` (true only for
    /// [`ClientStatus::Training`]).
    pub const fn new(status: ClientStatus, round: u64) -> Self {
        FlStatus {
            status,
            training_active: matches!(status, ClientStatus::Training),
            round,
        }
    }

    /// The state at agent start: IDLE, not training, round 0.
    pub const INITIAL: FlStatus = FlStatus::new(ClientStatus::Idle, 0);

    /// `FL_TRAINING_ACTIVE` as published: 1 or 0.
    pub const fn training_active_code(&self) -> u8 {
        if self.training_active {
            1
        } else {
            0
        }
    }

    /// The state after an IPC report from a Flower app: the report's status
    /// (with `training_active` following it) and its round, or the current
    /// round if the report carries none.
    pub const fn with_report(self, report: &crate::ipc::Report) -> FlStatus {
        let round = match report.round {
            Some(r) => r,
            None => self.round,
        };
        FlStatus::new(report.status, round)
    }
}

/// Timing of a [`StatusTracker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerConfig {
    /// Minimum time between two publishes handed out (coalescing window).
    pub min_interval_ms: u64,
    /// Re-send the confirmed value this long after its confirmation; 0
    /// disables the heartbeat.
    pub heartbeat_ms: u64,
    /// Retry schedule after a failed publish (limits ignored).
    pub retry: BackoffConfig,
}

impl TrackerConfig {
    /// Default coalescing window: 2 s (rounds take tens of seconds; message
    /// bursts inside one round collapse into one publish).
    pub const DEFAULT_MIN_INTERVAL_MS: u64 = 2_000;
    /// Default heartbeat: 5 min.
    pub const DEFAULT_HEARTBEAT_MS: u64 = 300_000;
    /// Default retry: 1 s, ×2, capped at 60 s, equal jitter.
    pub const DEFAULT_RETRY: BackoffConfig =
        BackoffConfig::exponential(1_000, Multiplier::TWO, 60_000);
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_interval_ms: Self::DEFAULT_MIN_INTERVAL_MS,
            heartbeat_ms: Self::DEFAULT_HEARTBEAT_MS,
            retry: Self::DEFAULT_RETRY,
        }
    }
}

/// Why a publish is handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishReason {
    /// The newest value differs from the confirmed one.
    Change,
    /// Nothing changed; the heartbeat interval passed.
    Heartbeat,
    /// The previous publish failed; this is its retry (with the newest value).
    Retry,
}

/// What to send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The value to publish (always the newest update).
    pub status: FlStatus,
    /// Why it is sent.
    pub reason: PublishReason,
}

/// Decides when to publish [`FlStatus`]; see the module docs for the rules.
#[derive(Clone, Copy, Debug)]
pub struct StatusTracker {
    config: TrackerConfig,
    backoff: Backoff,
    newest: Option<FlStatus>,
    /// Time of the update that made `newest` differ from `confirmed`.
    dirty_since_ms: u64,
    confirmed: Option<FlStatus>,
    confirmed_at_ms: u64,
    last_sent_ms: Option<u64>,
    in_flight: Option<FlStatus>,
    retry_at_ms: Option<u64>,
}

impl StatusTracker {
    /// A tracker with nothing to publish yet; `seed` drives retry jitter.
    pub const fn new(config: TrackerConfig, seed: u64) -> Self {
        let retry = config.retry.with_max_attempts(0).with_max_elapsed_ms(0);
        StatusTracker {
            config,
            backoff: Backoff::new(retry, seed),
            newest: None,
            dirty_since_ms: 0,
            confirmed: None,
            confirmed_at_ms: 0,
            last_sent_ms: None,
            in_flight: None,
            retry_at_ms: None,
        }
    }

    /// The timing configuration.
    pub const fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The newest value passed to [`update`](Self::update).
    pub const fn newest(&self) -> Option<FlStatus> {
        self.newest
    }

    /// The last value OneGate confirmed.
    pub const fn confirmed(&self) -> Option<FlStatus> {
        self.confirmed
    }

    /// The value handed out by [`poll`](Self::poll) and not yet reported.
    pub const fn in_flight(&self) -> Option<FlStatus> {
        self.in_flight
    }

    /// Consecutive failed publishes.
    pub const fn failures(&self) -> u32 {
        self.backoff.failures()
    }

    fn is_dirty(&self) -> bool {
        match self.newest {
            Some(n) => self.confirmed != Some(n),
            None => false,
        }
    }

    /// Record the current state at `now_ms`. Cheap; call it on every change.
    pub fn update(&mut self, now_ms: u64, status: FlStatus) {
        let was_dirty = self.is_dirty();
        self.newest = Some(status);
        if !was_dirty && self.is_dirty() {
            self.dirty_since_ms = now_ms;
        }
    }

    /// When [`poll`](Self::poll) will next hand out a publish, if no event
    /// happens before: `None` while a publish is in flight or when there is
    /// nothing to send and no heartbeat. A time in the past means "now".
    pub fn poll_at(&self) -> Option<u64> {
        if self.in_flight.is_some() {
            return None;
        }
        let mut due = if self.is_dirty() {
            self.dirty_since_ms
        } else if self.config.heartbeat_ms > 0 && self.confirmed.is_some() {
            self.confirmed_at_ms
                .saturating_add(self.config.heartbeat_ms)
        } else {
            return None;
        };
        if let Some(sent) = self.last_sent_ms {
            due = due.max(sent.saturating_add(self.config.min_interval_ms));
        }
        if let Some(retry) = self.retry_at_ms {
            due = due.max(retry);
        }
        Some(due)
    }

    /// What to send at `now_ms`, if anything. A returned publish is in flight
    /// until [`published`](Self::published) or
    /// [`publish_failed`](Self::publish_failed).
    pub fn poll(&mut self, now_ms: u64) -> Option<Publish> {
        let due = self.poll_at()?;
        if now_ms < due {
            return None;
        }
        let status = self.newest?;
        let reason = if self.retry_at_ms.is_some() {
            PublishReason::Retry
        } else if self.is_dirty() {
            PublishReason::Change
        } else {
            PublishReason::Heartbeat
        };
        self.in_flight = Some(status);
        self.last_sent_ms = Some(now_ms);
        Some(Publish { status, reason })
    }

    /// OneGate accepted `sent` at `now_ms`. Resets the retry backoff. If a
    /// newer value arrived meanwhile it stays due (after the coalescing
    /// window).
    pub fn published(&mut self, now_ms: u64, sent: &FlStatus) {
        self.in_flight = None;
        self.retry_at_ms = None;
        self.backoff.on_success(now_ms);
        self.confirmed = Some(*sent);
        self.confirmed_at_ms = now_ms;
        if self.is_dirty() {
            self.dirty_since_ms = now_ms;
        }
    }

    /// The publish in flight failed at `now_ms` (network error, 5xx, …).
    /// The newest value is retried after a backoff delay.
    pub fn publish_failed(&mut self, now_ms: u64) {
        self.in_flight = None;
        let at = match self.backoff.on_failure(now_ms) {
            Decision::Retry { at_ms, .. } => at_ms,
            // Unreachable with the limits removed in `new`; retry at the cap
            // rather than give up.
            _ => now_ms.saturating_add(self.backoff.config().cap_ms()),
        };
        self.retry_at_ms = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::Jitter;

    fn cfg() -> TrackerConfig {
        TrackerConfig {
            min_interval_ms: 1_000,
            heartbeat_ms: 60_000,
            retry: BackoffConfig::exponential(500, Multiplier::TWO, 4_000)
                .with_jitter(Jitter::None),
        }
    }

    const IDLE: FlStatus = FlStatus::new(ClientStatus::Idle, 0);
    const fn training(r: u64) -> FlStatus {
        FlStatus::new(ClientStatus::Training, r)
    }

    /// Tracker script: `update T S;` records a state; `poll T => send S R;`
    /// expects a publish of S for reason R; `poll T => nothing;`;
    /// `ok T S;` / `fail T;` report the outcome; `due D;` checks `poll_at`.
    macro_rules! script {
        ($t:ident;) => {};
        ($t:ident; update $at:expr, $s:expr; $($rest:tt)*) => {
            $t.update($at, $s);
            script!($t; $($rest)*);
        };
        ($t:ident; poll $at:expr => send $s:expr, $r:ident; $($rest:tt)*) => {
            assert_eq!(
                $t.poll($at),
                Some(Publish { status: $s, reason: PublishReason::$r }),
                "poll at {}", $at
            );
            script!($t; $($rest)*);
        };
        ($t:ident; poll $at:expr => nothing; $($rest:tt)*) => {
            assert_eq!($t.poll($at), None, "poll at {}", $at);
            script!($t; $($rest)*);
        };
        ($t:ident; ok $at:expr, $s:expr; $($rest:tt)*) => {
            $t.published($at, &$s);
            script!($t; $($rest)*);
        };
        ($t:ident; fail $at:expr; $($rest:tt)*) => {
            $t.publish_failed($at);
            script!($t; $($rest)*);
        };
        ($t:ident; due $d:expr; $($rest:tt)*) => {
            assert_eq!($t.poll_at(), $d);
            script!($t; $($rest)*);
        };
    }

    #[test]
    fn codes_match_spec() {
        assert_eq!(ClientStatus::Idle.code(), 1);
        assert_eq!(ClientStatus::Training.code(), 2);
        assert_eq!(ClientStatus::Disconnected.code(), 3);
        for c in 0..=255u8 {
            match ClientStatus::from_code(c) {
                Some(s) => assert_eq!(s.code(), c),
                None => assert!(!(1..=3).contains(&c)),
            }
        }
        assert_eq!(training(3).training_active_code(), 1);
        assert_eq!(IDLE.training_active_code(), 0);
    }

    #[test]
    fn nothing_before_first_update() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t; due None; poll 0 => nothing;);
    }

    #[test]
    fn change_is_sent_at_once_then_quiet_until_heartbeat() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t;
            update 100, IDLE;
            due Some(100);
            poll 100 => send IDLE, Change;
            due None;
            poll 100 => nothing;
            ok 150, IDLE;
            due Some(60_150);
            update 200, IDLE; // same value: no publish
            poll 5_000 => nothing;
            poll 60_150 => send IDLE, Heartbeat;
            ok 60_200, IDLE;
            due Some(120_200);
        );
    }

    #[test]
    fn burst_coalesces_into_newest_once() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t;
            update 0, IDLE;
            poll 0 => send IDLE, Change;
            ok 10, IDLE;
            update 100, training(1);
            update 200, IDLE;
            update 300, training(1);
            update 400, training(2);
            due Some(1_000); // min interval after the send at 0
            poll 999 => nothing;
            poll 1_000 => send training(2), Change;
            ok 1_050, training(2);
            due Some(61_050);
        );
    }

    #[test]
    fn change_back_to_confirmed_cancels() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t;
            update 0, IDLE;
            poll 0 => send IDLE, Change;
            ok 10, IDLE;
            update 100, training(1);
            update 200, IDLE;
            poll 1_000 => nothing;
            due Some(60_010);
        );
    }

    #[test]
    fn failure_retries_newest_with_backoff_then_resets() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t;
            update 0, training(1);
            poll 0 => send training(1), Change;
            update 300, training(2); // arrives while in flight: not lost
            fail 400;
            due Some(1_000); // backoff 500 ms → 900, but min interval → 1000
            poll 1_000 => send training(2), Retry;
            fail 1_100;
            due Some(2_100); // 1 s backoff
            poll 2_100 => send training(2), Retry;
            fail 2_100;
            due Some(4_100); // 2 s
            poll 4_100 => send training(2), Retry;
            ok 4_200, training(2);
            due Some(64_200);
            update 70_000, training(3);
            poll 70_000 => send training(3), Change;
            fail 70_000;
            due Some(71_000); // backoff reset: 500 ms, min interval 1 s
        );
    }

    #[test]
    fn newer_update_during_successful_publish_follows() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t;
            update 0, training(1);
            poll 0 => send training(1), Change;
            update 50, training(2);
            ok 100, training(1);
            due Some(1_000);
            poll 1_000 => send training(2), Change;
            ok 1_100, training(2);
        );
        assert_eq!(t.confirmed(), Some(training(2)));
    }

    #[test]
    fn failed_publish_superseded_by_a_change_back_sends_nothing() {
        // Found by the convergence property: IDLE is confirmed, TRAINING is
        // in flight, the app goes back to IDLE, the publish fails. OneGate
        // already shows the newest state, so nothing is due (no heartbeat
        // here); the next change still waits for the pending backoff.
        let mut t = StatusTracker::new(
            TrackerConfig {
                heartbeat_ms: 0,
                ..cfg()
            },
            1,
        );
        script!(t;
            update 0, IDLE;
            poll 0 => send IDLE, Change;
            ok 0, IDLE;
            update 2_000, training(1);
            poll 2_000 => send training(1), Change;
            update 2_100, IDLE;
            fail 2_200;
            due None;
            update 2_300, training(2);
            due Some(3_000); // min interval after the send at 2000 (backoff 2700)
            poll 3_000 => send training(2), Retry;
        );
    }

    #[test]
    fn heartbeat_failure_is_retried() {
        let mut t = StatusTracker::new(cfg(), 1);
        script!(t;
            update 0, IDLE;
            poll 0 => send IDLE, Change;
            ok 0, IDLE;
            poll 60_000 => send IDLE, Heartbeat;
            fail 60_000;
            due Some(61_000);
            poll 61_000 => send IDLE, Retry;
            ok 61_000, IDLE;
            due Some(121_000);
        );
    }

    #[test]
    fn report_maps_to_status() {
        use crate::ipc::Report;
        let s = training(4).with_report(&Report {
            status: ClientStatus::Idle,
            round: None,
        });
        assert_eq!(s, FlStatus::new(ClientStatus::Idle, 4));
        let s = s.with_report(&Report {
            status: ClientStatus::Training,
            round: Some(5),
        });
        assert_eq!(s, training(5));
        assert!(s.training_active);
    }
}
