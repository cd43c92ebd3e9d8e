//! The discovery storm simulation counts what the backoff schedule implies.

use stamen_bench::scale::{simulate, Scenario, REQUESTS_PER_ATTEMPT};
use stamen_core::backoff::{BackoffConfig, Jitter};

const SC: Scenario = Scenario {
    nodes: 1000,
    back_at_s: 120,
    spread_ms: 0,
};

#[test]
fn no_jitter_retries_in_lockstep_at_the_seed_schedule() {
    let run = simulate(
        &SC,
        "none",
        BackoffConfig::exponential_default(300).with_jitter(Jitter::None),
    );
    // Attempts at 0, 10, 30, 70 (fail) and 150 s (the SuperLink is back).
    let all = 1000 * REQUESTS_PER_ATTEMPT;
    for (sec, &n) in run.per_second.iter().enumerate() {
        let want = if [0, 10, 30, 70, 150].contains(&sec) {
            all
        } else {
            0
        };
        assert_eq!(n, want, "second {sec}");
    }
    assert_eq!(run.last_back_ms, 150_000);
    assert_eq!(run.gave_up, 0);
}

#[test]
fn jitter_spreads_retries_and_every_node_gets_back() {
    for j in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let run = simulate(
            &SC,
            "j",
            BackoffConfig::exponential_default(300).with_jitter(j),
        );
        let retry_peak = run.per_second.iter().skip(1).max().copied().unwrap_or(0);
        assert!(
            retry_peak < 1000 * REQUESTS_PER_ATTEMPT / 2,
            "{j}: {retry_peak}"
        );
        assert!(run.last_back_ms >= 120_000, "{j}");
        // Every node's last attempt is at or after 120 s and succeeds.
        let after: u64 = run.per_second.iter().skip(120).sum();
        assert!(after >= 1000 * REQUESTS_PER_ATTEMPT, "{j}: {after}");
    }
}

#[test]
fn fixed_legacy_schedule_gives_up_after_30_attempts() {
    let sc = Scenario {
        back_at_s: 10_000,
        ..SC
    };
    let run = simulate(&sc, "fixed", BackoffConfig::fixed_default());
    assert_eq!(run.gave_up, 1000);
}
