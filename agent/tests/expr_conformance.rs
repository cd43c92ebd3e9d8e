//! Every case of `tests/vectors/oneflow/expr-cases.jsonl` against the real
//! OneFlow results in `expr-expected.jsonl`; all mismatches reported at once.

use serde_json::Value;
use stamen_agent::cmd_expr::run_case;

const CASES: &str = include_str!("../../tests/vectors/oneflow/expr-cases.jsonl");
const EXPECTED: &str = include_str!("../../tests/vectors/oneflow/expr-expected.jsonl");

#[test]
fn every_vector_matches_oneflow() {
    let cases: Vec<&str> = CASES.lines().filter(|l| !l.trim().is_empty()).collect();
    let expected: Vec<&str> = EXPECTED.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        cases.len(),
        expected.len(),
        "cases and expected results differ in count"
    );
    let mut mismatches = Vec::new();
    for (n, (case, want)) in cases.iter().zip(&expected).enumerate() {
        let case: Value = serde_json::from_str(case).expect("valid case JSON");
        let want: Value = serde_json::from_str(want).expect("valid expected JSON");
        assert_eq!(case["id"], want["id"], "line {}: ids out of step", n + 1);
        let got: Value = match run_case(&case) {
            Ok(line) => serde_json::from_str(&line).expect("run_case prints JSON"),
            Err(e) => {
                mismatches.push(format!("{}: case rejected: {e}", want["id"]));
                continue;
            }
        };
        for key in [
            "status",
            "value",
            "trace",
            "failure_index",
            "failure_reason",
            "tree",
        ] {
            if got.get(key) != want.get(key) {
                mismatches.push(format!(
                    "{} {key}: got {}, want {}",
                    want["id"],
                    got.get(key).unwrap_or(&Value::Null),
                    want.get(key).unwrap_or(&Value::Null)
                ));
            }
        }
        if want["status"] == "exception" && got["exception"]["class"] != want["exception"]["class"]
        {
            mismatches.push(format!(
                "{} exception class: got {}, want {}",
                want["id"], got["exception"]["class"], want["exception"]["class"]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from OneFlow:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    assert_eq!(cases.len(), 168);
}

/// The core's one-call `scale_rule` (what the policy engine uses) gives the
/// same value and trace as the vectors.
#[test]
fn core_scale_rule_matches_oneflow() {
    use stamen_agent::vmdoc::VmDoc;
    use stamen_core::expr::{scale_rule, RuleError, RuleOutcome, VmResolver};
    let mut mismatches = Vec::new();
    for (case, want) in CASES.lines().zip(EXPECTED.lines()) {
        let case: Value = serde_json::from_str(case).unwrap();
        let want: Value = serde_json::from_str(want).unwrap();
        let vars_vm = serde_json::json!({ "USER_TEMPLATE": case["vars"] });
        let vms = match case.get("vms") {
            Some(v) => VmDoc::list(v, "vms").unwrap(),
            None => vec![VmDoc::new(&vars_vm, 0, "vars").unwrap()],
        };
        let mut trace = String::new();
        let got = scale_rule::<_, _, 256>(
            case["expr"].as_str(),
            &mut VmResolver::new(&vms),
            &mut trace,
        );
        let (status, value, trace) = match got {
            Ok(RuleOutcome::Evaluated(v)) => ("ok", Value::Bool(v), Value::String(trace)),
            Ok(RuleOutcome::ParseError) => {
                ("parse_error", Value::Bool(false), Value::String(trace))
            }
            Ok(RuleOutcome::Empty) => ("empty", Value::Bool(false), Value::Null),
            Err(RuleError::Resolve(_)) => ("exception", Value::Null, Value::Null),
            Ok(other) => panic!("{}: unknown outcome {other:?}", want["id"]),
            Err(e) => panic!("{}: {e}", want["id"]),
        };
        if status != want["status"] || value != want["value"] || trace != want["trace"] {
            mismatches.push(format!("{}: got {status} {value} {trace}", want["id"]));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
