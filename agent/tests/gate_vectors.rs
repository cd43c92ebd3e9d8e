//! Replays the official Ruby client's recorded requests
//! (`tests/vectors/onegate/reference-requests.jsonl`) against `stamen gate`
//! running `examples/services/onegate-reference.json` (service 7 with VMs 42
//! and 43 in role `x`, 44 in `db`, virtual router 3, networks 0 and 1: the
//! reference environment) and checks the statuses and documents.
//!
//! Exempt, with reasons:
//! - requests recorded as `{"fault": "drop"}`: the reference server dropped
//!   the connection on purpose to observe client retries; there is no status.
//! - `probe_server_500`: the reference server was told to fail; a healthy
//!   OneGate answers that request with 200 (checked below instead).
//! - `probe_https_self_signed` is replayed over plain HTTP: the emulator has
//!   no TLS (the request itself is an ordinary `GET /vm`).
//! - The recorded token `dO0R8Lm5mSxW5cUo6ZQ1Yw==` was made with a password
//!   that is not part of the vectors, so requests carry the gate's own token
//!   for VM 42 (read from its `token.txt`) where they carried one.
#![cfg(feature = "emulator")]

mod gate_util;

use gate_util::*;
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    std::fs::read_to_string(root().join("tests/vectors/onegate").join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const NOW: u64 = 1_718_000_400;

/// Sends a recorded request as recorded, with the token swapped.
fn replay(g: &stamen_agent::gate::GateHandle, token: &str, r: &Value) -> Resp {
    let headers: Vec<(String, String)> = r["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let k = h[0].as_str().unwrap().to_string();
            let v = h[1].as_str().unwrap().to_string();
            if k.eq_ignore_ascii_case("X-ONEGATE-TOKEN") {
                (k, token.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    send(
        g.addr(),
        r["method"].as_str().unwrap(),
        r["target"].as_str().unwrap(),
        &hs,
        r["body"].as_str().unwrap().as_bytes(),
    )
}

#[test]
fn every_reference_request_gets_the_reference_status() {
    let dir = temp_dir("gate-vectors-seq");
    let (g, _logs) = start(reference_spec(), &dir, NOW);
    let token = token_of(&dir, 42);
    let mut checked = 0;
    let mut exempt = Vec::new();
    for r in load("reference-requests.jsonl") {
        let case = r["case"].as_str().unwrap();
        let Some(want) = r["response"]["status"].as_u64() else {
            exempt.push(format!("{case} (fault: drop)"));
            continue;
        };
        let got = replay(&g, &token, &r);
        if case == "probe_server_500" {
            exempt.push(case.to_string());
            assert_eq!(got.status, 200, "{case}: a healthy gate serves GET /vm");
            continue;
        }
        assert_eq!(
            u64::from(got.status),
            want,
            "{case}: {} {} answered {}: {}",
            r["method"],
            r["target"],
            got.status,
            got.text()
        );
        assert_eq!(
            got.header("Content-Type"),
            Some("application/json;charset=utf-8"),
            "{case}"
        );
        if want == 204 || (want == 200 && r["method"] != "GET") {
            assert!(got.body.is_empty(), "{case}: empty body expected");
        }
        checked += 1;
    }
    g.stop();
    assert_eq!(checked, 28, "checked {checked}, exempt {exempt:?}");
    assert_eq!(exempt.len(), 4, "{exempt:?}");
}

/// The error texts of OneGate the reference client printed.
#[test]
fn error_bodies_are_onegates_texts() {
    let results = load("reference-client-results.jsonl");
    let requests = load("reference-requests.jsonl");
    let dir = temp_dir("gate-vectors-errors");
    let (g, _logs) = start(reference_spec(), &dir, NOW);
    let token = token_of(&dir, 42);
    for (case, text) in [
        (
            "vm_update_restricted_attr",
            "Attribute (SERVICE_ID) cannot be modified",
        ),
        ("vm_update_erase_missing", "attribute not found"),
        (
            "vm_action_reboot_restricted",
            "Action (reboot) is not allowed on this resource",
        ),
        ("auth_no_token_env", "Not authorized"),
        ("auth_no_vmid_env", "Not authorized"),
    ] {
        let res = results.iter().find(|r| r["case"] == case).unwrap();
        // The client prints "ERROR: \n<body>\n" on stderr.
        assert!(res["stderr"].as_str().unwrap().contains(text), "{case}");
        let rq = requests.iter().find(|r| r["case"] == case).unwrap();
        let got = replay(&g, &token, rq);
        assert_eq!(got.text(), text, "{case}");
        assert_eq!(
            got.body.len() as u64,
            rq["response"]["body_len"].as_u64().unwrap(),
            "{case}"
        );
    }
    g.stop();
}

/// Each JSON document the reference client printed (`--json`) is what the
/// emulator serves for that request on a fresh service.
#[test]
fn documents_match_the_reference_client_output() {
    let results = load("reference-client-results.jsonl");
    let requests = load("reference-requests.jsonl");
    let mut compared = 0;
    for res in &results {
        let case = res["case"].as_str().unwrap();
        let argv: Vec<&str> = res["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if !argv.contains(&"--json") || res["exit_code"] != 0 {
            continue;
        }
        let rq = requests.iter().rfind(|r| r["case"] == case).unwrap();
        if rq["method"] != "GET" {
            continue;
        }
        let dir = temp_dir(&format!("gate-doc-{case}"));
        let (g, _logs) = start(reference_spec(), &dir, NOW);
        let got = replay(&g, &token_of(&dir, 42), rq);
        g.stop();
        assert_eq!(got.status, 200, "{case}: {}", got.text());
        let want: Value = serde_json::from_str(res["stdout"].as_str().unwrap()).unwrap();
        let mut got = got.json();
        if case == "vnet_show_extended_json" {
            // Real OneGate (build_vnet_hash) adds each lease's NIC name in
            // extended mode; the reference server ignored `extended`.
            let leases = got["VNET"]["AR_POOL"]["AR"][0]["LEASES"]["LEASE"]
                .as_array_mut()
                .unwrap();
            assert_eq!(leases.len(), 3);
            for l in leases {
                assert_eq!(l["NIC_NAME"], "NIC0", "{case}");
                l.as_object_mut().unwrap().remove("NIC_NAME");
            }
        }
        assert_eq!(got, want, "{case}");
        compared += 1;
    }
    // vm show, vms show 43, service show, service show --extended, vrouter,
    // vnet, vnet --extended, endpoint with path prefix, https probe.
    assert_eq!(compared, 9);
}

/// Real OneGate serialises with Ruby's `to_json`: compact. The reference
/// server pretty-printed with `", "` / `": "` separators, hence its longer
/// `body_len`; the compact length of the same document must match ours.
#[test]
fn bodies_are_compact_json() {
    let dir = temp_dir("gate-vectors-compact");
    let (g, _logs) = start(reference_spec(), &dir, NOW);
    let r = as_vm(&g, &dir, 42, "GET", "/vm", None, b"");
    let text = r.text();
    assert!(!text.contains(", \"") && !text.contains("\": "), "{text}");
    assert_eq!(r.json().to_string().len(), text.len());
    g.stop();
}
