//! Properties of the backoff state machine (SPEC §3) over arbitrary configs,
//! including zero and huge values and extreme clock readings.

use proptest::prelude::*;
use stamen_core::backoff::{
    Backoff, BackoffConfig, Decision, GiveUpReason, Jitter, Multiplier, Strategy as Envelope,
};

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(u64::MAX / 2),
        0u64..1_000_000,
        any::<u64>(),
    ]
}

fn multiplier() -> impl Strategy<Value = Multiplier> {
    prop_oneof![
        Just(1000u32),
        Just(1001),
        Just(2000),
        Just(u32::MAX),
        1000u32..20_000,
        1000u32..=u32::MAX,
    ]
    .prop_map(|p| Multiplier::from_permille(p).unwrap())
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

fn config() -> impl Strategy<Value = BackoffConfig> {
    let exp = (edge_u64(), multiplier(), edge_u64())
        .prop_map(|(i, m, c)| BackoffConfig::exponential(i, m, c));
    let fixed = edge_u64().prop_map(BackoffConfig::fixed);
    (prop_oneof![3 => exp, 1 => fixed], jitter()).prop_map(|(c, j)| c.with_jitter(j))
}

/// Run `n` failures, each at the due time of the previous retry.
fn run(cfg: BackoffConfig, seed: u64, start: u64, n: usize) -> Vec<Decision> {
    let mut b = Backoff::new(cfg, seed);
    let mut now = start;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let d = b.on_failure(now);
        if let Decision::Retry { at_ms, .. } = d {
            now = at_ms;
        }
        out.push(d);
    }
    out
}

