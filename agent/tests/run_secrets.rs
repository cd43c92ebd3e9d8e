//! The OneGate token never leaves the agent: not in its logs, not in any
//! argv, not in the SuperNode's environment.
mod run_common;
use run_common::*;
use std::time::Duration;

fn read(p: String) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

#[test]
fn token_is_not_in_logs_argv_or_child_environment() {
    let dir = TempDir::new("secret");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let cmd = stand_in(&dir, "exec sleep 600");
    let args = fast_args(&["--supernode-cmd", &cmd]);
    // The token also sits in the agent's own environment, both ways one-apps
    // and users put it there.
    let mut agent = Agent::spawn(
        &dir,
        &ctx,
        &refs(&args),
        &[
            ("TOKENTXT", TOKEN),
            ("ONEGATE_TOKEN", TOKEN),
            ("KEEP_ME", "visible"),
        ],
    );
    assert!(wait_until(Duration::from_secs(10), || {
        og.published().get("FL_CLIENT_STATUS").map(String::as_str) == Some("1")
    }));
    // Exercise error paths too: a 401 and a report.
    og.set_fault(Fault::Status(401));
    agent.report(b"stamen/1 status=2 round=1");
    assert!(
        wait_until(Duration::from_secs(5), || agent
            .logs()
            .contains("OneGate 401")),
        "{}",
        agent.logs()
    );
    og.set_fault(Fault::None);

    let pid = child_pids(&dir)[0];
    // /proc shows the forked agent's environment until exec completes.
    assert!(wait_until(Duration::from_secs(5), || read(format!(
        "/proc/{pid}/cmdline"
    ))
    .starts_with("sleep")));
    let environ = read(format!("/proc/{pid}/environ"));
    assert!(
        environ.contains("KEEP_ME=visible"),
        "the environment is otherwise inherited"
    );
    assert!(!environ.contains(TOKEN), "token in child environment");
    assert!(!environ.contains("TOKENTXT=") && !environ.contains("ONEGATE_TOKEN="));

    for p in [agent.pid(), pid] {
        let cmdline = read(format!("/proc/{p}/cmdline"));
        assert!(!cmdline.is_empty());
        assert!(!cmdline.contains(TOKEN), "token in argv of {p}");
    }
    // The token reached OneGate (so it was really in use) ...
    assert!(og.requests().iter().any(|r| r
        .headers
        .iter()
        .any(|(k, v)| k == "x-onegate-token" && v == TOKEN)));

    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    // ... but never the logs.
    let logs = agent.logs();
    assert!(logs.len() > 500, "logs too short to mean anything: {logs}");
    assert!(!logs.contains(TOKEN), "token in logs:\n{logs}");
}

#[test]
fn dry_run_redacts_the_token() {
    let dir = TempDir::new("dry");
    let og = OneGate::start();
    let sl = SuperLink::start();
    let ctx = static_ctx(&dir, &og, &sl);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args(["run", "--dry-run", "--context"])
        .arg(&ctx)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ONEGATE_TOKEN=<redacted>"));
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    assert!(stdout.contains(&format!(
        "argv: flower-supernode --superlink {} --insecure --node-config 'partition-id=0 num-partitions=2' --isolation subprocess",
        sl.addr
    )), "{stdout}");
    // A dry run starts nothing and publishes nothing.
    assert!(og.puts().is_empty());
}
