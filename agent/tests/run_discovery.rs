//! `stamen run` discovery, TLS CA handling and configuration errors.
mod run_common;
use base64::Engine as _;
use run_common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

#[test]
fn discovery_waits_for_late_fl_endpoint_with_backoff() {
    let dir = TempDir::new("late");
    let og = OneGate::start();
    let sl = SuperLink::start();
    // The service exists, the SuperLink VM too, but FL_ENDPOINT comes late.
    og.set_service("7", &["41", VMID, "43"]);
    og.set_vm("7", &[]);
    let ctx = write_context(&dir, &og.endpoint(), &[("ONEAPP_FL_TLS_ENABLED", "NO")]);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let t0 = Instant::now();
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    // Let the agent fail a few attempts: 200, 400, 800 ms envelopes.
    assert!(
        wait_until(Duration::from_secs(10), || {
            agent
                .logs()
                .matches("SuperLink not resolved yet; retrying")
                .count()
                >= 3
        }),
        "{}",
        agent.logs()
    );
    assert!(
        child_pids(&dir).is_empty(),
        "started before the SuperLink was known"
    );
    og.set_vm("7", &[("FL_ENDPOINT", &sl.addr)]);
    assert!(
        wait_until(Duration::from_secs(10), || child_pids(&dir).len() == 1),
        "{}",
        agent.logs()
    );
    let logs = agent.logs();
    // Each failed attempt is logged with its number, the reason and the next delay.
    let d = delays(&logs, "SuperLink not resolved yet; retrying");
    assert!(d.len() >= 3, "{logs}");
    for (r, &ms) in d.iter().take(3).enumerate() {
        let e = 200u64 << r;
        assert!(
            ms >= e / 2 && ms <= e,
            "attempt {} delay {ms} outside [{}, {e}]",
            r + 2,
            e / 2
        );
    }
    assert!(logs.contains("has not published FL_ENDPOINT"), "{logs}");
    assert!(logs.contains("attempt=2") && logs.contains("attempt=3"));
    // Bounded request rate: with a 200 ms first delay doubling, at most
    // 4 discovery attempts (+1 partition lookup) fall in any second.
    let per_sec = og.max_per_second_where(|r| r.method == "GET" && r.path == "/service");
    assert!(per_sec <= 5, "{per_sec} GET /service per second");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    // Discovered address and auto partition-id (this VM is index 1 of 3).
    let argv = child_argv(&dir);
    assert!(
        argv[0].contains(&format!("--superlink {}", sl.addr)),
        "{argv:?}"
    );
    assert!(
        argv[0].contains("--node-config partition-id=1 num-partitions=3"),
        "{argv:?}"
    );
    assert!(argv[0].contains("--insecure"));
    assert!(wait_until(Duration::from_secs(5), || {
        og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
    }));
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

fn fake_pem() -> String {
    let mut der = vec![0x30, 0x82, 0x01, 0x0a];
    der.extend(std::iter::repeat_n(0x5au8, 64));
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
}

#[test]
fn tls_ca_is_fetched_checked_and_written() {
    let dir = TempDir::new("tls");
    let og = OneGate::start();
    let sl = SuperLink::start();
    og.set_service("7", &[VMID]);
    // First a CA that is not a certificate: rejected and retried.
    let bad = base64::engine::general_purpose::STANDARD.encode("not a certificate");
    og.set_vm("7", &[("FL_ENDPOINT", &sl.addr), ("FL_CA_CERT", &bad)]);
    let ctx = write_context(&dir, &og.endpoint(), &[("FL_TLS_ENABLED", "YES")]);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(5), || agent
            .logs()
            .contains("holds no -----BEGIN CERTIFICATE-----")),
        "{}",
        agent.logs()
    );
    assert!(child_pids(&dir).is_empty());
    assert!(!dir.path("ca.pem").exists());

    let pem = fake_pem();
    let good = base64::engine::general_purpose::STANDARD.encode(&pem);
    og.set_vm("7", &[("FL_ENDPOINT", &sl.addr), ("FL_CA_CERT", &good)]);
    assert!(
        wait_until(Duration::from_secs(10), || child_pids(&dir).len() == 1),
        "{}",
        agent.logs()
    );
    let ca = dir.path("ca.pem");
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), pem);
    assert_eq!(
        std::fs::metadata(&ca).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let argv = child_argv(&dir);
    assert!(
        argv[0].contains(&format!("--root-certificates {}", ca.display())),
        "{argv:?}"
    );
    assert!(!argv[0].contains("--insecure"));
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn ca_write_failure_is_reported_and_retried() {
    let dir = TempDir::new("tls-fail");
    let og = OneGate::start();
    let sl = SuperLink::start();
    og.set_service("7", &[VMID]);
    let good = base64::engine::general_purpose::STANDARD.encode(fake_pem());
    og.set_vm("7", &[("FL_ENDPOINT", &sl.addr), ("FL_CA_CERT", &good)]);
    let ctx = write_context(&dir, &og.endpoint(), &[]);
    // The CA directory does not exist yet: every write fails until it does.
    let ca_dir = dir.path("certs");
    let ca = ca_dir.join("ca.pem");
    let cmd = stand_in(&dir, "exec sleep 600");
    let ca_s = ca.display().to_string();
    let args = fast_args(&["--supernode-cmd", &cmd, "--ca-file", &ca_s]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(5), || {
            agent
                .logs()
                .matches("cannot write the CA certificate to")
                .count()
                >= 2
        }),
        "{}",
        agent.logs()
    );
    assert!(child_pids(&dir).is_empty());
    std::fs::create_dir(&ca_dir).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || child_pids(&dir).len() == 1),
        "{}",
        agent.logs()
    );
    assert!(ca.exists());
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&ca_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn invalid_context_exits_78_listing_every_error() {
    let dir = TempDir::new("bad");
    let ctx = write_context(
        &dir,
        "http://127.0.0.1:9",
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", "--evil"),
            ("ONEAPP_FL_EDGE_BACKOFF", "linear"),
            ("ONEAPP_FL_ISOLATION", "thread"),
            ("ONEAPP_FL_TLS_ENABLED", "maybe"),
        ],
    );
    let mut agent = Agent::spawn(&dir, &ctx, &["--supernode-cmd", "sleep 1"], &[]);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(78));
    let logs = agent.logs();
    for key in [
        "FL_SUPERLINK_ADDRESS",
        "FL_EDGE_BACKOFF",
        "FL_ISOLATION",
        "FL_TLS_ENABLED",
    ] {
        assert!(logs.contains(key), "{key} missing from:\n{logs}");
    }
    assert!(logs.contains("errors=4"), "{logs}");
    // Positions are given (file:line:column).
    assert!(logs.contains(&format!("{}:", ctx.display())), "{logs}");
    assert!(!agent.socket.exists(), "nothing started");
}

