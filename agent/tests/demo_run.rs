//! `stamen demo` end to end: the binary runs the whole scenario (emulator,
//! stand-in SuperLink, `stamen run` agents, stand-in SuperNodes) and checks
//! its own milestones. Each run is bounded and killed by PID on overrun.
#![cfg(feature = "emulator")]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stamen");

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stamen")
}

/// Collects stdout line by line (also sent to `lines`) and stderr; waits at
/// most `limit`, killing the process by PID on overrun.
fn finish(mut child: Child, limit: Duration, lines: Option<mpsc::Sender<String>>) -> Outcome {
    let out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut all = String::new();
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if let Some(tx) = &lines {
                let _ = tx.send(l.clone());
            }
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let so = out_t.join().unwrap_or_default();
            panic!("stamen demo overran {limit:?} and was killed; stdout so far:\n{so}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Outcome {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn state_dir(stdout: &str) -> String {
    let l = stdout
        .lines()
        .find(|l| l.contains("state in "))
        .expect("the demo names its state dir");
    l.rsplit("state in ").next().unwrap().trim().to_string()
}

/// Every PID the timeline mentions (`pid 123`, `pid=123`).
fn pids(stdout: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for marker in ["(pid ", "pid="] {
        for (i, _) in stdout.match_indices(marker) {
            let digits: String = stdout[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(p) = digits.parse() {
                v.push(p);
            }
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

fn assert_cleaned_up(out: &Outcome) {
    let dir = state_dir(&out.stdout);
    assert!(
        !Path::new(&dir).exists(),
        "state dir {dir} left behind\n{}",
        out.stdout
    );
    let pids = pids(&out.stdout);
    assert!(pids.len() >= 2, "expected agent PIDs in:\n{}", out.stdout);
    // The agents are reaped by the demo and the SuperNodes by their agents,
    // all before the demo exits; give the kernel a moment for the last ones.
    let t0 = Instant::now();
    loop {
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("stamen"))
                    .unwrap_or(false)
            })
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "processes left running: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn number_after(stdout: &str, label: &str) -> u64 {
    let l = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"));
    l.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {l:?}"))
}

#[test]
fn demo_reaches_every_milestone_and_cleans_up() {
    let out = finish(
        spawn(&["demo", "--color", "auto"]),
        Duration::from_secs(120),
        None,
    );
    let so = &out.stdout;
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{so}\nstderr:\n{}",
        out.status,
        out.stderr
    );
    // Milestones, in order, each reported as reached.
    let mut last = 0;
    for (i, m) in [
        "discovery",
        "training published",
        "scale-up",
        "new node ready",
        "node left with 3",
    ]
    .iter()
    .enumerate()
    {
        let line = format!("milestone {}/5: {m}: ", i + 1);
        let pos = so
            .find(&line)
            .unwrap_or_else(|| panic!("{line:?} missing:\n{so}"));
        assert!(pos > last, "milestones out of order:\n{so}");
        last = pos;
        assert!(
            so.lines()
                .any(|l| l.trim_start().starts_with("ok") && l.contains(&format!("{m}: "))),
            "summary lacks ok for {m}:\n{so}"
        );
    }
    assert!(
        so.contains("result     PASS: all 5 milestones reached"),
        "{so}"
    );
    // Discovery really retried: agents started before the SuperLink.
    assert!(
        so.contains("SuperLink not resolved yet; retrying"),
        "no discovery retry:\n{so}"
    );
    // The autoscaler's own trace and the scale-up, on one line.
    let scale = so
        .lines()
        .find(|l| l.contains("→ scale supernode 2 → 3"))
        .unwrap_or_else(|| panic!("no scale line:\n{so}"));
    assert!(
        scale.contains("gate      autoscaler: FL_CLIENT_STATUS["),
        "{scale}"
    );
    assert!(scale.contains("] > 1.5"), "{scale}");
    // The new VM's agent started from the add hook and its SuperNode joined.
    assert!(so.contains("started agent node-103 for VM 103"), "{so}");
    assert!(so.contains("SuperNode of VM 103 joined"), "{so}");
    // The leaving node published DISCONNECTED on SIGTERM.
    assert!(so.contains("SIGTERM to node-101"), "{so}");
    assert!(so.contains("node-101  published DISCONNECTED"), "{so}");
    // Summary figures.
    assert!(number_after(so, "rounds") >= 2, "{so}");
    assert!(number_after(so, "publishes") >= 6, "{so}");
    assert_eq!(number_after(so, "scaling"), 1, "{so}");
    let secs: f64 = so
        .lines()
        .find(|l| l.trim_start().starts_with("time"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .expect("time line");
    assert!(secs > 4.0 && secs < 60.0, "time {secs}");
    // Without --verbose: no request log, no DEBUG lines.
    assert!(!so.contains(" -> 200"), "{so}");
    assert!(!so.contains("status published"), "{so}");
    // Not a TTY: no colour.
    assert!(!so.contains('\x1b'), "escape codes in non-TTY output");
    // Timeline format: `[ 3.2s] source    text`.
    assert!(
        so.lines().any(|l| l.starts_with('[')
            && l.contains("s] gate      OneGate listening on http://127.0.0.1:")),
        "{so}"
    );
    assert_cleaned_up(&out);
}

fn service_with(expr: &str, dir: &Path) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/services/demo.json"
    ))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["roles"][1]["elasticity_policies"][0]["expression"] = expr.into();
    let p = dir.join("service.json");
    std::fs::write(&p, v.to_string()).unwrap();
    p.display().to_string()
}

#[test]
fn demo_names_the_milestone_that_failed() {
    let tmp = tempfile::tempdir().unwrap();
    // Never true: averages of FL_CLIENT_STATUS stay at or below 3, and 3
    // (DISCONNECTED) comes with FL_TRAINING_ACTIVE 0.
    let svc = service_with(
        "FL_CLIENT_STATUS > 2.5 && FL_TRAINING_ACTIVE > 0.5",
        tmp.path(),
    );
    let out = finish(
        spawn(&[
            "demo",
            "--service",
            &svc,
            "--timeout",
            "14",
            "--color",
            "never",
        ]),
        Duration::from_secs(90),
        None,
    );
    let so = &out.stdout;
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{so}\nstderr:\n{}",
        out.stderr
    );
    assert!(so.contains("milestone 2/5: training published"), "{so}");
    assert!(so.contains("FAILED        scale-up: "), "{so}");
    assert!(
        so.contains("-             new node ready: not reached"),
        "{so}"
    );
    assert!(
        so.contains("result     FAIL: 2/5 milestones reached"),
        "{so}"
    );
    assert!(
        out.stderr.contains(
            "stamen demo: milestone 'scale-up' failed: the demo's 14 s time limit passed"
        ),
        "{}",
        out.stderr
    );
    assert!(!so.contains("→ scale supernode"), "{so}");
    assert_cleaned_up(&out);
}

