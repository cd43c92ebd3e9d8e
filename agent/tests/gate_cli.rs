//! The `stamen gate` binary, started and stopped by PID: it prints its
//! endpoint, serves OneGate with the tokens it wrote, runs `--on-vm-add`
//! hooks as argv (no shell) with the VM's details in the environment, and
//! refuses bad input.
#![cfg(feature = "emulator")]

mod gate_util;

use gate_util::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn binary_serves_and_runs_hooks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("gate-cli");
    let state = dir.join("state");
    let log = dir.join("hook.log");
    let hook = dir.join("hook.sh");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho \"$STAMEN_GATE_EVENT $STAMEN_VM_ID $STAMEN_VM_ROLE $STAMEN_VM_CONTEXT $STAMEN_VM_TOKEN_FILE\" >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args(["gate", "--service"])
        .arg(root().join("examples/services/flower.json"))
        .args(["--listen", "127.0.0.1:0", "--period", "0", "--state-dir"])
        .arg(&state)
        .arg("--on-vm-add")
        .arg(format!("{} {}", hook.display(), log.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line.trim().to_string();
    let addr: std::net::SocketAddr = endpoint.strip_prefix("http://").unwrap().parse().unwrap();
    assert!(addr.ip().is_loopback());

    // flower.json: superlink VM 100, supernodes 101 and 102.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= 3 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut lines = lines;
    lines.sort();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (l, (id, role)) in
        lines
            .iter()
            .zip([(100, "superlink"), (101, "supernode"), (102, "supernode")])
    {
        let ctx = state.join(format!("vm-{id}/context.sh"));
        let tok = state.join(format!("vm-{id}/token.txt"));
        assert_eq!(
            l,
            &format!("add {id} {role} {} {}", ctx.display(), tok.display())
        );
        let text = std::fs::read_to_string(&ctx).unwrap();
        assert!(
            text.contains(&format!("ONEGATE_ENDPOINT='{endpoint}'\n")),
            "{text}"
        );
    }

    // A supernode discovers the SuperLink the way the appliance does.
    let tok = token_of(&state, 101);
    let h = [("X-ONEGATE-TOKEN", tok.as_str()), ("X-ONEGATE-VMID", "101")];
    let svc = send(addr, "GET", "/service", &h, b"").json();
    let roles = svc["SERVICE"]["roles"].as_array().unwrap();
    assert_eq!(roles[0]["name"], "superlink");
    assert_eq!(roles[1]["cardinality"], 2);
    let sl = roles[0]["nodes"][0]["deploy_id"].as_u64().unwrap();
    let vm = send(addr, "GET", &format!("/vms/{sl}"), &h, b"").json();
    assert_eq!(vm["VM"]["USER_TEMPLATE"]["FL_ENDPOINT"], "127.0.0.1:8000");
    assert_eq!(vm["VM"]["TEMPLATE"]["NIC"][0]["IP"], "10.20.0.10");
    drop(child);
}

#[test]
fn binary_refuses_bad_input() {
    let dir = temp_dir("gate-cli-bad");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\"name\": \"x\",\n \"roles\": [{\"name\": \"a\", \"cardinality\": \"2\"}]}",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args(["gate", "--service"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json") && err.contains("line 2"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args(["gate", "--listen", "0.0.0.0:0", "--service"])
        .arg(root().join("examples/services/flower.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
}
