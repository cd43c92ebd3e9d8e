//! Fault matrix, OneGate side: `stamen run` against a OneGate that is down
//! at start, flaps, answers like a slow loris, sends 10 MB, truncated JSON,
//! an HTML page with the wrong Content-Type, turns to 401 in the middle of a
//! run, or whose host name does not resolve.
//!
//! For every fault the agent must stay up (and keep the SuperNode running
//! once started), stay under a request-rate ceiling (counted at the server),
//! publish the newest status once OneGate is healthy again, keep its memory
//! bounded (VmRSS before/after), and stop cleanly on SIGTERM (exit 0).
//! The basic 500/401/slow/drop/garbage cases live in run_onegate_faults.rs;
//! these extend them. Loopback only, bounded waits, processes stopped by PID.
mod faults_common;
mod run_common;

use faults_common::*;
use run_common::*;
use std::time::{Duration, Instant};

/// Failing connections per second the agent may open with the test timings
/// (`fast_args`: first backoff 200 ms, publishes ≥ 200 ms apart). Two retry
/// loops run independently (discovery and publishing), and the OneGate
/// client retries a GET/PUT once when the connection drops before an
/// answer (like the Ruby client), so one attempt can be two connections:
/// 6 attempts × 2. With the production defaults (10 s backoff, 2 s publish
/// interval) the rate is far lower; here it separates "backs off" from
/// "hot loop" (which would be hundreds).
const CEILING_PER_SEC: usize = 12;

/// Failing connections in the last second of a fault: the backoff must have
/// slowed the retries down by then (≥ 3 s into the fault).
const CEILING_LATE_PER_SEC: usize = 4;

/// All connections per second, including the catch-up burst when OneGate
/// comes back (discovery's two GETs, the start attributes, the newest status).
const CEILING_ALL_PER_SEC: usize = 16;

/// VmRSS growth allowed over a fault (KiB). The OneGate client reads at most
/// 8 MiB of a body; 40 MiB leaves room for allocator slack but catches a
/// leak per retry or an unbounded read of a 10 MB body repeated.
const RSS_GROWTH_KIB: u64 = 40 * 1024;

struct Rig {
    dir: TempDir,
    og: OneGate,
    sl: SuperLink,
    proxy: Proxy,
    agent: Option<Agent>,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        let og = OneGate::start();
        let proxy = Proxy::start(&og.addr);
        Rig {
            dir: TempDir::new(tag),
            og,
            sl: SuperLink::start(),
            proxy,
            agent: None,
        }
    }

    /// Static SuperLink address, TLS off: OneGate only receives publishes.
    fn spawn_static(&mut self, endpoint: &str) {
        let ctx = write_context(
            &self.dir,
            endpoint,
            &[
                ("ONEAPP_FL_SUPERLINK_ADDRESS", self.sl.addr.as_str()),
                ("ONEAPP_FL_TLS_ENABLED", "NO"),
                ("ONEAPP_FL_NODE_CONFIG", "partition-id=0 num-partitions=2"),
            ],
        );
        self.spawn(&ctx);
    }

    /// Discovery through OneGate (`GET /service`, `GET /vms/7`), TLS off.
    fn spawn_discovery(&mut self) {
        self.og.set_service("7", &[VMID, "43"]);
        self.og.set_vm("7", &[("FL_ENDPOINT", &self.sl.addr)]);
        let ctx = write_context(
            &self.dir,
            &self.proxy.endpoint(),
            &[("ONEAPP_FL_TLS_ENABLED", "NO")],
        );
        self.spawn(&ctx);
    }

    fn spawn(&mut self, ctx: &std::path::Path) {
        let cmd = stand_in(&self.dir, "exec sleep 600");
        let args = fast_args(&["--supernode-cmd", &cmd]);
        self.agent = Some(Agent::spawn(&self.dir, ctx, &refs(&args), &[]));
    }

    fn agent(&mut self) -> &mut Agent {
        self.agent.as_mut().unwrap()
    }

    fn logs(&self) -> String {
        self.agent.as_ref().unwrap().logs()
    }

    fn up(&mut self) -> bool {
        self.agent().child.try_wait().unwrap().is_none()
    }

    fn wait_child(&self, limit: Duration) -> bool {
        wait_until(limit, || child_pids(&self.dir).len() == 1)
    }

    fn rss(&self) -> u64 {
        rss_kib(self.agent.as_ref().unwrap().pid())
    }

    /// Sends a stale then a newer report; OneGate must end with the newer.
    fn report_newest(&self, round: u64) {
        let a = self.agent.as_ref().unwrap();
        a.report(format!("stamen/1 status=2 round={}", round - 1).as_bytes());
        std::thread::sleep(Duration::from_millis(250));
        a.report(format!("stamen/1 status=1 round={round}").as_bytes());
    }

    fn newest_published(&self, round: u64, limit: Duration) -> bool {
        let want = round.to_string();
        wait_until(limit, || {
            let p = self.og.published();
            p.get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
                && p.get("FL_ROUND_NUMBER") == Some(&want)
        })
    }

    /// SIGTERM: exit 0 within 10 s, the SuperNode stopped.
    fn stop(&mut self) -> Duration {
        let pids = child_pids(&self.dir);
        let t = Instant::now();
        self.agent().signal(libc::SIGTERM);
        let code = self.agent().wait_exit(Duration::from_secs(10));
        let took = t.elapsed();
        assert_eq!(code, Some(0), "{}", self.logs());
        for p in pids {
            assert!(!alive(p), "SuperNode {p} left running");
        }
        took
    }
}

