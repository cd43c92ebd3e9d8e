//! Differential check against the real `parse-cron` 0.1.4 gem (what OneFlow
//! uses): `tests/data/cron-parse-cron-0.1.4.jsonl` holds `CronParser.new(spec)
//! .next(Time.at(t))` as computed by Ruby 3.1 with TZ=UTC (Debian's
//! ruby-parse-cron package), or the class of the exception it raised. OneFlow
//! treats every exception the same way (the scheduled policy does not fire), so
//! only "error or not" is compared for those.

use serde_json::Value;
use stamen_core::policy::Cron;

#[test]
fn next_matches_the_gem() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cron-parse-cron-0.1.4.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut mismatches = Vec::new();
    let mut total = 0;
    let mut errors = 0;
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let spec = case["spec"].as_str().unwrap_or_default();
        let t = case["t"].as_i64().unwrap_or_default();
        let got = Cron::parse(spec).and_then(|c| c.next_after(t));
        total += 1;
        match (case.get("next").and_then(Value::as_i64), &got) {
            (Some(want), Ok(n)) if *n == want => {}
            (None, Err(_)) => errors += 1,
            _ => mismatches.push(format!("{spec:?} after {t}: gem {case}, stamen {got:?}")),
        }
    }
    assert!(
        total > 3000 && errors > 100,
        "fixture too small: {total} cases, {errors} errors"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {total} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