#[test]
fn missing_token_and_bad_command_template_exit_78() {
    let dir = TempDir::new("notoken");
    let p = dir.path("context.sh");
    std::fs::write(&p, "# Context variables generated by OpenNebula\nVMID='42'\nONEGATE_ENDPOINT='http://127.0.0.1:9'\n").unwrap();
    let mut agent = Agent::spawn(&dir, &p, &[], &[]);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(78));
    assert!(
        agent.logs().contains("ONEGATE_TOKEN: missing"),
        "{}",
        agent.logs()
    );

    let ctx = write_context(&dir, "http://127.0.0.1:9", &[]);
    let mut agent = Agent::spawn(&dir, &ctx, &["--supernode-cmd", "prog {superlnk}"], &[]);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(78));
    assert!(
        agent.logs().contains("unknown placeholder {superlnk}"),
        "{}",
        agent.logs()
    );
}

#[test]
fn dry_run_discovers_and_prints_argv_without_side_effects() {
    let dir = TempDir::new("dry-disc");
    let og = OneGate::start();
    og.set_service("7", &["40", VMID]);
    og.set_vm("7", &[("FL_ENDPOINT", "10.0.0.7:8000")]);
    let ctx = write_context(
        &dir,
        &og.endpoint(),
        &[("FL_TLS_ENABLED", "NO"), ("FL_MAX_RETRIES", "5")],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args([
            "run",
            "--dry-run",
            "--supernode-cmd",
            "docker run --rm flwr/supernode:1.42.0",
            "--context",
        ])
        .arg(&ctx)
        .arg("--status-socket")
        .arg(dir.path("s.sock"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("superlink: 10.0.0.7:8000"), "{stdout}");
    assert!(stdout.contains(
        "argv: docker run --rm flwr/supernode:1.42.0 --superlink 10.0.0.7:8000 --insecure --max-retries 5 --node-config 'partition-id=1 num-partitions=2' --isolation subprocess"
    ), "{stdout}");
    assert!(og.puts().is_empty());
    assert!(!dir.path("s.sock").exists());
}

#[test]
fn fixed_backoff_gives_up_after_30_attempts_with_exit_69() {
    let dir = TempDir::new("fixed");
    let og = OneGate::start();
    // No superlink role at all: discovery can never succeed.
    let ctx = write_context(
        &dir,
        &og.endpoint(),
        &[
            ("ONEAPP_FL_EDGE_BACKOFF", "fixed"),
            ("FL_TLS_ENABLED", "NO"),
        ],
    );
    let args = [
        "--supernode-cmd",
        "sleep 1",
        "--backoff-initial-ms",
        "60",
        "--min-publish-interval-ms",
        "200",
    ];
    let mut agent = Agent::spawn(&dir, &ctx, &args, &[]);
    assert_eq!(
        agent.wait_exit(Duration::from_secs(20)),
        Some(69),
        "{}",
        agent.logs()
    );
    let logs = agent.logs();
    assert_eq!(
        logs.matches("SuperLink not resolved yet; retrying").count(),
        29,
        "{logs}"
    );
    assert!(
        logs.contains("SuperLink discovery gave up") && logs.contains("attempts=30"),
        "{logs}"
    );
    // Fixed: every delay is the interval with equal jitter, never more.
    assert!(delays(&logs, "SuperLink not resolved yet")
        .iter()
        .all(|&d| (30..=60).contains(&d)));
    let services = og
        .requests()
        .iter()
        .filter(|r| r.path == "/service")
        .count();
    assert_eq!(services, 30);
    assert_eq!(
        og.published().get("FL_CLIENT_STATUS").map(String::as_str),
        Some("3")
    );
}

#[test]
fn sigterm_during_discovery_exits_promptly() {
    let dir = TempDir::new("term-disc");
    let og = OneGate::start();
    let ctx = write_context(&dir, &og.endpoint(), &[("FL_TLS_ENABLED", "NO")]);
    // Default 10 s backoff: the agent is sleeping in poll(2) when the signal comes.
    let mut agent = Agent::spawn(&dir, &ctx, &["--supernode-cmd", "sleep 1"], &[]);
    assert!(wait_until(Duration::from_secs(5), || agent
        .logs()
        .contains("retrying")));
    let t0 = Instant::now();
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(child_pids(&dir).is_empty());
}

#[test]
fn socket_path_taken_by_a_file_exits_71() {
    let dir = TempDir::new("sock71");
    let ctx = write_context(&dir, "http://127.0.0.1:9", &[]);
    std::fs::write(dir.path("status.sock"), b"not a socket").unwrap();
    let mut agent = Agent::spawn(&dir, &ctx, &["--supernode-cmd", "sleep 1"], &[]);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(71));
    assert!(
        agent.logs().contains("exists and is not a socket"),
        "{}",
        agent.logs()
    );
    // The file is left alone.
    assert_eq!(
        std::fs::read(dir.path("status.sock")).unwrap(),
        b"not a socket"
    );
}
