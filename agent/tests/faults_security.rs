//! Security checks of `stamen run` as a whole process: hostile
//! FL_SUPERLINK_ADDRESS / FL_NODE_CONFIG values cannot inject arguments or
//! run commands (the SuperNode is started from an argv, never a shell), the
//! status socket is 0660, an https OneGate is verified by default, and
//! oversized input on the status socket is bounded and ignored.
//! (Token redaction in logs/argv/child environment: run_secrets.rs; the
//! emulator's loopback default and token checks: gate_api.rs.)
mod faults_common;
mod run_common;
mod support;

use faults_common::report;
use run_common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// A stand-in SuperNode that records its PID and its argv NUL-separated
/// (exact bytes, no shell re-interpretation: `"$@"` is quoted).
fn recording_stand_in(dir: &TempDir) -> String {
    format!(
        "sh -c 'echo $$ >> {}; printf \"%s\\0\" \"$@\" > {}; exec sleep 600' stand-in {{flags}}",
        dir.path("child.pids").display(),
        dir.path("child.argv0").display()
    )
}

fn argv_of_child(dir: &TempDir) -> Vec<String> {
    std::fs::read(dir.path("child.argv0"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[test]
fn hostile_superlink_addresses_are_refused() {
    let og = OneGate::start();
    let mut refused = 0;
    for (i, template) in [
        "127.0.0.1:9092; touch PWNED",
        "$(touch PWNED):9092",
        "`touch PWNED`:9092",
        "127.0.0.1:9092 --root-certificates PWNED",
        "--insecure:9092",
        "127.0.0.1:9092\n--isolation=PWNED",
        "[::1]:9092&touch PWNED",
        "host name:9092",
    ]
    .iter()
    .enumerate()
    {
        let dir = TempDir::new(&format!("hostile-addr-{i}"));
        let pwned = dir.path("PWNED");
        let value = template.replace("PWNED", &pwned.display().to_string());
        let ctx = write_context(
            &dir,
            &og.endpoint(),
            &[
                ("ONEAPP_FL_SUPERLINK_ADDRESS", value.as_str()),
                ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ],
        );
        let cmd = recording_stand_in(&dir);
        let args = fast_args(&["--supernode-cmd", &cmd]);
        let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
        let code = agent.wait_exit(Duration::from_secs(10));
        assert_eq!(code, Some(78), "{value:?} not refused:\n{}", agent.logs());
        assert!(child_pids(&dir).is_empty(), "a SuperNode ran for {value:?}");
        assert!(!pwned.exists(), "{value:?} ran a command");
        assert!(
            agent.logs().contains("FL_SUPERLINK_ADDRESS"),
            "the error names the key:\n{}",
            agent.logs()
        );
        refused += 1;
    }
    report(
        "hostile_superlink_addresses_are_refused",
        &format!("{refused}/8 hostile values refused with exit 78, no SuperNode, no command run"),
    );
}

#[test]
fn hostile_node_config_stays_one_argv_element() {
    let dir = TempDir::new("hostile-nc");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let pwned = dir.path("PWNED");
    // Valid TOML: quoted strings may hold anything, and must arrive verbatim.
    let nc = format!(
        "partition-id=0 cmd=\"$(touch {p})\" tick=\"`touch {p}`\" semi=\"x; touch {p}\" flag=\"--insecure\"",
        p = pwned.display()
    );
    let ctx = write_context(
        &dir,
        &og.endpoint(),
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
            ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ("ONEAPP_FL_NODE_CONFIG", nc.as_str()),
        ],
    );
    let cmd = recording_stand_in(&dir);
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || !argv_of_child(&dir).is_empty()),
        "{}",
        agent.logs()
    );
    let argv = argv_of_child(&dir);
    let i = argv
        .iter()
        .position(|a| a == "--node-config")
        .unwrap_or_else(|| panic!("no --node-config in {argv:?}"));
    assert_eq!(argv[i + 1], nc, "node config altered: {argv:?}");
    // Exactly one --insecure (TLS off), none smuggled in from the config.
    assert_eq!(argv.iter().filter(|a| *a == "--insecure").count(), 1);
    assert!(!pwned.exists(), "the node config ran a command");
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));

    // An unquoted option-like word is not valid node config: refused.
    let dir2 = TempDir::new("hostile-nc-bad");
    let ctx2 = write_context(
        &dir2,
        &og.endpoint(),
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
            ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ("ONEAPP_FL_NODE_CONFIG", "partition-id=0 --insecure"),
        ],
    );
    let cmd2 = recording_stand_in(&dir2);
    let args2 = fast_args(&["--supernode-cmd", &cmd2]);
    let mut agent2 = Agent::spawn(&dir2, &ctx2, &refs(&args2), &[]);
    assert_eq!(
        agent2.wait_exit(Duration::from_secs(10)),
        Some(78),
        "{}",
        agent2.logs()
    );
    assert!(child_pids(&dir2).is_empty());
    report(
        "hostile_node_config_stays_one_argv_element",
        "quoted $(..), backticks, ; and --insecure arrive as one verbatim argv element, nothing executed; an unquoted option word is refused (exit 78)",
    );
}

