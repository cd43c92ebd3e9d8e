//! The `stamen expr` command line: outputs and exit statuses.

use std::io::Write;
use std::process::{Command, Output};

fn stamen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stamen"))
        .arg("expr")
        .args(args)
        .output()
        .expect("run stamen")
}

fn vectors(name: &str) -> String {
    format!(
        "{}/../tests/vectors/oneflow/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stamen-expr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    path
}

#[test]
fn batch_output_is_byte_identical_to_oneflow() {
    let out = stamen(&["--batch", &vectors("expr-cases.jsonl")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read_to_string(vectors("expr-expected.jsonl")).unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    let diff: Vec<_> = want
        .lines()
        .zip(got.lines())
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("want {w}\n got {g}"))
        .collect();
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_eq!(want.lines().count(), got.lines().count());
}

#[test]
fn true_exits_0_false_exits_1() {
    let out = stamen(&["CPU > 80 && MEM < 3", "--vars", "CPU=82.88", "MEM=2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "true\nCPU[82.88] > 80 && MEM[2.0] < 3\n"
    );
    let out = stamen(&["CPU > 80 && MEM < 3", "--vars", "CPU=82.88"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "false\nCPU[82.88] > 80 && MEM[--] < 3\n"
    );
}

#[test]
fn parse_errors_exit_2_with_oneflow_text() {
    let out = stamen(&["A > +5", "--vars", "A=10"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Parse error. 'A > +5': Expected one of ' ', '-', [0-9], '\"', '\\'', [a-zA-Z] at line 1, column 5 (byte 5) after A > "),
        "{stdout}"
    );
    let out = stamen(&[""]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty expression"));
}

#[test]
fn vms_file_averages_and_oneflow_exceptions_exit_2() {
    let vms = temp_file(
        "vms.json",
        r#"[{"USER_TEMPLATE": {"CPU": "100"}}, {"USER_TEMPLATE": {"CPU": "100"}},
            {"USER_TEMPLATE": {}, "MONITORING": {"CPU": "0"}},
            {"USER_TEMPLATE": {"CPU": "5"}, "LCM_STATE": "1"}]"#,
    );
    let out = stamen(&["CPU == 66.67", "--vms", vms.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "true\nCPU[66.67] == 66.67\n"
    );

    let inf = temp_file("inf.json", r#"[{"USER_TEMPLATE": {"ATT": "1e400"}}]"#);
    let out = stamen(&["1 > 2 && ATT > 0", "--vms", inf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FloatDomainError"));
}

#[test]
fn bad_inputs_are_clear_errors() {
    let out = stamen(&["A > 1", "--vars", "NOEQUALS"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected KEY=VALUE"));

    let bad = temp_file("bad.json", "[{\"USER_TEMPLATE\": {}},\n {\"STAT\": \"3\"}]");
    let out = stamen(&["A > 1", "--vms", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[1].STAT: unknown key"), "{err}");

    let broken = temp_file("broken.json", "[{\"USER_TEMPLATE\": {}\n");
    let out = stamen(&["A > 1", "--vms", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.json:2:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cases = temp_file(
        "cases.jsonl",
        "{\"id\":\"a\",\"expr\":\"A > 1\",\"vars\":{\"A\":\"2\"}}\n{\"id\":\"b\",\"expr\":1}\n",
    );
    let out = stamen(&["--batch", cases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cases.jsonl:2: expr: expected a string or null"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"id\":\"a\""));

    let out = stamen(&["--batch", "/nonexistent/cases.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
}
