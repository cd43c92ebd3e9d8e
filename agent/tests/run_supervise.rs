//! `stamen run` supervision: the SuperNode is restarted with backoff whether
//! it crashes or exits cleanly; the status follows the child.
mod run_common;
use run_common::*;
use std::time::Duration;

fn restarts_with_backoff(tail: &str, expect_exit: &str) {
    let dir = TempDir::new("restart");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, tail);
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);

    // Four starts need three backoff delays: ~[100,200] + [200,400] + [400,800] ms.
    assert!(
        wait_until(Duration::from_secs(15), || child_pids(&dir).len() >= 4),
        "expected 4 starts; logs:\n{}",
        agent.logs()
    );
    let logs = agent.logs();
    let d = delays(&logs, "SuperNode exited; restarting after backoff");
    assert!(d.len() >= 3, "{logs}");
    // Equal jitter: delay r lies in [e/2, e] with e = 200·2^(r-1).
    for (r, &ms) in d.iter().take(3).enumerate() {
        let e = 200u64 << r;
        assert!(
            ms >= e / 2 && ms <= e,
            "restart {} delay {ms} outside [{}, {e}]",
            r + 1,
            e / 2
        );
    }
    assert!(logs.contains(expect_exit), "{logs}");
    // Not a hot loop: the child was started at most a handful of times.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child_pids(&dir).len() <= 6,
        "too many restarts: {:?}",
        child_pids(&dir)
    );
    // The child's flags came from the context.
    let argv = child_argv(&dir);
    assert!(
        argv[0].contains(&format!("--superlink {}", sl.addr)),
        "{argv:?}"
    );
    assert!(argv[0].contains("--insecure"));
    assert!(argv[0].contains("--node-config partition-id=0 num-partitions=2"));
    assert!(argv[0].contains("--isolation subprocess"));

    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    // The status never claimed a connection it did not have for long: the
    // last published value is DISCONNECTED.
    assert_eq!(
        og.published().get("FL_CLIENT_STATUS").map(String::as_str),
        Some("3")
    );
}

#[test]
fn crashing_child_is_restarted_with_backoff() {
    restarts_with_backoff("sleep 0.1; exit 3", "exit=\"code=3\"");
}

#[test]
fn cleanly_exiting_child_is_restarted_with_backoff() {
    restarts_with_backoff("exit 0", "exit=\"code=0\"");
}

#[test]
fn stable_child_resets_backoff() {
    // With --stable-ms 300 a child that lived 600 ms restarts after the
    // initial delay again, not the grown one.
    let dir = TempDir::new("stable");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "sleep 0.6; exit 1");
    let args = fast_args(&["--supernode-cmd", &cmd, "--stable-ms", "300"]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(15), || child_pids(&dir).len() >= 4),
        "{}",
        agent.logs()
    );
    let d = delays(&agent.logs(), "SuperNode exited; restarting after backoff");
    assert!(d.len() >= 3);
    for ms in d.iter().take(3) {
        assert!(
            (100..=200).contains(ms),
            "delay {ms} should be the initial one: {d:?}"
        );
    }
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn missing_program_is_retried_not_fatal() {
    let dir = TempDir::new("missing");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let args = fast_args(&["--supernode-cmd", "/nonexistent/flower-supernode"]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(wait_until(Duration::from_secs(10), || {
        agent.logs().matches("cannot start the SuperNode").count() >= 2
    }));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "agent must keep running"
    );
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}
