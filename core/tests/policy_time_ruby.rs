//! Differential check of `start_time` parsing against Ruby's `Time.parse`
//! (Ruby 3.1, TZ=UTC; `tests/data/time-parse-ruby-3.1.jsonl`): whatever stamen
//! accepts must give Ruby's epoch second; what stamen calls out of range must
//! make Ruby raise (OneFlow then ignores the policy). Strings stamen refuses as
//! unsupported are not compared.

use serde_json::Value;
use stamen_core::policy::time::{parse_iso8601, TimeError};

#[test]
fn iso8601_matches_ruby_time_parse() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/time-parse-ruby-3.1.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut mismatches = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let s = case["s"].as_str().unwrap_or_default();
        let ruby = case.get("epoch").and_then(Value::as_i64);
        match (parse_iso8601(s), ruby) {
            (Ok(t), Some(r)) if t == r => accepted += 1,
            (Err(TimeError::OutOfRange), None) => rejected += 1,
            (Err(TimeError::Unsupported), _) => {}
            (got, _) => mismatches.push(format!("{s:?}: ruby {case}, stamen {got:?}")),
        }
    }
    assert!(
        accepted > 300 && rejected > 300,
        "accepted {accepted}, rejected {rejected}"
    );
    assert!(
        mismatches.is_empty(),
        "{} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
