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
