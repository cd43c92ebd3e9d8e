//! Publishing FL status to OneGate: what to send and when.
//!
//! The desired state comes from the event loop; this module decides when a
//! `PUT /vm` is due: at once after a change (bursts coalesced over a short
//! window), again as a slow heartbeat, and after a failure with backoff —
//! always sending the newest state, never a stale queued one.

use stamen_core::backoff::{Backoff, BackoffConfig, Multiplier};

/// FL_CLIENT_STATUS values (SPEC §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientStatus {
    /// 1: connected, no round in progress.
    Idle = 1,
    /// 2: a round is being trained.
    Training = 2,
    /// 3: not connected (child not running or SuperLink unreachable).
    Disconnected = 3,
}

/// The published triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlStatus {
    /// FL_CLIENT_STATUS.
    pub status: ClientStatus,
    /// FL_ROUND_NUMBER: last round seen.
    pub round: u64,
}

impl FlStatus {
    /// Attribute pairs for `PUT /vm` (FL_TRAINING_ACTIVE is 1 iff TRAINING).
    pub fn pairs(&self) -> Vec<(String, String)> {
        vec![
            ("FL_CLIENT_STATUS".into(), (self.status as u8).to_string()),
            (
                "FL_TRAINING_ACTIVE".into(),
                u8::from(self.status == ClientStatus::Training).to_string(),
            ),
            ("FL_ROUND_NUMBER".into(), self.round.to_string()),
        ]
    }
}

/// Publish scheduling.
pub struct Publisher {
    desired: FlStatus,
    published: Option<FlStatus>,
    next_at: Option<u64>,
    in_retry: bool,
    retry: Backoff,
    coalesce_ms: u64,
    heartbeat_ms: u64,
}

impl Publisher {
    /// Start with `initial` pending for immediate publication.
    /// Failed publishes are retried after 1 s, doubling, capped at 60 s
    /// (equal jitter drawn from `seed`).
    pub fn new(
        initial: FlStatus,
        now: u64,
        coalesce_ms: u64,
        heartbeat_ms: u64,
        seed: u64,
    ) -> Self {
        Self::with_retry(
            initial,
            now,
            coalesce_ms,
            heartbeat_ms,
            Backoff::new(
                BackoffConfig::exponential(1_000, Multiplier::TWO, 60_000),
                seed,
            ),
        )
    }

    fn with_retry(
        initial: FlStatus,
        now: u64,
        coalesce_ms: u64,
        heartbeat_ms: u64,
        retry: Backoff,
    ) -> Self {
        Publisher {
            desired: initial,
            published: None,
            next_at: Some(now),
            in_retry: false,
            retry,
            coalesce_ms,
            heartbeat_ms,
        }
    }

    /// The state the loop wants published.
    pub fn desired(&self) -> FlStatus {
        self.desired
    }

    /// The last state OneGate acknowledged.
    pub fn published(&self) -> Option<FlStatus> {
        self.published
    }

    /// Record a new desired state.
    pub fn update(&mut self, now: u64, s: FlStatus) {
        if s == self.desired {
            return;
        }
        self.desired = s;
        if self.published == Some(s) && !self.in_retry {
            return;
        }
        if !self.in_retry {
            let at = now.saturating_add(self.coalesce_ms);
            self.next_at = Some(self.next_at.map_or(at, |n| n.min(at)));
        }
    }

    /// The state to send now, if a publish is due.
    pub fn poll(&self, now: u64) -> Option<FlStatus> {
        match self.next_at {
            Some(t) if t <= now => Some(self.desired),
            _ => None,
        }
    }

    /// OneGate acknowledged `sent`.
    pub fn on_published(&mut self, now: u64, sent: FlStatus) {
        self.published = Some(sent);
        self.in_retry = false;
        self.retry.on_success(now);
        self.next_at = if sent == self.desired {
            Some(now.saturating_add(self.heartbeat_ms))
        } else {
            Some(now.saturating_add(self.coalesce_ms))
        };
    }

    /// The publish failed; returns the delay before the next try.
    pub fn on_failed(&mut self, now: u64, retry_after_ms: Option<u64>) -> u64 {
        let d = super::next_delay(&mut self.retry, now, retry_after_ms).unwrap_or(60_000);
        self.in_retry = true;
        self.next_at = Some(now.saturating_add(d));
        d
    }

    /// When [`Publisher::poll`] next returns something.
    pub fn poll_at(&self) -> Option<u64> {
        self.next_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stamen_core::backoff::Jitter;

    const D: FlStatus = FlStatus {
        status: ClientStatus::Disconnected,
        round: 0,
    };
    const I: FlStatus = FlStatus {
        status: ClientStatus::Idle,
        round: 0,
    };
    const T3: FlStatus = FlStatus {
        status: ClientStatus::Training,
        round: 3,
    };

    fn exact(initial: FlStatus) -> Publisher {
        let cfg =
            BackoffConfig::exponential(1_000, Multiplier::TWO, 60_000).with_jitter(Jitter::None);
        Publisher::with_retry(initial, 0, 100, 10_000, Backoff::new(cfg, 1))
    }

    #[test]
    fn change_coalesces_and_heartbeats() {
        let mut p = exact(D);
        assert_eq!(p.poll(0), Some(D));
        p.on_published(0, D);
        assert_eq!(p.poll(50), None);
        p.update(50, I);
        p.update(60, T3);
        assert_eq!(p.poll(149), None);
        assert_eq!(p.poll(150), Some(T3));
        p.on_published(150, T3);
        assert_eq!(p.poll_at(), Some(10_150));
    }

    #[test]
    fn failure_backs_off_and_sends_newest() {
        let mut p = exact(D);
        assert_eq!(p.on_failed(0, None), 1_000);
        p.update(10, I); // does not pull the retry earlier
        assert_eq!(p.poll(999), None);
        p.update(20, T3);
        assert_eq!(p.poll(1_000), Some(T3));
        assert_eq!(p.on_failed(1_000, Some(5_000)), 5_000);
        assert_eq!(p.on_failed(6_000, None), 4_000);
        p.on_published(10_000, T3);
        assert_eq!(p.published(), Some(T3));
    }

    #[test]
    fn pairs_encoding() {
        let v = T3.pairs();
        assert_eq!(v[0], ("FL_CLIENT_STATUS".into(), "2".into()));
        assert_eq!(v[1], ("FL_TRAINING_ACTIVE".into(), "1".into()));
        assert_eq!(v[2], ("FL_ROUND_NUMBER".into(), "3".into()));
        assert_eq!(I.pairs()[1].1, "0");
    }
}