/// The shared end-of-fault checks; returns a one-line summary.
fn verdict(rig: &mut Rig, rss_before: u64, round: u64) -> String {
    assert!(rig.up(), "agent exited:\n{}", rig.logs());
    let rate = rig.proxy.max_faulted_per_second();
    assert!(
        rate <= CEILING_PER_SEC,
        "{rate} failing requests within one second (ceiling {CEILING_PER_SEC}):\n{}\n{:?}",
        rig.logs(),
        rig.proxy.seen()
    );
    let late = rig
        .proxy
        .faulted_since(Instant::now() - Duration::from_secs(1));
    assert!(
        late <= CEILING_LATE_PER_SEC,
        "{late} failing connections in the last second of the fault:\n{}",
        rig.logs()
    );
    let rss_after = rig.rss();
    assert!(
        rss_after <= rss_before + RSS_GROWTH_KIB,
        "VmRSS grew from {rss_before} to {rss_after} KiB"
    );
    rig.proxy.set(Mode::Pass);
    rig.report_newest(round);
    assert!(
        rig.newest_published(round, Duration::from_secs(15)),
        "newest status not published after recovery:\n{}",
        rig.logs()
    );
    let all = rig.proxy.max_per_second();
    assert!(
        all <= CEILING_ALL_PER_SEC,
        "{all} requests within one second (ceiling {CEILING_ALL_PER_SEC}):\n{}",
        rig.logs()
    );
    let stop = rig.stop();
    format!(
        "up, max {rate} failing conn/s, {late} in the last second of the fault, {all} conn/s overall, VmRSS {rss_before}->{rss_after} KiB, newest published, SIGTERM exit 0 in {} ms, {} requests seen",
        stop.as_millis(),
        rig.proxy.seen().len()
    )
}

/// Waits for the SuperNode and the first IDLE publish; returns VmRSS then.
fn started(rig: &mut Rig) -> u64 {
    assert!(rig.wait_child(Duration::from_secs(15)), "{}", rig.logs());
    assert!(
        wait_until(Duration::from_secs(10), || {
            rig.og
                .published()
                .get("FL_CLIENT_STATUS")
                .map(String::as_str)
                == Some("1")
        }),
        "{}",
        rig.logs()
    );
    rig.rss()
}

#[test]
fn onegate_down_at_start() {
    let mut rig = Rig::new("down-at-start");
    rig.proxy.set(Mode::Refuse);
    rig.spawn_discovery();
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rig.rss();
    std::thread::sleep(Duration::from_secs(3));
    assert!(rig.up(), "{}", rig.logs());
    assert!(child_pids(&rig.dir).is_empty(), "nothing to supervise yet");
    let refused = rig.proxy.seen().len();
    assert!(refused >= 2, "retries expected, saw {refused}");
    assert!(rig.logs().contains("SuperLink not resolved yet; retrying"));
    rig.proxy.set(Mode::Pass);
    assert!(rig.wait_child(Duration::from_secs(15)), "{}", rig.logs());
    let line = verdict(&mut rig, rss0, 5);
    report(
        "onegate_down_at_start",
        &format!("{refused} refused attempts in 3 s; {line}"),
    );
}

#[test]
fn onegate_flapping() {
    let mut rig = Rig::new("flapping");
    rig.spawn_static(&rig.proxy.endpoint());
    let rss0 = started(&mut rig);
    let pid = child_pids(&rig.dir)[0];
    // Down/up every 700 ms for ~6 s while the status changes.
    for i in 0..9u64 {
        rig.proxy
            .set(if i % 2 == 0 { Mode::Refuse } else { Mode::Pass });
        rig.agent
            .as_ref()
            .unwrap()
            .report(format!("stamen/1 status=2 round={i}").as_bytes());
        std::thread::sleep(Duration::from_millis(700));
    }
    assert_eq!(child_pids(&rig.dir), vec![pid], "SuperNode restarted");
    assert!(alive(pid));
    let line = verdict(&mut rig, rss0, 20);
    report("onegate_flapping", &line);
}

#[test]
fn onegate_slow_loris() {
    let mut rig = Rig::new("slow-loris");
    rig.spawn_static(&rig.proxy.endpoint());
    let rss0 = started(&mut rig);
    // One byte every 100 ms: an answer takes ~10 s, the client timeout is 500 ms.
    rig.proxy.set(Mode::SlowLoris(Duration::from_millis(100)));
    rig.report_newest(3);
    std::thread::sleep(Duration::from_secs(4));
    let logs = rig.logs();
    assert!(
        logs.contains("OneGate publish failed; will retry"),
        "{logs}"
    );
    assert_eq!(child_pids(&rig.dir).len(), 1);
    let line = verdict(&mut rig, rss0, 9);
    report("onegate_slow_loris", &line);
}

