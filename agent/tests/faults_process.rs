//! Fault matrix, process side: the SuperLink flapping, a SuperNode crash
//! loop, the disk filling up while the CA file is written, SIGTERM while a
//! publish is in flight, and a storm of SIGHUPs. Same rules as
//! faults_onegate.rs: the agent stays up (or exits with its documented
//! code), bounded request rate and memory, the newest status wins.
//! Loopback only, bounded waits, every process stopped by PID.
mod faults_common;
mod run_common;

use faults_common::*;
use run_common::*;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CEILING_PER_SEC: usize = 6;
const RSS_GROWTH_KIB: u64 = 40 * 1024;

/// A SuperLink stand-in on a fixed loopback port that is up for `period`,
/// down for `period`, and so on, until dropped.
struct FlappingSuperLink {
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FlappingSuperLink {
    fn start(period: Duration) -> Self {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (sp, a) = (Arc::clone(&stop), addr.clone());
        let thread = std::thread::spawn(move || {
            let mut l = Some(first);
            while !sp.load(Ordering::SeqCst) {
                if let Some(listener) = l.take() {
                    listener.set_nonblocking(true).unwrap();
                    let until = Instant::now() + period;
                    while Instant::now() < until && !sp.load(Ordering::SeqCst) {
                        let _ = listener.accept();
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    drop(listener); // down
                    let until = Instant::now() + period;
                    while Instant::now() < until && !sp.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                // Up again on the same port (std sets SO_REUSEADDR).
                for _ in 0..50 {
                    if let Ok(n) = TcpListener::bind(&a) {
                        l = Some(n);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        FlappingSuperLink {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FlappingSuperLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn puts_per_second(og: &OneGate) -> usize {
    og.max_per_second_where(|r| r.method == "PUT")
}

#[test]
fn superlink_flapping() {
    let dir = TempDir::new("sl-flap");
    let og = OneGate::start();
    let sl = FlappingSuperLink::start(Duration::from_secs(2));
    let ctx = write_context(
        &dir,
        &og.endpoint(),
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
            ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ("ONEAPP_FL_NODE_CONFIG", "partition-id=0 num-partitions=2"),
        ],
    );
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || child_pids(&dir).len() == 1),
        "{}",
        agent.logs()
    );
    let pid = child_pids(&dir)[0];
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rss_kib(agent.pid());
    // Three down/up cycles.
    std::thread::sleep(Duration::from_secs(12));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "{}",
        agent.logs()
    );
    let logs = agent.logs();
    let downs = logs.matches("SuperLink unreachable").count();
    let ups = logs.matches("SuperLink reachable").count();
    assert!(downs >= 2 && ups >= 2, "flaps not seen:\n{logs}");
    // The SuperNode reconnects by itself; the agent does not restart it.
    assert_eq!(child_pids(&dir), vec![pid]);
    // The published status followed the link: DISCONNECTED seen.
    let statuses: Vec<String> = og
        .puts()
        .iter()
        .filter_map(|r| r.pairs().get("FL_CLIENT_STATUS").cloned())
        .collect();
    assert!(statuses.iter().any(|s| s == "3") && statuses.iter().any(|s| s == "1"));
    let rate = puts_per_second(&og);
    assert!(rate <= CEILING_PER_SEC, "{rate} PUTs in one second");
    let rss1 = rss_kib(agent.pid());
    assert!(rss1 <= rss0 + RSS_GROWTH_KIB, "VmRSS {rss0} -> {rss1}");
    // The newest status is the one OneGate holds after the last change.
    let last_desired = logs
        .lines()
        .rfind(|l| l.contains("status changed"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("status=")))
        .map(String::from)
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let latest = agent
                .logs()
                .lines()
                .rfind(|l| l.contains("status changed"))
                .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("status=")))
                .map(String::from)
                .unwrap();
            og.published().get("FL_CLIENT_STATUS") == Some(&latest)
        }),
        "OneGate does not hold the newest status ({last_desired}):\n{}",
        agent.logs()
    );
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!alive(pid));
    report(
        "superlink_flapping",
        &format!(
            "up, {downs} unreachable / {ups} reachable events in 12 s, SuperNode kept (1 start), {} PUTs, max {rate} PUT/s, VmRSS {rss0}->{rss1} KiB, SIGTERM exit 0",
            og.puts().len()
        ),
    );
}

#[test]
fn supernode_crash_loop() {
    let dir = TempDir::new("crash-loop");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exit 3");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(wait_until(Duration::from_secs(5), || !child_pids(&dir).is_empty()));
    let rss0 = rss_kib(agent.pid());
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "{}",
        agent.logs()
    );
    let starts = child_pids(&dir).len();
    // Restart backoff from 200 ms, doubling, jittered into [d/2, d]:
    // at most ~9 starts in 8 s; a hot loop would make hundreds.
    assert!(
        (3..=10).contains(&starts),
        "{starts} starts in 8 s:\n{}",
        agent.logs()
    );
    let rss1 = rss_kib(agent.pid());
    assert!(rss1 <= rss0 + RSS_GROWTH_KIB, "VmRSS {rss0} -> {rss1}");
    let rate = puts_per_second(&og);
    assert!(rate <= CEILING_PER_SEC, "{rate} PUTs in one second");
    // A crashing SuperNode is DISCONNECTED, and that is what OneGate holds.
    assert_eq!(
        og.published().get("FL_CLIENT_STATUS").map(String::as_str),
        Some("3")
    );
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    for p in child_pids(&dir) {
        assert!(!alive(p));
    }
    report(
        "supernode_crash_loop",
        &format!(
            "up, {starts} starts in 8 s, max {rate} PUT/s, FL_CLIENT_STATUS=3 published, VmRSS {rss0}->{rss1} KiB, SIGTERM exit 0"
        ),
    );
}

