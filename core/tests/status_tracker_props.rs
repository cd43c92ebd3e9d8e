//! Properties of the FL status tracker (SPEC §4): never lose the newest
//! state, never publish faster than the coalescing window.

use proptest::prelude::*;
use stamen_core::backoff::{BackoffConfig, Jitter, Multiplier};
use stamen_core::status::{ClientStatus, FlStatus, PublishReason, StatusTracker, TrackerConfig};

#[derive(Clone, Copy, Debug)]
enum Op {
    /// The app reports a new state.
    Update(FlStatus),
    /// Time passes.
    Advance(u64),
    /// If a publish is due, OneGate accepts it after `latency` ms (during
    /// which `update` may arrive).
    Succeed {
        latency: u64,
        update: Option<FlStatus>,
    },
    /// If a publish is due, it fails (OneGate down).
    Fail { update: Option<FlStatus> },
}

fn fl_status() -> impl Strategy<Value = FlStatus> {
    (1u8..=3, any::<bool>(), 0u64..5).prop_map(|(c, t, r)| FlStatus {
        status: ClientStatus::from_code(c).unwrap(),
        training_active: t,
        round: r,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => fl_status().prop_map(Op::Update),
        3 => (0u64..5_000).prop_map(Op::Advance),
        2 => (0u64..500, proptest::option::of(fl_status()))
            .prop_map(|(latency, update)| Op::Succeed { latency, update }),
        2 => proptest::option::of(fl_status()).prop_map(|update| Op::Fail { update }),
    ]
}

fn tracker_config() -> impl Strategy<Value = TrackerConfig> {
    (
        0u64..3_000,
        prop_oneof![Just(0u64), 1_000u64..100_000],
        1u64..2_000,
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated)
        ],
    )
        .prop_map(
            |(min_interval_ms, heartbeat_ms, initial, j)| TrackerConfig {
                min_interval_ms,
                heartbeat_ms,
                retry: BackoffConfig::exponential(initial, Multiplier::TWO, 30_000)
                    .with_jitter(j)
                    // The tracker must ignore limits and never give up.
                    .with_max_attempts(2),
            },
        )
}

struct Harness {
    t: StatusTracker,
    now: u64,
    sends: Vec<u64>,
}

impl Harness {
    fn poll(&mut self) -> Option<FlStatus> {
        let p = self.t.poll(self.now)?;
        // A publish always carries the newest state.
        assert_eq!(Some(p.status), self.t.newest());
        assert_eq!(self.t.poll(self.now), None, "two publishes in flight");
        assert_eq!(self.t.poll_at(), None);
        self.sends.push(self.now);
        Some(p.status)
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Update(s) => self.t.update(self.now, s),
            Op::Advance(dt) => self.now += dt,
            Op::Succeed { latency, update } => {
                if let Some(s) = self.poll() {
                    if let Some(u) = update {
                        self.now += latency / 2;
                        self.t.update(self.now, u);
                    }
                    self.now += latency;
                    self.t.published(self.now, &s);
                }
            }
            Op::Fail { update } => {
                if self.poll().is_some() {
                    if let Some(u) = update {
                        self.t.update(self.now, u);
                    }
                    self.now += 10;
                    self.t.publish_failed(self.now);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn newest_state_is_published_once_onegate_works(
        cfg in tracker_config(),
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut h = Harness { t: StatusTracker::new(cfg, seed), now: 0, sends: Vec::new() };
        for op in ops {
            h.apply(op);
        }
        // OneGate is back: follow poll_at and acknowledge every publish.
        let mut rounds = 0;
        while h.t.newest().is_some() && h.t.confirmed() != h.t.newest() {
            rounds += 1;
            prop_assert!(rounds < 10, "did not converge");
            let at = h.t.poll_at();
            prop_assert!(at.is_some(), "dirty but nothing scheduled");
            h.now = h.now.max(at.unwrap());
            let s = h.poll();
            prop_assert!(s.is_some(), "poll_at({:?}) lied at {}", at, h.now);
            h.now += 5;
            h.t.published(h.now, &s.unwrap());
        }
        prop_assert_eq!(h.t.confirmed(), h.t.newest());
        prop_assert_eq!(h.t.in_flight(), None);
        // (A failure of a publish that was superseded by a change back to
        // the confirmed value may still count: nothing needs sending.)

        // Rate limit: consecutive publishes at least min_interval apart.
        for w in h.sends.windows(2) {
            prop_assert!(w[1] - w[0] >= cfg.min_interval_ms, "sends {:?} closer than {}", w, cfg.min_interval_ms);
        }

        // From here on, with no change, only heartbeats (if enabled) of the
        // confirmed value (a retry if the last attempt had failed).
        if let Some(at) = h.t.poll_at() {
            prop_assert!(cfg.heartbeat_ms > 0);
            h.now = h.now.max(at);
            let p = h.t.poll(h.now).unwrap();
            prop_assert_eq!(Some(p.status), h.t.confirmed());
            prop_assert!(matches!(p.reason, PublishReason::Heartbeat | PublishReason::Retry), "{:?}", p.reason);
        } else {
            prop_assert!(cfg.heartbeat_ms == 0 || h.t.newest().is_none());
        }
    }

    /// Nothing is handed out before poll_at, something is at poll_at.
    #[test]
    fn poll_at_is_exact(cfg in tracker_config(), seed in any::<u64>(), ops in proptest::collection::vec(op(), 0..40)) {
        let mut h = Harness { t: StatusTracker::new(cfg, seed), now: 0, sends: Vec::new() };
        for op in ops {
            h.apply(op);
        }
        if let Some(at) = h.t.poll_at() {
            if at > h.now {
                let mut probe = h.t;
                prop_assert_eq!(probe.poll(at - 1), None);
            }
            let mut probe = h.t;
            prop_assert!(probe.poll(at.max(h.now)).is_some());
        }
    }
}

#[test]
fn tracker_never_gives_up_during_long_outage() {
    let cfg = TrackerConfig {
        min_interval_ms: 100,
        heartbeat_ms: 0,
        retry: BackoffConfig::fixed_default(), // 30-attempt limit: ignored
    };
    let mut t = StatusTracker::new(cfg, 3);
    let mut now = 0;
    t.update(now, FlStatus::new(ClientStatus::Training, 1));
    for i in 0..1_000u64 {
        let at = t.poll_at().expect("always retrying");
        assert!(at <= now + 10_000, "retry {i} too late");
        now = now.max(at);
        t.poll(now).expect("due");
        t.publish_failed(now);
        if i == 500 {
            t.update(now, FlStatus::new(ClientStatus::Disconnected, 1));
        }
    }
    now = t.poll_at().unwrap();
    let p = t.poll(now).unwrap();
    assert_eq!(p.status, FlStatus::new(ClientStatus::Disconnected, 1));
    assert_eq!(p.reason, PublishReason::Retry);
    t.published(now, &p.status);
    assert_eq!(t.poll_at(), None);
}