#[test]
fn onegate_ten_megabyte_answer() {
    let mut rig = Rig::new("huge");
    rig.proxy.set_for("GET", Mode::Huge(10 * 1024 * 1024));
    rig.spawn_discovery();
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rig.rss();
    std::thread::sleep(Duration::from_secs(4));
    assert!(child_pids(&rig.dir).is_empty(), "{}", rig.logs());
    let logs = rig.logs();
    assert!(
        logs.contains("SuperLink not resolved yet; retrying"),
        "{logs}"
    );
    let peak = rig.rss();
    assert!(
        peak <= rss0 + RSS_GROWTH_KIB,
        "VmRSS {rss0} -> {peak} KiB while refusing 10 MB bodies"
    );
    let gets = rig.proxy.seen().len();
    rig.proxy.set(Mode::Pass);
    assert!(rig.wait_child(Duration::from_secs(15)), "{}", rig.logs());
    let line = verdict(&mut rig, rss0, 4);
    report(
        "onegate_ten_megabyte_answer",
        &format!("{gets} oversized answers refused, VmRSS during {peak} KiB; {line}"),
    );
}

#[test]
fn onegate_truncated_json() {
    let mut rig = Rig::new("truncated");
    rig.proxy.set_for("GET", Mode::Truncated);
    rig.spawn_discovery();
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rig.rss();
    std::thread::sleep(Duration::from_secs(3));
    assert!(child_pids(&rig.dir).is_empty(), "{}", rig.logs());
    assert!(rig.logs().contains("SuperLink not resolved yet; retrying"));
    rig.proxy.set(Mode::Pass);
    assert!(rig.wait_child(Duration::from_secs(15)), "{}", rig.logs());
    let line = verdict(&mut rig, rss0, 4);
    report("onegate_truncated_json", &line);
}

#[test]
fn onegate_wrong_content_type() {
    let mut rig = Rig::new("wrong-type");
    rig.proxy.set_for("GET", Mode::WrongType);
    rig.spawn_discovery();
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rig.rss();
    std::thread::sleep(Duration::from_secs(3));
    assert!(child_pids(&rig.dir).is_empty(), "{}", rig.logs());
    assert!(rig.logs().contains("SuperLink not resolved yet; retrying"));
    rig.proxy.set(Mode::Pass);
    assert!(rig.wait_child(Duration::from_secs(15)), "{}", rig.logs());
    let line = verdict(&mut rig, rss0, 4);
    report("onegate_wrong_content_type", &line);
}

#[test]
fn onegate_401_mid_run() {
    let mut rig = Rig::new("401-mid-run");
    rig.spawn_static(&rig.proxy.endpoint());
    let rss0 = started(&mut rig);
    let pid = child_pids(&rig.dir)[0];
    rig.proxy.set(Mode::Status(401));
    rig.report_newest(6);
    std::thread::sleep(Duration::from_secs(3));
    let logs = rig.logs();
    assert!(logs.contains("OneGate 401"), "{logs}");
    assert_eq!(child_pids(&rig.dir), vec![pid]);
    // The 401 answers did not change what OneGate holds.
    assert_ne!(
        rig.og
            .published()
            .get("FL_ROUND_NUMBER")
            .map(String::as_str),
        Some("6")
    );
    let line = verdict(&mut rig, rss0, 11);
    report("onegate_401_mid_run", &line);
}

#[test]
fn onegate_host_does_not_resolve() {
    // `.invalid` never resolves (RFC 2606). With a static SuperLink the
    // SuperNode runs anyway; publishing fails and backs off.
    let mut rig = Rig::new("dns");
    rig.spawn_static("http://nonexistent.invalid:5030");
    assert!(rig.wait_child(Duration::from_secs(15)), "{}", rig.logs());
    let rss0 = rig.rss();
    rig.report_newest(2);
    std::thread::sleep(Duration::from_secs(4));
    assert!(rig.up(), "{}", rig.logs());
    let logs = rig.logs();
    let failures = logs.matches("OneGate publish failed; will retry").count();
    assert!(failures >= 1, "{logs}");
    // Backoff, not a hot loop: 4 s allow at most ~5 attempts (0.2+0.4+0.8+1.6 s).
    assert!(
        failures <= 8,
        "{failures} publish attempts in ~4 s:\n{logs}"
    );
    let rss1 = rig.rss();
    assert!(rss1 <= rss0 + RSS_GROWTH_KIB);
    let took = rig.stop();
    report(
        "onegate_host_does_not_resolve",
        &format!(
            "up, {failures} failed publishes in 4 s, VmRSS {rss0}->{rss1} KiB, SIGTERM exit 0 in {} ms (newest cannot be published: no OneGate)",
            took.as_millis()
        ),
    );
}