#[test]
fn ctrl_c_stops_every_process() {
    let child = spawn(&["demo", "--color", "never", "--verbose"]);
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || finish(child, Duration::from_secs(90), Some(tx)));
    // Interrupt once the agents run their SuperNodes.
    let t0 = Instant::now();
    loop {
        let l = rx
            .recv_timeout(Duration::from_secs(60).saturating_sub(t0.elapsed()))
            .expect("the demo reached discovery");
        if l.contains("milestone 1/5") {
            break;
        }
    }
    // SIGINT to the demo by PID, as Ctrl-C in its terminal would send.
    let st = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let out = waiter.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", out.stdout);
    assert!(
        out.stdout.contains("interrupted; stopping"),
        "{}",
        out.stdout
    );
    // --verbose shows the OneGate requests and the agents' DEBUG lines.
    assert!(
        out.stdout.contains("gate      GET /service -> 200"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("status published"), "{}", out.stdout);
    assert!(
        out.stderr.contains("interrupted by a signal"),
        "{}",
        out.stderr
    );
    assert_cleaned_up(&out);
}

#[test]
fn bad_service_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/services/demo.json"
    ))
    .unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &[&str], &str); 5] = [
        (
            "endpoint",
            |v| {
                v["roles"][0]["vm_template"]["user_template"] =
                    serde_json::json!({"FL_ENDPOINT": "127.0.0.1:9092"})
            },
            &[],
            "roles[0] (superlink): remove FL_ENDPOINT",
        ),
        (
            "tls",
            |v| v["roles"][1]["vm_template"]["context"]["ONEAPP_FL_TLS_ENABLED"] = "YES".into(),
            &[],
            "set ONEAPP_FL_TLS_ENABLED to \"NO\"",
        ),
        (
            "address",
            |v| {
                v["roles"][1]["vm_template"]["context"]["ONEAPP_FL_SUPERLINK_ADDRESS"] =
                    "10.0.0.1:9092".into()
            },
            &[],
            "ONEAPP_FL_SUPERLINK_ADDRESS is \"10.0.0.1:9092\"",
        ),
        (
            "no-role",
            |v| v["roles"][1]["name"] = "workers".into(),
            &[],
            "no role named \"supernode\"",
        ),
        (
            "nodes",
            |_| {},
            &["--nodes", "4"],
            "--nodes 4: above max_vms 3 of roles[1] (supernode)",
        ),
    ];
    for (name, edit, extra, want) in cases {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        edit(&mut v);
        let p = tmp.path().join(format!("{name}.json"));
        std::fs::write(&p, v.to_string()).unwrap();
        let mut args = vec!["demo", "--service", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = finish(spawn(&args), Duration::from_secs(20), None);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{name}.json")),
            "{name}: error does not name the file: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{name}: {}", out.stdout);
    }
}

#[test]
fn demo_is_listed_and_the_stand_in_is_hidden() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("  demo "), "{help}");
    assert!(!help.contains("demo-supernode"), "{help}");
    let out = Command::new(BIN)
        .args(["demo-supernode", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--superlink"));
}

#[test]
fn sigkill_of_the_demo_leaves_no_process_behind() {
    let mut child = spawn(&["demo", "--color", "never"]);
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let t0 = Instant::now();
    while !text.contains("milestone 1/5") {
        match rx.recv_timeout(Duration::from_secs(60).saturating_sub(t0.elapsed())) {
            Ok(l) => {
                text.push_str(&l);
                text.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no discovery milestone:\n{text}");
            }
        }
    }
    // Let the second SuperNode start too, then kill the demo without warning.
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(l) = rx.try_recv() {
        text.push_str(&l);
        text.push('\n');
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let pids = pids(&text);
    assert!(
        text.matches("SuperNode started pid=").count() >= 2,
        "expected both SuperNodes running:\n{text}"
    );
    // Agents get SIGTERM from the kernel (parent-death signal) and stop
    // their SuperNodes; allow for their OneGate timeout (2 s) on the way.
    let t0 = Instant::now();
    loop {
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("stamen"))
                    .unwrap_or(false)
            })
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "left running after SIGKILL of the demo: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGKILL cannot clean up; the test removes the state dir itself.
    let _ = std::fs::remove_dir_all(state_dir(&text));
}
