//! `stamen run` signals: SIGTERM/SIGINT publish DISCONNECTED, stop the child
//! and exit 0; SIGHUP reloads the context.
mod run_common;
use run_common::*;
use std::time::Duration;

fn start(dir: &TempDir, og: &OneGate, sl: &SuperLink, tail: &str) -> Agent {
    let ctx = static_ctx(dir, og, sl);
    let cmd = stand_in(dir, tail);
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let agent = Agent::spawn(dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
        }),
        "{}",
        agent.logs()
    );
    agent
}

fn terminate(sig: i32) {
    let dir = TempDir::new("term");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let mut agent = start(&dir, &og, &sl, "exec sleep 600");
    let pids = child_pids(&dir);
    assert_eq!(pids.len(), 1);
    assert!(alive(pids[0]));
    agent.signal(sig);
    assert_eq!(
        agent.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        agent.logs()
    );
    let last = og.puts().last().unwrap().pairs();
    assert_eq!(last.get("FL_CLIENT_STATUS").map(String::as_str), Some("3"));
    assert_eq!(
        last.get("FL_TRAINING_ACTIVE").map(String::as_str),
        Some("0")
    );
    assert!(!alive(pids[0]), "child {} still running", pids[0]);
    assert!(!agent.socket.exists());
    let logs = agent.logs();
    assert!(
        logs.contains("SuperNode stopped") && logs.contains("sigkill=false"),
        "{logs}"
    );
}

#[test]
fn sigterm_publishes_disconnected_and_stops_child() {
    terminate(libc::SIGTERM);
}

#[test]
fn sigint_behaves_like_sigterm() {
    terminate(libc::SIGINT);
}

#[test]
fn stubborn_child_is_killed_after_grace() {
    let dir = TempDir::new("stubborn");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let mut agent = start(&dir, &og, &sl, "trap \"\" TERM; while :; do sleep 1; done");
    let pids = child_pids(&dir);
    agent.signal(libc::SIGTERM);
    // Grace is 2 s in fast_args, so this exits within a few seconds.
    assert_eq!(
        agent.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        agent.logs()
    );
    assert!(agent.logs().contains("sigkill=true"), "{}", agent.logs());
    assert!(wait_until(Duration::from_secs(2), || !alive(pids[0])));
}

#[test]
fn sigterm_with_onegate_down_still_exits_promptly() {
    let dir = TempDir::new("term-down");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let mut agent = start(&dir, &og, &sl, "exec sleep 600");
    og.set_fault(Fault::Slow(Duration::from_secs(3)));
    let t0 = std::time::Instant::now();
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    // One OneGate request (500 ms timeout) plus stopping the child.
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t0.elapsed()
    );
    assert!(agent.logs().contains("could not publish DISCONNECTED"));
}

#[test]
fn sighup_reloads_context_and_restarts_on_new_command() {
    let dir = TempDir::new("hup");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let mut agent = start(&dir, &og, &sl, "exec sleep 600");
    let first = child_pids(&dir);

    // Same context → the SuperNode keeps running.
    agent.signal(libc::SIGHUP);
    assert!(wait_until(Duration::from_secs(5), || agent
        .logs()
        .contains("context reloaded")));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(child_pids(&dir), first);

    // Invalid context → rejected, old configuration kept.
    write_context(&dir, &og.endpoint(), &[("ONEAPP_FL_ISOLATION", "thread")]);
    agent.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || agent
            .logs()
            .contains("reload rejected")),
        "{}",
        agent.logs()
    );
    assert!(agent.logs().contains("FL_ISOLATION"));
    assert!(alive(first[0]));

    // New node config → new argv → the SuperNode is restarted with it.
    write_context(
        &dir,
        &og.endpoint(),
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
            ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ("ONEAPP_FL_NODE_CONFIG", "partition-id=1 num-partitions=2"),
        ],
    );
    agent.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || child_pids(&dir).len() == 2),
        "{}",
        agent.logs()
    );
    assert!(wait_until(Duration::from_secs(2), || !alive(first[0])));
    let argv = child_argv(&dir);
    assert!(
        argv[1].contains("partition-id=1 num-partitions=2"),
        "{argv:?}"
    );
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}
