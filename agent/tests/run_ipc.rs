//! `stamen run` status socket: reports from Flower apps drive the published
//! FL status; malformed datagrams are logged and ignored.
mod run_common;
use run_common::*;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

fn published_is(og: &OneGate, st: &str, active: &str, round: &str) -> bool {
    let p = og.published();
    p.get("FL_CLIENT_STATUS").map(String::as_str) == Some(st)
        && p.get("FL_TRAINING_ACTIVE").map(String::as_str) == Some(active)
        && p.get("FL_ROUND_NUMBER").map(String::as_str) == Some(round)
}

#[test]
fn training_report_is_published_and_garbage_ignored() {
    let dir = TempDir::new("ipc");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);

    // Start: DISCONNECTED, then IDLE once the child runs and the probe succeeds.
    assert!(
        wait_until(Duration::from_secs(10), || published_is(&og, "1", "0", "0")),
        "{}",
        agent.logs()
    );
    let first = og.puts();
    let p0 = first[0].pairs();
    assert_eq!(
        p0.get("FL_CLIENT_STATUS").map(String::as_str),
        Some("3"),
        "{p0:?}"
    );
    assert_eq!(p0.get("FL_NODE_READY").map(String::as_str), Some("YES"));
    assert_eq!(p0.get("FL_NODE_ID").map(String::as_str), Some(VMID));
    assert_eq!(
        p0.get("FL_VERSION").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let meta = std::fs::symlink_metadata(&agent.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);

    // Garbage first: each is logged, none changes the status.
    for g in [
        &b"hello"[..],
        b"stamen/1 status=7",
        b"stamen/2 status=2 round=1",
        b"stamen/1 status=2 round=-1",
        &[0xff, 0xfe, 0x00][..],
        &[b'x'; 300][..],
    ] {
        agent.report(g);
    }
    assert!(
        wait_until(Duration::from_secs(5), || {
            agent
                .logs()
                .matches("ignoring malformed status datagram")
                .count()
                >= 6
        }),
        "{}",
        agent.logs()
    );
    assert!(published_is(&og, "1", "0", "0"));

    agent.report(b"stamen/1 status=2 round=3");
    assert!(
        wait_until(Duration::from_secs(5), || published_is(&og, "2", "1", "3")),
        "{}",
        agent.logs()
    );

    // Trailing newline is allowed; round stays the last one seen.
    agent.report(b"stamen/1 status=1\n");
    assert!(
        wait_until(Duration::from_secs(5), || published_is(&og, "1", "0", "3")),
        "{}",
        agent.logs()
    );

    // A burst is coalesced into few PUTs and the newest state wins.
    let before = og.puts().len();
    for r in 4..=20 {
        agent.report(format!("stamen/1 status=2 round={r}").as_bytes());
    }
    assert!(
        wait_until(Duration::from_secs(5), || published_is(&og, "2", "1", "20")),
        "{}",
        agent.logs()
    );
    std::thread::sleep(Duration::from_millis(400));
    let burst = og.puts().len() - before;
    assert!(burst <= 4, "{burst} PUTs for a burst of 17 reports");

    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(published_is(&og, "3", "0", "20"));
    assert!(!agent.socket.exists(), "socket removed on exit");
}

#[test]
fn status_follows_the_superlink_probe() {
    let dir = TempDir::new("probe");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || published_is(&og, "1", "0", "0")),
        "{}",
        agent.logs()
    );
    agent.report(b"stamen/1 status=2 round=5");
    assert!(wait_until(Duration::from_secs(5), || published_is(
        &og, "2", "1", "5"
    )));
    // The SuperLink goes away: the next probe fails → DISCONNECTED.
    drop(sl);
    assert!(
        wait_until(Duration::from_secs(5), || published_is(&og, "3", "0", "5")),
        "{}",
        agent.logs()
    );
    assert!(agent.logs().contains("SuperLink unreachable"));
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}
