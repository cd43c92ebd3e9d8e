//! The demo's stand-ins on their own: the SuperLink (library API) drives
//! rounds over a real `stamen demo-supernode` process, which reports
//! `stamen/1` datagrams to a status socket and exits when the SuperLink goes
//! away.
#![cfg(feature = "emulator")]

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stamen_agent::demo::superlink::{LinkConfig, LinkEvent, StandInLink};

const BIN: &str = env!("CARGO_BIN_EXE_stamen");

fn recv_until(
    rx: &mpsc::Receiver<LinkEvent>,
    limit: Duration,
    want: impl Fn(&LinkEvent) -> bool,
) -> Vec<LinkEvent> {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        match rx.recv_timeout(left) {
            Ok(e) => {
                let done = want(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("timed out; events so far: {seen:?}"),
        }
    }
}

#[test]
fn supernode_trains_rounds_and_leaves_with_the_superlink() {
    let tmp = tempfile::tempdir().unwrap();
    let sock_path = tmp.path().join("status.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let (tx, rx) = mpsc::channel();
    let link = StandInLink::start(
        LinkConfig {
            train: Duration::from_millis(300),
            gap: Duration::from_millis(100),
            min_nodes: 1,
            min_wait: Duration::from_secs(1),
        },
        move |e| {
            let _ = tx.send(e);
        },
    )
    .unwrap();
    assert!(link.addr().ip().is_loopback());

    let mut child = Command::new(BIN)
        .args([
            "demo-supernode",
            "--superlink",
            &link.addr().to_string(),
            "--insecure",
            "--node-config",
            "partition-id=0 num-partitions=1",
            "--isolation",
            "subprocess",
        ])
        .env("STAMEN_STATUS_SOCKET", &sock_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();

    let events = recv_until(&rx, Duration::from_secs(20), |e| {
        matches!(e, LinkEvent::RoundDone { round: 2, .. })
    });
    match &events[0] {
        LinkEvent::Joined {
            pid: p,
            ppid,
            node_config,
            ..
        } => {
            assert_eq!(*p, pid);
            assert_eq!(*ppid, std::process::id());
            assert_eq!(node_config, "partition-id=0 num-partitions=1");
        }
        other => panic!("first event {other:?}"),
    }
    assert!(
        events.contains(&LinkEvent::Result { round: 1, node: 1 }),
        "{events:?}"
    );
    assert!(
        events.contains(&LinkEvent::RoundDone {
            round: 1,
            results: 1,
            expected: 1
        }),
        "{events:?}"
    );

    // The datagrams, in order: IDLE on connect, then TRAINING r / IDLE r.
    let mut buf = [0u8; 256];
    let mut grams = Vec::new();
    while grams.len() < 5 {
        let n = sock.recv(&mut buf).expect("a status datagram");
        grams.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert_eq!(
        grams,
        [
            "stamen/1 status=1",
            "stamen/1 status=2 round=1",
            "stamen/1 status=1 round=1",
            "stamen/1 status=2 round=2",
            "stamen/1 status=1 round=2",
        ]
    );
    for g in &grams {
        assert!(stamen_core::ipc::decode(g.as_bytes()).is_ok(), "{g}");
    }

    // The SuperLink goes away: the SuperNode reports DISCONNECTED and exits 1.
    link.stop();
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("demo-supernode did not exit after the SuperLink stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let mut last = String::new();
    while let Ok(n) = {
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        sock.recv(&mut buf)
    } {
        last = String::from_utf8_lossy(&buf[..n]).to_string();
    }
    assert_eq!(last, "stamen/1 status=3");
}

#[test]
fn probes_that_send_nothing_are_not_nodes() {
    let (tx, rx) = mpsc::channel();
    let link = StandInLink::start(
        LinkConfig {
            train: Duration::from_millis(100),
            gap: Duration::from_millis(100),
            min_nodes: 1,
            min_wait: Duration::from_secs(1),
        },
        move |e| {
            let _ = tx.send(e);
        },
    )
    .unwrap();
    for _ in 0..3 {
        let s = std::net::TcpStream::connect(link.addr()).unwrap();
        drop(s);
    }
    // A silent connection held open past the hello deadline is dropped too.
    let held = std::net::TcpStream::connect(link.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(2_500));
    drop(held);
    assert!(rx.try_recv().is_err(), "a probe was taken for a SuperNode");
    link.stop();
}

#[test]
fn supernode_without_a_status_socket_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["demo-supernode", "--superlink", "127.0.0.1:9", "--insecure"])
        .env_remove("STAMEN_STATUS_SOCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STAMEN_STATUS_SOCKET"));
}
