//! `stamen policy`: conformance with OneFlow (every case of
//! `tests/vectors/oneflow/policy-cases.jsonl`), and the CLI.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use stamen_agent::cmd_policy::run_case;

fn vectors(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/oneflow"
    ))
    .join(name)
}

fn lines(name: &str) -> Vec<Value> {
    let path = vectors(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Every field of `got` must equal `want`; records each difference with its path.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(&format!("{path}.{k}"), wv, gv, out),
                    None => out.push(format!("{path}.{k}: missing, want {wv}")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!(
                    "{path}.{k}: unexpected {}",
                    g.get(k).unwrap_or(&Value::Null)
                ));
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        _ if want == got => {}
        _ => out.push(format!("{path}: want {want}, got {got}")),
    }
}

#[test]
fn conformance_with_oneflow() {
    let cases = lines("policy-cases.jsonl");
    let expected = lines("policy-expected.jsonl");
    assert_eq!(
        cases.len(),
        expected.len(),
        "cases and expected differ in length"
    );
    let mut mismatches = Vec::new();
    let mut passed = 0;
    for (case, want) in cases.iter().zip(&expected) {
        let id = case.get("id").and_then(Value::as_str).unwrap_or("?");
        assert_eq!(
            case.get("id"),
            want.get("id"),
            "vectors out of order at {id}"
        );
        let before = mismatches.len();
        match run_case(case) {
            Ok(got) => diff(id, want, &got.to_value(), &mut mismatches),
            Err(e) => mismatches.push(format!("{id}: error {e}")),
        }
        if mismatches.len() == before {
            passed += 1;
        }
    }
    assert!(
        mismatches.is_empty(),
        "{passed}/{} cases match; mismatches:\n{}",
        cases.len(),
        mismatches.join("\n")
    );
    assert_eq!(passed, 43);
}

