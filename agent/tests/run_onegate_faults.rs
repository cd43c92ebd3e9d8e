//! OneGate misbehaving never stops supervision, never causes a hot loop, and
//! the newest status is published once OneGate recovers.
mod run_common;
use run_common::*;
use std::time::Duration;

fn survives(fault: Fault, expect_in_logs: &str) {
    let dir = TempDir::new("fault");
    let og = OneGate::start();
    og.set_fault(fault);
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);

    assert!(
        wait_until(Duration::from_secs(5), || !child_pids(&dir).is_empty()),
        "{}",
        agent.logs()
    );
    // Reports during the outage: only the newest must come through.
    std::thread::sleep(Duration::from_millis(500));
    agent.report(b"stamen/1 status=2 round=7");
    std::thread::sleep(Duration::from_millis(300));
    agent.report(b"stamen/1 status=1 round=8");
    std::thread::sleep(Duration::from_millis(2500));

    // Still supervising.
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "agent exited:\n{}",
        agent.logs()
    );
    let pids = child_pids(&dir);
    assert_eq!(pids.len(), 1, "SuperNode restarted by a OneGate failure");
    assert!(alive(pids[0]));
    // Not a hot loop: retries back off (1 s, 2 s, ... with jitter), so at
    // most 3 attempts fit in ~3.3 s and 2 in any second. The OneGate client
    // repeats a PUT once when the connection drops before an answer.
    let per_attempt = if fault == Fault::Drop { 2 } else { 1 };
    let n = og.requests().len();
    let per_sec = og.max_per_second();
    assert!(n >= 2, "retries expected, saw {n}");
    assert!(n <= 4 * per_attempt, "{n} requests in ~3.3 s");
    assert!(
        per_sec <= 2 * per_attempt,
        "{per_sec} requests in one second"
    );
    if !matches!(fault, Fault::Slow(_)) {
        // (A slow server still applies the update after the client gave up.)
        assert!(
            og.published().is_empty(),
            "nothing can have been accepted yet"
        );
    }
    let logs = agent.logs();
    assert!(
        logs.contains("OneGate publish failed; will retry"),
        "{logs}"
    );
    assert!(
        logs.contains(expect_in_logs),
        "expected {expect_in_logs:?} in\n{logs}"
    );

    let before = og.requests().len();
    og.set_fault(Fault::None);
    // The retry delay is at most 8 s at this point (1+2+4 s envelopes).
    assert!(
        wait_until(Duration::from_secs(12), || {
            let p = og.published();
            og.requests().len() > before
                && p.get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
                && p.get("FL_ROUND_NUMBER").map(String::as_str) == Some("8")
                && p.get("FL_NODE_READY").map(String::as_str) == Some("YES")
        }),
        "newest state not published after recovery:\n{}",
        agent.logs()
    );
    // The first request after recovery already carried the newest state,
    // not the stale TRAINING/7 one.
    let first = &og.requests()[before];
    assert_eq!(first.method, "PUT");
    assert_eq!(
        first.pairs().get("FL_ROUND_NUMBER").map(String::as_str),
        Some("8")
    );
    assert_eq!(
        first.pairs().get("FL_CLIENT_STATUS").map(String::as_str),
        Some("1")
    );

    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn onegate_500() {
    survives(Fault::Status(500), "OneGate server error 500");
}

#[test]
fn onegate_401() {
    survives(Fault::Status(401), "OneGate 401");
}

#[test]
fn onegate_slower_than_timeout() {
    survives(Fault::Slow(Duration::from_millis(1500)), "error=");
}

#[test]
fn onegate_drops_connections() {
    survives(Fault::Drop, "error=");
}

#[test]
fn onegate_garbage_answers() {
    // A PUT answered with garbage but status 200 counts as accepted by
    // OneGate, so garbage is injected only where JSON is parsed: discovery.
    let dir = TempDir::new("garbage");
    let og = OneGate::start();
    let sl = SuperLink::start();
    og.set_service("7", &[VMID, "43"]);
    og.set_vm("7", &[("FL_ENDPOINT", &sl.addr)]);
    og.set_fault_for("GET", Fault::Garbage);
    let ctx = write_context(&dir, &og.endpoint(), &[("ONEAPP_FL_TLS_ENABLED", "NO")]);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    std::thread::sleep(Duration::from_secs(2));
    let gets = og.requests().iter().filter(|r| r.method == "GET").count();
    assert!(
        (2..=6).contains(&gets),
        "{gets} discovery attempts in 2 s:\n{}",
        agent.logs()
    );
    assert!(child_pids(&dir).is_empty());
    assert!(agent
        .logs()
        .contains("SuperLink not resolved yet; retrying"));
    // Start state still published (PUTs are not faulted).
    assert_eq!(
        og.published().get("FL_CLIENT_STATUS").map(String::as_str),
        Some("3")
    );
    og.set_fault(Fault::None);
    assert!(
        wait_until(Duration::from_secs(10), || child_pids(&dir).len() == 1),
        "{}",
        agent.logs()
    );
    let argv = child_argv(&dir);
    assert!(argv[0].contains(&format!("--superlink {}", sl.addr)));
    assert!(
        argv[0].contains("--node-config partition-id=0 num-partitions=2"),
        "{argv:?}"
    );
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn retry_after_is_honoured_for_publishes() {
    let dir = TempDir::new("retry-after");
    let og = OneGate::start();
    og.set_fault(Fault::RetryAfter(503, 3));
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || og.puts().len() >= 2),
        "{}",
        agent.logs()
    );
    og.set_fault(Fault::None);
    let puts = og.puts();
    let gap = puts[1].at.duration_since(puts[0].at);
    // Without the hint the first retry would come after 0.5–1 s.
    assert!(
        gap >= Duration::from_millis(2900),
        "retried after {gap:?}\n{}",
        agent.logs()
    );
    assert!(
        agent.logs().contains("next_delay_ms=3000"),
        "{}",
        agent.logs()
    );
    assert!(wait_until(Duration::from_secs(10), || {
        og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
    }));
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}