fn fake_pem() -> String {
    // A syntactically valid certificate block (DER SEQUENCE header); the
    // stand-in SuperNode never uses it.
    let body = "MIIBszCCAVmgAwIBAgIUYmVsb25ncy10by10aGUtdGVzdDAKBggqhkjOPQQDAjAA";
    format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Disk full while writing the CA file: the CA directory is a 16 KiB tmpfs,
/// filled up first, mounted in a private mount namespace (`unshare -rm`, so
/// no privileges are needed and nothing leaks to the host). The agent must
/// report ENOSPC, retry with backoff, leave no partial file, and start the
/// SuperNode once space is freed.
#[test]
fn disk_full_while_writing_the_ca_file() {
    let probe = Command::new("unshare")
        .args(["-rm", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.map(|s| s.success()).unwrap_or(false) {
        // Documented in docs/RELIABILITY.md: needs user namespaces.
        eprintln!("SKIPPED: `unshare -rm` (user + mount namespaces) is not available here");
        return;
    }
    let dir = TempDir::new("disk-full");
    let og = OneGate::start();
    let sl = SuperLink::start();
    og.set_service("7", &[VMID]);
    og.set_vm(
        "7",
        &[("FL_ENDPOINT", &sl.addr), ("FL_CA_CERT", &b64(&fake_pem()))],
    );
    let ctx = write_context(&dir, &og.endpoint(), &[]);
    let ca_dir = dir.path("certs");
    std::fs::create_dir(&ca_dir).unwrap();
    let ca = ca_dir.join("ca.pem");
    let cmd = stand_in(&dir, "exec sleep 600");
    let log = dir.path("agent.log");
    let script = "mount -t tmpfs -o size=16k stamen-test \"$0\" || exit 90; \
                  head -c 1048576 /dev/zero > \"$0/fill\" 2>/dev/null; exec \"$@\"";
    let mut cmdline = Command::new("unshare");
    cmdline
        .args(["-rm", "--", "sh", "-c", script])
        .arg(&ca_dir)
        .arg(env!("CARGO_BIN_EXE_stamen"))
        .arg("run")
        .arg("--context")
        .arg(&ctx)
        .arg("--status-socket")
        .arg(dir.path("status.sock"))
        .arg("--ca-file")
        .arg(&ca)
        .args(fast_args(&["--supernode-cmd", &cmd]))
        .env_remove("STAMEN_STATUS_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let mut child = cmdline.spawn().unwrap();
    let pid = child.id();
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let stop = |child: &mut std::process::Child| {
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        kill_pids(&child_pids(&dir));
    };
    let ok = wait_until(Duration::from_secs(8), || {
        logs().matches("cannot write the CA certificate to").count() >= 2
    });
    if !ok {
        stop(&mut child);
        panic!("no CA write failure reported:\n{}", logs());
    }
    let l = logs();
    assert!(l.contains("No space left on device"), "{l}");
    assert!(
        child_pids(&dir).is_empty(),
        "SuperNode started without its CA"
    );
    // The agent's view of the CA directory (its mount namespace).
    let inside = std::path::PathBuf::from(format!("/proc/{pid}/root"))
        .join(ca_dir.strip_prefix("/").unwrap());
    let names: Vec<String> = std::fs::read_dir(&inside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["fill".to_string()],
        "partial files left: {names:?}"
    );
    let failures = l.matches("cannot write the CA certificate to").count();
    // Free the space: the next retry succeeds.
    std::fs::remove_file(inside.join("fill")).unwrap();
    let started = wait_until(Duration::from_secs(15), || child_pids(&dir).len() == 1);
    let written = std::fs::read_to_string(inside.join("ca.pem")).unwrap_or_default();
    let term = unsafe_term(pid);
    let code = (0..500)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            child.try_wait().ok().flatten()
        })
        .and_then(|s| s.code());
    stop(&mut child);
    assert!(started, "{}", logs());
    assert_eq!(written, fake_pem());
    assert_eq!(term, 0);
    assert_eq!(code, Some(0), "{}", logs());
    report(
        "disk_full_while_writing_the_ca_file",
        &format!("{failures} ENOSPC failures reported and retried, no partial file, CA written and SuperNode started after space was freed, SIGTERM exit 0"),
    );
}

#[allow(unsafe_code)]
fn unsafe_term(pid: u32) -> i32 {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }
}

#[test]
fn sigterm_during_a_publish() {
    let dir = TempDir::new("term-publish");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let mut args = fast_args(&["--supernode-cmd", &cmd]);
    // Requests may take 3 s, so the publish is still in flight at SIGTERM.
    let i = args
        .iter()
        .position(|a| a == "--onegate-timeout-ms")
        .unwrap();
    args[i + 1] = "3000".into();
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(wait_until(Duration::from_secs(10), || {
        og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
    }));
    let pid = child_pids(&dir)[0];
    og.set_fault_for("PUT", Fault::Slow(Duration::from_millis(2500)));
    let before = og.puts().len();
    agent.report(b"stamen/1 status=2 round=4");
    assert!(wait_until(Duration::from_secs(5), || og.puts().len() > before));
    std::thread::sleep(Duration::from_millis(200)); // the PUT is in flight
    let t = Instant::now();
    agent.signal(libc::SIGTERM);
    let code = agent.wait_exit(Duration::from_secs(15));
    let took = t.elapsed();
    assert_eq!(code, Some(0), "{}", agent.logs());
    assert!(!alive(pid), "SuperNode left running");
    assert!(!agent.socket.exists());
    // Bounded: the in-flight request (≤ 3 s) + the DISCONNECTED publish
    // (≤ 3 s) + the SuperNode's stop grace (2 s).
    assert!(took < Duration::from_secs(9), "exit took {took:?}");
    // The last request is the DISCONNECTED one.
    let last = og.puts().last().unwrap().pairs();
    assert_eq!(last.get("FL_CLIENT_STATUS").map(String::as_str), Some("3"));
    report(
        "sigterm_during_a_publish",
        &format!(
            "exit 0 in {} ms with a 2.5 s publish in flight, SuperNode stopped, last PUT FL_CLIENT_STATUS=3",
            took.as_millis()
        ),
    );
}

#[test]
fn sighup_storm() {
    let dir = TempDir::new("hup-storm");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(wait_until(Duration::from_secs(10), || {
        og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
    }));
    let pid = child_pids(&dir)[0];
    let rss0 = rss_kib(agent.pid());
    for _ in 0..50 {
        agent.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "{}",
        agent.logs()
    );
    let reloads = agent.logs().matches("context reloaded").count();
    assert!(reloads >= 1, "{}", agent.logs());
    // The same context: the SuperNode keeps running.
    assert_eq!(child_pids(&dir), vec![pid]);
    let rss1 = rss_kib(agent.pid());
    assert!(rss1 <= rss0 + RSS_GROWTH_KIB);
    let rate = puts_per_second(&og);
    assert!(rate <= CEILING_PER_SEC, "{rate} PUTs in one second");
    agent.report(b"stamen/1 status=1 round=12");
    assert!(wait_until(Duration::from_secs(5), || {
        og.published().get("FL_ROUND_NUMBER").map(String::as_str) == Some("12")
    }));
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    report(
        "sighup_storm",
        &format!("50 SIGHUPs in 1 s: {reloads} reloads, SuperNode kept, max {rate} PUT/s, VmRSS {rss0}->{rss1} KiB, newest published, SIGTERM exit 0"),
    );
}
