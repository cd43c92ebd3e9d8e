//! Differential test: the backoff state machine against a slow,
//! obviously-correct model written straight from the module documentation.
//! The model recomputes the envelope from the retry number every time (in
//! u128, no incremental state), so agreement also shows that jitter never
//! feeds into the next envelope.

use proptest::prelude::*;
use stamen_core::backoff::{Backoff, BackoffConfig, Decision, GiveUpReason, Jitter, Multiplier};
use stamen_core::rng::SplitMix64;

#[derive(Clone, Copy, Debug)]
enum Event {
    Fail(u64),
    Success,
    Hint(u64),
}

struct Model {
    initial: u128,
    mult: u128,
    cap: u128,
    fixed: bool,
    jitter: Jitter,
    max_attempts: u32,
    max_elapsed: u64,
    rng: SplitMix64,
    failures: u32,
    prev: u64,
    start: Option<u64>,
    hint: Option<u64>,
    gave_up: Option<GiveUpReason>,
}

impl Model {
    fn base(&self) -> u128 {
        self.initial.min(self.cap)
    }

    /// Envelope of retry r, from scratch: base, then r-1 rounded-up steps.
    fn envelope(&self, r: u32) -> u64 {
        let mut e = self.base();
        if !self.fixed {
            for _ in 1..r {
                if e >= self.cap {
                    break;
                }
                let next = (e * self.mult).div_ceil(1000).min(self.cap);
                if next == e {
                    break;
                }
                e = next;
            }
        }
        e as u64
    }

    fn fail(&mut self, now: u64) -> Decision {
        if let Some(reason) = self.gave_up {
            return Decision::GiveUp { reason };
        }
        let start = *self.start.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        let hint = self.hint.take();
        if self.max_attempts != 0 && self.failures >= self.max_attempts {
            let reason = GiveUpReason::MaxAttempts {
                attempts: self.failures,
            };
            self.gave_up = Some(reason);
            return Decision::GiveUp { reason };
        }
        let e = self.envelope(self.failures);
        let base = self.base() as u64;
        let cap = self.cap as u64;
        let mut d = match self.jitter {
            Jitter::None => e,
            Jitter::Full => self.rng.range_inclusive(0, e),
            Jitter::Equal => e / 2 + self.rng.range_inclusive(0, e - e / 2),
            _ => {
                let hi = (u128::from(self.prev) * 3)
                    .min(u128::from(cap))
                    .max(u128::from(base)) as u64;
                let d = self.rng.range_inclusive(base, hi);
                self.prev = d;
                d
            }
        };
        if let Some(h) = hint {
            d = d.max(h);
        }
        let at = (u128::from(now) + u128::from(d)).min(u128::from(u64::MAX)) as u64;
        if self.max_elapsed != 0
            && u128::from(at) > u128::from(start) + u128::from(self.max_elapsed)
        {
            let reason = GiveUpReason::MaxElapsed {
                elapsed_ms: now.saturating_sub(start),
            };
            self.gave_up = Some(reason);
            return Decision::GiveUp { reason };
        }
        Decision::Retry {
            at_ms: at,
            delay_ms: d,
            attempt: self.failures.saturating_add(1),
        }
    }

    fn success(&mut self) {
        self.failures = 0;
        self.prev = self.base() as u64;
        self.start = None;
        self.hint = None;
        self.gave_up = None;
    }
}

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(u64::MAX), 0u64..100_000, any::<u64>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn machine_equals_model(
        fixed in any::<bool>(),
        initial in edge_u64(),
        mult in prop_oneof![Just(1000u32), 1000u32..4000, 1000u32..=u32::MAX],
        cap in edge_u64(),
        jitter in prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::Decorrelated)],
        max_attempts in prop_oneof![Just(0u32), 1u32..50],
        max_elapsed in prop_oneof![Just(0u64), 1u64..10_000_000],
        seed in any::<u64>(),
        events in proptest::collection::vec(prop_oneof![
            6 => edge_u64().prop_map(Event::Fail),
            1 => Just(Event::Success),
            1 => edge_u64().prop_map(Event::Hint),
        ], 0..120),
    ) {
        let cfg = if fixed {
            BackoffConfig::fixed(initial)
        } else {
            BackoffConfig::exponential(initial, Multiplier::from_permille(mult).unwrap(), cap)
        }
        .with_jitter(jitter)
        .with_max_attempts(max_attempts)
        .with_max_elapsed_ms(max_elapsed);
        let (initial, cap) = if fixed { (initial, initial) } else { (initial, cap) };
        let mut model = Model {
            initial: u128::from(initial),
            mult: u128::from(mult),
            cap: u128::from(cap),
            fixed,
            jitter,
            max_attempts,
            max_elapsed,
            rng: SplitMix64::new(seed),
            failures: 0,
            prev: 0,
            start: None,
            hint: None,
            gave_up: None,
        };
        model.prev = model.base() as u64;
        let mut machine = Backoff::new(cfg, seed);
        for ev in events {
            match ev {
                Event::Fail(now) => prop_assert_eq!(machine.on_failure(now), model.fail(now)),
                Event::Success => {
                    machine.on_success(0);
                    model.success();
                }
                Event::Hint(h) => {
                    machine.hint_retry_after(h);
                    model.hint = Some(model.hint.map_or(h, |x| x.max(h)));
                }
            }
            prop_assert_eq!(machine.failures(), model.failures);
        }
    }
}