fn delays(ds: &[Decision]) -> Vec<u64> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Retry { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Jitter never pushes a delay above the cap, in any mode.
    #[test]
    fn never_above_cap(cfg in config(), seed in any::<u64>(), start in edge_u64()) {
        for d in delays(&run(cfg, seed, start, 80)) {
            prop_assert!(d <= cfg.cap_ms(), "delay {d} > cap {}", cfg.cap_ms());
        }
    }

    /// Each jitter mode stays inside its band around the envelope of the
    /// retry number (which is what makes compounding impossible).
    #[test]
    fn delay_within_band_of_envelope(cfg in config(), seed in any::<u64>()) {
        for (i, d) in delays(&run(cfg, seed, 0, 60)).into_iter().enumerate() {
            let r = u32::try_from(i + 1).unwrap();
            let e = cfg.envelope_ms(r);
            match cfg.jitter() {
                Jitter::None => prop_assert_eq!(d, e),
                Jitter::Full => prop_assert!(d <= e),
                Jitter::Equal => prop_assert!(d >= e / 2 && d <= e, "{d} not in [{}, {e}]", e / 2),
                Jitter::Decorrelated => {
                    prop_assert!(d >= cfg.base_ms() && d <= cfg.cap_ms());
                }
                _ => prop_assert!(false, "unknown jitter"),
            }
        }
    }

    /// The envelope is non-decreasing, and once it reaches the cap it holds.
    #[test]
    fn envelope_grows_then_holds(cfg in config()) {
        let mut prev = cfg.envelope_ms(1);
        let mut at_cap = prev == cfg.cap_ms();
        for r in 2..200u32 {
            let e = cfg.envelope_ms(r);
            prop_assert!(e >= prev);
            prop_assert!(e <= cfg.cap_ms());
            if at_cap {
                prop_assert_eq!(e, cfg.cap_ms());
            }
            at_cap = e == cfg.cap_ms();
            prev = e;
        }
        let last = cfg.envelope_ms(u32::MAX);
        prop_assert!(last >= prev && last <= cfg.cap_ms());
    }

    /// A strictly growing multiplier reaches the cap eventually (no integer
    /// truncation that freezes small delays).
    #[test]
    fn multiplier_above_one_reaches_cap(initial in 1u64..1_000, m in 1001u32..5000, cap in 1u64..1_000_000) {
        let cfg = BackoffConfig::exponential(initial, Multiplier::from_permille(m).unwrap(), cap);
        prop_assert_eq!(cfg.envelope_ms(u32::MAX), cap);
    }

    /// Same config, same seed, same events → same decisions.
    #[test]
    fn same_seed_same_delays(cfg in config(), seed in any::<u64>(), start in edge_u64()) {
        prop_assert_eq!(run(cfg, seed, start, 50), run(cfg, seed, start, 50));
    }

    /// After a success the next failure starts from the base envelope again,
    /// whatever happened before.
    #[test]
    fn success_resets(cfg in config(), seed in any::<u64>(), k in 0usize..100, hint in proptest::option::of(edge_u64())) {
        let mut b = Backoff::new(cfg, seed);
        for i in 0..k {
            let _ = b.on_failure(i as u64);
        }
        if let Some(h) = hint {
            b.hint_retry_after(h);
        }
        b.on_success(1_000);
        prop_assert_eq!(b.failures(), 0);
        prop_assert_eq!(b.poll_at(), None);
        prop_assert_eq!(b.gave_up(), None);
        let base = cfg.base_ms();
        match b.on_failure(2_000) {
            Decision::Retry { delay_ms, attempt, .. } => {
                prop_assert_eq!(attempt, 2);
                match cfg.jitter() {
                    Jitter::None => prop_assert_eq!(delay_ms, base),
                    Jitter::Full => prop_assert!(delay_ms <= base),
                    Jitter::Equal => prop_assert!(delay_ms >= base / 2 && delay_ms <= base),
                    _ => prop_assert!(delay_ms >= base && delay_ms <= cfg.cap_ms().max(base)),
                }
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// `max_attempts = N` gives exactly N − 1 retries, then gives up.
    #[test]
    fn max_attempts_is_attempts_not_retries(cfg in config(), seed in any::<u64>(), n in 1u32..100) {
        let ds = run(cfg.with_max_attempts(n), seed, 0, n as usize + 3);
        let retries = ds.iter().take_while(|d| matches!(d, Decision::Retry { .. })).count();
        prop_assert_eq!(retries, n as usize - 1);
        for d in &ds[retries..] {
            prop_assert_eq!(*d, Decision::GiveUp { reason: GiveUpReason::MaxAttempts { attempts: n } });
        }
        for (i, d) in ds.iter().enumerate().take(retries) {
            if let Decision::Retry { attempt, .. } = d {
                prop_assert_eq!(*attempt as usize, i + 2);
            }
        }
    }

    /// No retry is ever scheduled after the streak's elapsed-time deadline,
    /// and the machine gives up instead.
    #[test]
    fn max_elapsed_is_a_deadline(cfg in config(), seed in any::<u64>(), start in 0u64..1u64 << 40, max in 1u64..10_000_000) {
        let ds = run(cfg.with_max_elapsed_ms(max), seed, start, 300);
        let deadline = start.saturating_add(max);
        for d in &ds {
            match d {
                Decision::Retry { at_ms, .. } => prop_assert!(*at_ms <= deadline),
                Decision::GiveUp { reason } => {
                    let elapsed = matches!(reason, GiveUpReason::MaxElapsed { .. });
                    prop_assert!(elapsed, "{:?}", reason);
                }
                _ => prop_assert!(false, "unknown decision"),
            }
        }
    }

    /// A hint raises exactly the next delay to at least the hint.
    #[test]
    fn hint_raises_next_delay(cfg in config(), seed in any::<u64>(), k in 0usize..20, hint in edge_u64()) {
        let mut with = Backoff::new(cfg, seed);
        let mut without = Backoff::new(cfg, seed);
        for i in 0..k {
            let _ = with.on_failure(i as u64);
            let _ = without.on_failure(i as u64);
        }
        with.hint_retry_after(hint);
        match (with.on_failure(100), without.on_failure(100)) {
            (Decision::Retry { delay_ms: a, .. }, Decision::Retry { delay_ms: b, .. }) => {
                prop_assert_eq!(a, b.max(hint));
            }
            (a, b) => prop_assert!(false, "{:?} {:?}", a, b),
        }
        // The envelope did not move: the next delays agree again.
        prop_assert_eq!(with.on_failure(200), without.on_failure(200));
    }

    /// Clock values at the top of the range saturate instead of overflowing.
    #[test]
    fn due_time_saturates(cfg in config(), seed in any::<u64>(), now in (u64::MAX - 1_000)..=u64::MAX) {
        let mut b = Backoff::new(cfg, seed);
        for _ in 0..10 {
            if let Decision::Retry { at_ms, delay_ms, .. } = b.on_failure(now) {
                prop_assert_eq!(at_ms, now.saturating_add(delay_ms));
            }
        }
    }
}

#[test]
fn config_accessors_reflect_builders() {
    let c = BackoffConfig::fixed_default();
    assert_eq!(
        c.strategy(),
        Envelope::Fixed {
            interval_ms: 10_000
        }
    );
    assert_eq!(c.max_attempts().map(|n| n.get()), Some(30));
    assert_eq!(c.jitter(), Jitter::Equal);
    let c = BackoffConfig::exponential_default(300);
    assert_eq!(
        c.strategy(),
        Envelope::Exponential {
            initial_ms: 10_000,
            multiplier: Multiplier::TWO,
            cap_ms: 300_000
        }
    );
    assert_eq!(c.max_attempts(), None);
    assert_eq!(c.max_elapsed_ms(), None);
    assert_eq!(BackoffConfig::default(), c);
    // A huge FL_EDGE_MAX_BACKOFF saturates instead of overflowing.
    assert_eq!(
        BackoffConfig::exponential_default(u64::MAX).cap_ms(),
        u64::MAX
    );
}

#[test]
fn many_failures_stay_at_cap() {
    // A long outage: a million failures in a row keep the capped schedule.
    let cfg = BackoffConfig::exponential_default(300).with_jitter(Jitter::None);
    let mut b = Backoff::new(cfg, 0);
    let mut now = 0u64;
    let mut last = 0;
    for _ in 0..1_000_000 {
        if let Decision::Retry {
            at_ms, delay_ms, ..
        } = b.on_failure(now)
        {
            now = at_ms;
            last = delay_ms;
        }
    }
    assert_eq!(last, 300_000);
    assert_eq!(b.failures(), 1_000_000);
}
