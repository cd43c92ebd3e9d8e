//! The official Ruby `onegate` client against `stamen gate`.
//!
//! Runs only where `ruby` is installed and `STAMEN_ONEGATE_CLIENT` points at
//! one-apps' `onegate.rb` (context-linux/src/usr/bin/onegate.rb); otherwise it
//! prints why it skipped. Each run of the client is bounded (30 s).
#![cfg(feature = "emulator")]

mod gate_util;

use gate_util::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_client(client: &str, endpoint: &str, token: &str, args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new("ruby")
        .arg(client)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("VMID", "42")
        .env("TOKENTXT", token)
        .env("ONEGATE_ENDPOINT", endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ruby starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("onegate {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn official_ruby_client_works() {
    if Command::new("ruby").arg("--version").output().is_err() {
        eprintln!("SKIP official_ruby_client_works: `ruby` is not installed");
        return;
    }
    let Ok(client) = std::env::var("STAMEN_ONEGATE_CLIENT") else {
        eprintln!(
            "SKIP official_ruby_client_works: set STAMEN_ONEGATE_CLIENT to one-apps' onegate.rb"
        );
        return;
    };
    let dir = temp_dir("gate-ruby");
    let (g, _l) = start(reference_spec(), &dir, 1_718_000_400);
    let token = token_of(&dir, 42);
    let ep = g.endpoint();
    let (code, out, err) = run_client(&client, &ep, &token, &["vm", "show", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["VM"]["ID"], "42");
    let (code, _, err) = run_client(
        &client,
        &ep,
        &token,
        &["vm", "update", "--data", "FL_CLIENT_STATUS=2"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(g.snapshot().vms[&42].user_template["FL_CLIENT_STATUS"], "2");
    let (code, _, err) = run_client(
        &client,
        &ep,
        &token,
        &["vm", "update", "--data", "SERVICE_ID=1"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("Attribute (SERVICE_ID) cannot be modified"),
        "{err}"
    );
    let (code, out, err) = run_client(&client, &ep, &token, &["service", "show", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"edge-fleet\""));
    let (code, _, err) = run_client(
        &client,
        &ep,
        &token,
        &["service", "scale", "--role", "x", "--cardinality", "3"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(g.snapshot().roles[0].cardinality, 3);
    g.stop();
}
