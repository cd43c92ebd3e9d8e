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