#[test]
fn status_socket_is_0660() {
    let dir = TempDir::new("sock-mode");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = recording_stand_in(&dir);
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    // Wait until the agent is fully up (first publish), not just until the
    // socket exists: bind(2) creates it with the umask's mode and the
    // chmod to 0660 follows (see docs/RELIABILITY.md, finding F2).
    assert!(
        wait_until(Duration::from_secs(10), || {
            og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
        }),
        "{}",
        agent.logs()
    );
    let mode = std::fs::metadata(&agent.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660, "status socket mode {mode:o}");
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn oversized_and_binary_datagrams_are_bounded_and_ignored() {
    let dir = TempDir::new("big-datagram");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = recording_stand_in(&dir);
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(wait_until(Duration::from_secs(10), || {
        og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
    }));
    let rss0 = faults_common::rss_kib(agent.pid());
    let big = vec![b'x'; 60 * 1024];
    for _ in 0..200 {
        agent.report(&big);
        agent.report(b"\xff\x00stamen/1 status=2");
    }
    agent.report(b"stamen/1 status=1 round=77");
    assert!(
        wait_until(Duration::from_secs(10), || {
            og.published().get("FL_ROUND_NUMBER").map(String::as_str) == Some("77")
        }),
        "{}",
        agent.logs()
    );
    assert!(agent.child.try_wait().unwrap().is_none());
    assert!(agent.logs().contains("ignoring malformed status datagram"));
    let rss1 = faults_common::rss_kib(agent.pid());
    assert!(rss1 <= rss0 + 16 * 1024, "VmRSS {rss0} -> {rss1} KiB");
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    report(
        "oversized_and_binary_datagrams_are_bounded_and_ignored",
        &format!("400 bad datagrams (60 KiB and binary) ignored, newest good one published, VmRSS {rss0}->{rss1} KiB"),
    );
}

#[test]
fn https_onegate_is_verified_by_default() {
    let dir = TempDir::new("tls-verify");
    let sl = SuperLink::start();
    // A TLS server whose certificate no system root signs.
    let server = support::TestServer::start_tls(vec![support::Reply::text(200, "")]);
    let endpoint = server.url();
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    let ctx = write_context(
        &dir,
        &endpoint,
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
            ("ONEAPP_FL_TLS_ENABLED", "NO"),
        ],
    );
    let cmd = recording_stand_in(&dir);
    let args = fast_args(&["--supernode-cmd", &cmd]);
    let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || agent
            .logs()
            .contains("OneGate publish failed; will retry")),
        "{}",
        agent.logs()
    );
    let logs = agent.logs();
    assert!(
        logs.to_lowercase().contains("certificate") || logs.to_lowercase().contains("tls"),
        "the failure names TLS:\n{logs}"
    );
    // The handshake failed: no HTTP request (and so no token) reached it.
    assert!(server.requests().is_empty());
    assert!(!logs.contains(TOKEN));
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(15)), Some(0));
}

/// The explicit ways past verification: a given CA (`--onegate-ca-cert`) and
/// the opt-out (`--onegate-insecure-tls`). Either way the agent's requests now
/// reach the self-signed OneGate, which the default refuses (test above).
#[test]
fn https_onegate_trusts_a_given_ca_or_the_explicit_opt_out() {
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/test-ca.pem");
    for flags in [
        vec!["--onegate-ca-cert", ca],
        vec!["--onegate-insecure-tls"],
    ] {
        let dir = TempDir::new("tls-opt");
        let sl = SuperLink::start();
        let server = support::TestServer::start_tls(vec![support::Reply::text(200, ""); 8]);
        let ctx = write_context(
            &dir,
            &server.url(),
            &[
                ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
                ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ],
        );
        let cmd = recording_stand_in(&dir);
        let mut argv = vec!["--supernode-cmd", cmd.as_str()];
        argv.extend(flags.iter().copied());
        let args = fast_args(&argv);
        let mut agent = Agent::spawn(&dir, &ctx, &refs(&args), &[]);
        assert!(
            wait_until(Duration::from_secs(10), || server
                .requests()
                .iter()
                .any(|r| r.method == "PUT" && r.path() == "/vm")),
            "{flags:?}: no PUT /vm reached the TLS server\n{}",
            agent.logs()
        );
        agent.signal(libc::SIGTERM);
        assert_eq!(agent.wait_exit(Duration::from_secs(15)), Some(0));
    }
}