fn stamen(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running stamen: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn batch_output_is_byte_identical_to_oneflow() {
    let cases = vectors("policy-cases.jsonl");
    let (code, stdout, stderr) = stamen(&[
        "policy",
        "simulate",
        "--batch",
        cases.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let expected = std::fs::read_to_string(vectors("policy-expected.jsonl")).unwrap_or_default();
    assert_eq!(stdout, expected);
}

/// The VM documents of the sequence cases go through the same averaging as
/// `stamen expr`: check the policy evaluator on every expression vector.
#[test]
fn policy_evaluator_matches_expression_vectors() {
    use stamen_agent::policyeval::VmsEvaluator;
    use stamen_core::policy::{EvalError, Evaluator};
    let cases = lines("expr-cases.jsonl");
    let expected = lines("expr-expected.jsonl");
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (case, want) in cases.iter().zip(&expected) {
        let id = case.get("id").and_then(Value::as_str).unwrap_or("?");
        let status = want.get("status").and_then(Value::as_str).unwrap_or("");
        let Some(expr) = case
            .get("expr")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        else {
            continue; // empty expressions never reach the evaluator
        };
        checked += 1;
        let mut eval = match VmsEvaluator::from_tick(case) {
            Ok(e) => e,
            Err(e) => {
                mismatches.push(format!("{id}: {e}"));
                continue;
            }
        };
        let mut trace = heapless::String::new();
        match (status, eval.evaluate(expr, &mut trace)) {
            ("exception", Err(EvalError::Exception(e))) => {
                let got = serde_json::json!({"class": e.class, "message": e.message});
                if want.get("exception") != Some(&got) {
                    mismatches.push(format!(
                        "{id}: exception {got}, want {:?}",
                        want.get("exception")
                    ));
                }
            }
            ("ok" | "parse_error", Ok(v)) => {
                if want.get("value") != Some(&Value::Bool(v))
                    || want.get("trace") != Some(&Value::from(trace.as_str()))
                {
                    mismatches.push(format!(
                        "{id}: {v} {trace:?}, want {:?} {:?}",
                        want.get("value"),
                        want.get("trace")
                    ));
                }
            }
            (s, got) => mismatches.push(format!("{id}: status {s}, got {got:?}")),
        }
    }
    assert!(checked > 100, "only {checked} expression cases checked");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn example(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/policies/").to_string() + name
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stamen-policy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

#[test]
fn lint_exit_codes_and_json() {
    let good = example("flower-service.json");
    let (code, out, err) = stamen(&[
        "policy",
        "lint",
        &good,
        "--min-fit-clients",
        "2",
        "--round-seconds",
        "120",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no findings"));

    let bad = example("flower-service-antipatterns.json");
    let (code, out, _) = stamen(&[
        "policy",
        "lint",
        &bad,
        "--min-fit-clients",
        "2",
        "--round-seconds",
        "120",
        "--json",
    ]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    let findings = v
        .get("findings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ids: Vec<&str> = findings
        .iter()
        .filter_map(|f| f.get("id").and_then(Value::as_str))
        .collect();
    for id in [
        "STAMEN-L001",
        "STAMEN-L002",
        "STAMEN-L003",
        "STAMEN-L004",
        "STAMEN-L005",
        "STAMEN-L006",
        "STAMEN-L007",
        "STAMEN-L008",
        "STAMEN-L009",
        "STAMEN-L015",
        "STAMEN-L016",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(findings.iter().all(|f| f
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.starts_with("$.roles["))
        && f.get("fix")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())));

    // Warnings only: exit 1. A single role: paths from `$`.
    let role = temp_file(
        "warn.json",
        r#"{"cardinality": 2, "min_vms": 2, "elasticity_policies": [{"type": "CHANGE", "adjust": 1, "expression": "CPU > 80"}]}"#,
    );
    let (code, out, _) = stamen(&["policy", "lint", role.to_str().unwrap_or("")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("warning STAMEN-L007 $:"), "{out}");

    // A document as `oneflow-template show --json` prints it: paths under its body.
    let wrapped = temp_file(
        "wrapped.json",
        r#"{"DOCUMENT": {"TEMPLATE": {"BODY": {"roles": [{"cardinality": 2, "max_vms": 3,
            "elasticity_policies": [{"type": "CHANGE", "adjust": 1, "expression": "CPUU > 1"}]}]}}}}"#,
    );
    let (code, out, _) = stamen(&["policy", "lint", wrapped.to_str().unwrap_or(""), "--json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            r#""path":"$.DOCUMENT.TEMPLATE.BODY.roles[0].elasticity_policies[0].expression""#
        ),
        "{out}"
    );

    // Unreadable field types are an error with their path.
    let broken = temp_file("broken.json", r#"{"roles": [{"cardinality": true}]}"#);
    let (code, out, _) = stamen(&["policy", "lint", broken.to_str().unwrap_or("")]);
    assert_eq!(code, 2);
    assert!(out.contains("$.roles[0].cardinality"), "{out}");
}

#[test]
fn trace_replay_explains_each_step() {
    let (code, out, err) = stamen(&[
        "policy",
        "simulate",
        &example("supernode-role.json"),
        "--trace",
        &example("supernode-metrics.csv"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("t=0  FL_TRAINING_ACTIVE=1  CPU=87.5  (2 VMs)"),
        "{out}"
    );
    assert!(
        out.contains("FL_TRAINING_ACTIVE[1.0] > 0.5 && CPU[87.5] > 80  true_evals 1/2"),
        "{out}"
    );
    assert!(
        out.contains("=> policy[0] triggered: +1 -> cardinality 3 (cooldown 120 s)"),
        "{out}"
    );
    assert!(out.contains("cooldown until t="), "{out}");
    assert!(
        out.contains("=> policy[1] triggered: -1 -> cardinality 2 (cooldown 240 s)"),
        "{out}"
    );

    let csv = temp_file("bad.csv", "t,CPU\n0,1\nx,2\n");
    let (code, _, err) = stamen(&[
        "policy",
        "simulate",
        &example("supernode-role.json"),
        "--trace",
        csv.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.csv:3:1: t must be whole seconds"),
        "{err}"
    );
}

#[test]
fn batch_reports_malformed_cases() {
    let cases = temp_file("cases.jsonl", "{\"id\":\"x\",\"kind\":\"other\"}\n");
    let (code, out, err) = stamen(&[
        "policy",
        "simulate",
        "--batch",
        cases.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("cases.jsonl:1: $.kind"), "{err}");
}

#[test]
fn new_cardinality_crashes_where_oneflow_does() {
    let case = |policy: Value| {
        let c = serde_json::json!({"id": "x", "kind": "new_cardinality",
            "role": {"cardinality": 2, "min_vms": 1, "max_vms": 5}, "policy": policy});
        run_case(&c).map(|n| n.to_value()).unwrap_or(Value::Null)
    };
    let msg = |v: &Value| {
        v.pointer("/exception/message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let missing_type = case(serde_json::json!({"adjust": 1}));
    assert_eq!(missing_type["status"], "exception");
    assert_eq!(msg(&missing_type), "undefined method 'upcase' for nil");
    assert_eq!(
        msg(&case(serde_json::json!({"type": "CHANGE", "adjust": true}))),
        "undefined method 'to_i' for true"
    );
    // min_adjust_step is only read by PERCENTAGE_CHANGE.
    assert_eq!(
        case(serde_json::json!({"type": "CHANGE", "adjust": 1, "min_adjust_step": [1]}))
            ["new_cardinality"],
        3
    );
    let pc =
        case(serde_json::json!({"type": "percentage_change", "adjust": 1, "min_adjust_step": [1]}));
    assert_eq!(msg(&pc), "undefined method 'to_i' for an instance of Array");
    // Ruby conversions: "3" and 1.9 read as 3 and 1.
    let c = serde_json::json!({"id": "y", "kind": "new_cardinality",
        "role": {"cardinality": "3", "max_vms": 5}, "policy": {"type": "change", "adjust": 1.9}});
    assert_eq!(
        run_case(&c)
            .map(|n| n.to_value()["new_cardinality"].clone())
            .ok(),
        Some(Value::from(4))
    );
}

#[test]
fn sequences_crash_where_and_when_oneflow_does() {
    // A number as start_time: `Integer#empty?` is missing, but only once the
    // policy is past its first pass.
    let c = serde_json::json!({"id": "s", "kind": "sequence",
        "role": {"cardinality": 1, "min_vms": 1, "max_vms": 10,
                 "scheduled_policies": [{"type": "CARDINALITY", "adjust": 4, "start_time": 1000}]},
        "ticks": [{"now": 900, "vars": {}}, {"now": 1000, "vars": {}}]});
    let out = run_case(&c).map(|n| n.to_value()).unwrap_or(Value::Null);
    assert_eq!(out.pointer("/ticks/0/diff"), Some(&Value::from(0)));
    assert_eq!(
        out.pointer("/ticks/1/exception/message")
            .and_then(Value::as_str),
        Some("undefined method 'empty?' for an instance of Integer")
    );
    assert_eq!(out.pointer("/ticks/1/diff"), None);
    assert_eq!(
        out.pointer("/ticks/1/scheduled_policies/0/last_eval"),
        Some(&Value::from(1000))
    );
    // `"adjust": true` crashes only when the policy triggers.
    let c = serde_json::json!({"id": "e", "kind": "sequence",
        "role": {"cardinality": 1, "min_vms": 1, "max_vms": 10,
                 "elasticity_policies": [{"expression": "A > 1", "type": "CHANGE", "adjust": true}]},
        "ticks": [{"now": 10, "vars": {"A": "0"}}, {"now": 20, "vars": {"A": "5"}}]});
    let out = run_case(&c).map(|n| n.to_value()).unwrap_or(Value::Null);
    assert_eq!(out.pointer("/ticks/0/diff"), Some(&Value::from(0)));
    assert_eq!(
        out.pointer("/ticks/1/exception/message")
            .and_then(Value::as_str),
        Some("undefined method 'to_i' for true")
    );
    // A role that cannot be read at all is a clear error, not a guess.
    let c = serde_json::json!({"id": "b", "kind": "sequence", "role": {"cardinality": [1]}, "ticks": []});
    assert!(run_case(&c).is_err_and(|e| e.contains("$.role.cardinality")));
}
