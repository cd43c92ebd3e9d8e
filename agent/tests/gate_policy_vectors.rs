//! The gate's autoscaler, driven tick by tick, reproduces OneFlow's own
//! passes (`tests/vectors/oneflow/policy-cases.jsonl`, `kind: sequence`,
//! expected results in `policy-expected.jsonl`).
//!
//! Each case becomes a one-role service. Before every tick each VM of the
//! role publishes the tick's attributes through OneGate (`PUT /vm`, erasing
//! the ones it no longer has), then one pass runs at the tick's `now` with
//! the tick's `apply` and the role's cooldown not holding evaluation (the
//! vectors are successive `scale?` passes, without OneFlow's cooldown
//! waits). Checked per tick: diff, cooldown (when diff ≠ 0), cardinality,
//! the role's cooldown, the scale error, and every policy's runtime keys.
#![cfg(feature = "emulator")]

mod gate_util;

use gate_util::*;
use serde_json::{json, Value};
use stamen_agent::gate::autoscale::{PolicyKind, TickMode};
use stamen_agent::gate::spec::ServiceSpec;
use std::collections::BTreeMap;

fn load(name: &str) -> Vec<Value> {
    std::fs::read_to_string(root().join("tests/vectors/oneflow").join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The attributes every VM publishes in a tick (all sequence ticks describe
/// one RUNNING VM; the test checks that instead of assuming it).
fn tick_attrs(tick: &Value) -> BTreeMap<String, String> {
    let ut = if let Some(v) = tick.get("vars") {
        v.clone()
    } else {
        let vms = tick["vms"].as_array().unwrap();
        assert_eq!(vms.len(), 1, "sequence ticks have one VM");
        let vm = vms[0].as_object().unwrap();
        assert!(
            vm.keys().all(|k| k == "USER_TEMPLATE"),
            "only USER_TEMPLATE is published"
        );
        vm["USER_TEMPLATE"].clone()
    };
    ut.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn opt_i(v: Option<&Value>) -> Option<i64> {
    v.map(|x| x.as_i64().unwrap())
}

#[test]
fn sequences_match_oneflow() {
    let cases = load("policy-cases.jsonl");
    let expected = load("policy-expected.jsonl");
    let mut ran = 0;
    for case in cases.iter().filter(|c| c["kind"] == "sequence") {
        let id = case["id"].as_str().unwrap();
        let want = expected.iter().find(|e| e["id"] == id).unwrap();
        let mut role = case["role"].clone();
        role["name"] = json!("r");
        let spec = json!({"name": "seq", "id": 1, "roles": [role]});
        let spec = ServiceSpec::parse(&spec.to_string()).unwrap();
        let dir = temp_dir(&format!("gate-seq-{id}"));
        let first = case["ticks"][0]["now"].as_u64().unwrap();
        let (g, logs) = start(spec, &dir, first);
        let mut published: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        let ticks = case["ticks"].as_array().unwrap();
        let wticks = want["ticks"].as_array().unwrap();
        assert_eq!(ticks.len(), wticks.len(), "{id}");
        for (tick, w) in ticks.iter().zip(wticks) {
            let now = tick["now"].as_u64().unwrap();
            let attrs = tick_attrs(tick);
            for vm in g.snapshot().roles[0].nodes.clone() {
                let prev = published.entry(vm).or_default();
                for k in prev.iter().filter(|k| !attrs.contains_key(*k)) {
                    let r = as_vm(
                        &g,
                        &dir,
                        vm,
                        "PUT",
                        "/vm",
                        Some("application/x-www-form-urlencoded"),
                        &form(k, 2),
                    );
                    assert_eq!(r.status, 200, "{id}: erase {k}");
                }
                let data: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if !data.is_empty() {
                    let r = as_vm(
                        &g,
                        &dir,
                        vm,
                        "PUT",
                        "/vm",
                        Some("application/x-www-form-urlencoded"),
                        &form(&data.join("\n"), 1),
                    );
                    assert_eq!(r.status, 200, "{id}: publish");
                }
                *prev = attrs.keys().cloned().collect();
            }
            let apply = tick.get("apply").and_then(Value::as_bool).unwrap_or(true);
            let reports = g.tick_with(
                Some(now),
                TickMode {
                    apply,
                    ignore_cooldown: true,
                },
            );
            assert_eq!(reports.len(), 1, "{id}");
            let r = &reports[0];
            let at = format!("{id} now={now}");
            assert!(
                w.get("exception").is_none(),
                "{at}: exception cases are not in this set"
            );
            assert_eq!(r.decision.diff, w["diff"].as_i64().unwrap(), "{at}: diff");
            if r.decision.diff != 0 {
                assert_eq!(
                    r.decision.cooldown.map(|c| c as i64),
                    w["cooldown"].as_i64(),
                    "{at}: cooldown"
                );
            }
            assert_eq!(
                i64::from(r.cardinality),
                w["cardinality"].as_i64().unwrap(),
                "{at}: cardinality"
            );
            assert_eq!(
                r.role_cooldown as i64,
                w["role_cooldown"].as_i64().unwrap(),
                "{at}: role cooldown"
            );
            assert_eq!(
                r.scale_error.as_deref(),
                w.get("scale_error").and_then(Value::as_str),
                "{at}: scale_error"
            );
            let el: Vec<_> = r
                .policies
                .iter()
                .filter(|p| p.kind == PolicyKind::Elasticity)
                .collect();
            let wel = w["elasticity_policies"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(el.len(), wel.len(), "{at}");
            for (p, wp) in el.iter().zip(&wel) {
                assert_eq!(p.last_eval, opt_i(wp.get("last_eval")), "{at}: last_eval");
                assert_eq!(
                    p.true_evals,
                    opt_i(wp.get("true_evals")),
                    "{at}: true_evals"
                );
                let wexp = wp
                    .get("expression_evaluated")
                    .map(|v| v.as_str().map(str::to_string));
                assert_eq!(p.expression_evaluated, wexp, "{at}: expression_evaluated");
            }
            let sc: Vec<_> = r
                .policies
                .iter()
                .filter(|p| p.kind == PolicyKind::Scheduled)
                .collect();
            let wsc = w["scheduled_policies"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(sc.len(), wsc.len(), "{at}");
            for (p, wp) in sc.iter().zip(&wsc) {
                assert_eq!(
                    p.last_eval,
                    opt_i(wp.get("last_eval")),
                    "{at}: scheduled last_eval"
                );
            }
            // The cardinality is real: the role has that many VMs.
            assert_eq!(
                g.snapshot().roles[0].nodes.len() as u32,
                r.cardinality,
                "{at}: VMs"
            );
        }
        // Evaluations are logged the way OneFlow records them.
        let logs = logs.lock().unwrap().join("\n");
        if let Some(t) = wticks
            .iter()
            .filter_map(|w| w["elasticity_policies"][0]["expression_evaluated"].as_str())
            .next()
        {
            assert!(logs.contains(t), "{id}: trace {t:?} not logged:\n{logs}");
        }
        g.stop();
        ran += 1;
    }
    assert_eq!(ran, 16);
}
