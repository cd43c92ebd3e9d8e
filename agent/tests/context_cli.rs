//! `stamen context check|vars` end to end, through the real binary.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stamen(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stamen"));
    cmd.args(args).env_remove("TOKENTXT");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run stamen")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8 output")
}

fn samples() -> Vec<PathBuf> {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/context"
    ));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("context.sh").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    dirs
}

fn expected(dir: &Path) -> Map<String, Value> {
    match serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
        .unwrap()
    {
        Value::Object(m) => m,
        _ => panic!("expected.json must be an object"),
    }
}

fn json_object(out: &Output) -> Map<String, Value> {
    match serde_json::from_slice(&out.stdout).expect("stdout is JSON") {
        Value::Object(m) => m,
        _ => panic!("not a JSON object"),
    }
}

#[test]
fn vars_json_is_exactly_expected_json_for_every_sample() {
    for dir in samples() {
        let file = dir.join("context.sh");
        let out = stamen(
            &[
                "context",
                "vars",
                file.to_str().unwrap(),
                "--json",
                "--show-secrets",
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{dir:?}: {}", text(&out.stderr));
        assert_eq!(json_object(&out), expected(&dir), "{dir:?}");

        // Without --show-secrets only the secret keys change.
        let out = stamen(&["context", "vars", file.to_str().unwrap(), "--json"], &[]);
        assert_eq!(out.status.code(), Some(0));
        let mut want = expected(&dir);
        for k in ["ONEGATE_TOKEN", "TOKENTXT"] {
            if let Some(v) = want.get_mut(k) {
                *v = Value::String("<redacted>".into());
            }
        }
        assert_eq!(json_object(&out), want, "{dir:?}");
    }
}

#[test]
fn vars_listing_uses_onedes_quoting() {
    let dir = &samples()[0];
    let out = stamen(
        &["context", "vars", dir.join("context.sh").to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    // The listing is itself a valid context.sh: reading it back gives the
    // same variables.
    let tmp = tempfile::tempdir().unwrap();
    let listing = tmp.path().join("context.sh");
    std::fs::write(&listing, &out.stdout).unwrap();
    let again = stamen(
        &[
            "context",
            "vars",
            listing.to_str().unwrap(),
            "--json",
            "--show-secrets",
        ],
        &[],
    );
    assert_eq!(json_object(&again), expected(dir));
}

#[test]
fn check_accepts_every_sample_and_redacts_the_token() {
    for dir in samples() {
        let file = dir.join("context.sh");
        let out = stamen(&["context", "check", file.to_str().unwrap()], &[]);
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{dir:?}: {stderr}");
        let token = std::fs::read_to_string(dir.join("token.txt")).unwrap();
        let token = token.trim();
        assert!(
            !stdout.contains(token) && !stderr.contains(token),
            "token leaked"
        );
        assert!(
            stdout.contains("ONEGATE_TOKEN         <redacted> (from "),
            "{stdout}"
        );
        let vmid = expected(&dir)["VMID"].as_str().unwrap().to_owned();
        assert!(
            stdout.contains(&format!("VMID                  {vmid}\n")),
            "{stdout}"
        );
        assert!(stdout.contains("FL_EDGE_BACKOFF       exponential\n"));
        assert!(stdout.contains("FL_EDGE_MAX_BACKOFF   300\n"));
    }
}

#[test]
fn one_env_is_read_leniently_with_warnings() {
    for dir in samples() {
        let file = dir.join("one_env");
        if !file.is_file() {
            continue;
        }
        let out = stamen(
            &[
                "context",
                "vars",
                file.to_str().unwrap(),
                "--json",
                "--show-secrets",
            ],
            &[],
        );
        let want = expected(&dir);
        // one_env cannot carry a value where `"` ends a line; such a sample
        // leaves stray lines (syntax errors), checked only loosely.
        let broken = want.values().any(|v| {
            let v = v.as_str().unwrap_or("");
            v.split('\n')
                .rev()
                .skip(1)
                .any(|l| l.trim_end_matches([' ', '\t']).ends_with('"'))
        });
        if !broken {
            assert_eq!(out.status.code(), Some(0), "{dir:?}");
        }
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("reading one_env, which is lossy"),
            "{stderr}"
        );
        let got = json_object(&out);
        let token = std::fs::read_to_string(dir.join("token.txt")).unwrap();
        assert_eq!(got["TOKENTXT"], Value::String(token.trim().into()));
        for (k, v) in &want {
            let exact = v.as_str().unwrap();
            if broken {
                continue;
            }
            let lossy = exact.contains(['"', '$', '`', '\\']);
            // Each lossy value gets its own warning naming the key.
            assert_eq!(
                stderr.contains(&format!(": {k}: value holds")),
                lossy,
                "{dir:?} {k}"
            );
            assert_eq!(got.get(k), Some(v), "{dir:?} {k}");
        }
        if broken {
            continue;
        }
        // Keys only in one_env: TOKENTXT and spurious empty lookalikes.
        for (k, v) in &got {
            if !want.contains_key(k) && k != "TOKENTXT" {
                assert_eq!(v, &Value::String(String::new()), "{dir:?} spurious {k}");
            }
        }
        let check = stamen(&["context", "check", file.to_str().unwrap()], &[]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
        assert!(text(&check.stdout).contains("(from TOKENTXT environment variable)"));
    }
    // The known case: oneflow-role's banner continuation line made `KEY`.
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/context/oneflow-role"
    ));
    let out = stamen(
        &[
            "context",
            "vars",
            dir.join("one_env").to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    let got = json_object(&out);
    assert_eq!(got["KEY"], Value::String(String::new()));
    assert_eq!(got["TOKENTXT"], Value::String("<redacted>".into()));
    assert!(text(&out.stderr).contains("one_env:33:8: ONEAPP_MOTD: value holds"));
}

const BAD: &str = "# Context variables generated by OpenNebula
FL_EDGE_BACKOFF='linear'
FL_SUPERLINK_ADDRESS='10.0.0.1'
BAD LINE
ONEAPP_FL_NODE_CONFIG='a=1 a=2'
FL_MIN_FIT_CLIENTS='0'
FL_ISOLATION='process'
FL_SUPERLINK_ADDRESS='host;reboot:80'
ONEGATE_ENDPOINT='http://h:5030'
ONEGATE_TOKEN='not base64!'
TOKEN='YES'
VMID='x7'
ONEAPP_FL_MAX_RETRIES='it'\\''s'
";

#[test]
fn check_lists_every_error_with_file_line_col() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("context.sh");
    std::fs::write(&file, BAD).unwrap();
    let f = file.to_str().unwrap();
    let out = stamen(&["context", "check", f], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let want = format!(
        "{f}:2:1: FL_EDGE_BACKOFF: invalid value \"linear\" (allowed: exponential, fixed)
{f}:3:1: FL_SUPERLINK_ADDRESS: invalid value \"10.0.0.1\": missing port (allowed: IPv4:port, [IPv6]:port or dns-name:port with port 1-65535)
{f}:4:4: expected '=' after the variable name
{f}:5:1: ONEAPP_FL_NODE_CONFIG: invalid value \"a=1 a=2\": duplicate key at offset 4 (allowed: space-separated key=value pairs, values true/false, integers, floats or quoted strings, e.g. partition-id=0 name=\"edge 1\")
{f}:6:1: FL_MIN_FIT_CLIENTS: invalid value \"0\" (allowed: an integer from 1 to 4294967295)
{f}:8:1: FL_SUPERLINK_ADDRESS: invalid value \"host;reboot:80\": forbidden character ';' in address (allowed: IPv4:port, [IPv6]:port or dns-name:port with port 1-65535)
{f}:10:1: ONEGATE_TOKEN: token holds a non-base64 character (allowed: A-Z a-z 0-9 + / - _ =)
{f}:12:1: VMID: invalid value \"x7\" (allowed: an integer from 0 to 4294967295)
{f}:13:1: ONEAPP_FL_MAX_RETRIES: invalid value \"it's\" (allowed: an integer from 0 to 4294967295)
{f}: 9 errors
"
    );
    assert_eq!(text(&out.stderr), want);
    assert!(!text(&out.stderr).contains("not base64!"), "token leaked");
}

#[test]
fn check_warns_about_unknown_fl_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("context.sh");
    std::fs::write(
        &file,
        "FL_SUPERLINK_ADRESS='10.0.0.1:9092'\nFL_LOG_LEVEL='INFO'\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = stamen(&["context", "check", f], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).starts_with(&format!(
        "warning: {f}:1:1: FL_SUPERLINK_ADRESS: not an edge setting; ignored (known: FL_SUPERLINK_ADDRESS, "
    )));
    assert!(text(&out.stdout).contains("FL_SUPERLINK_ADDRESS  (empty: discover via OneGate)"));
}

#[test]
fn vars_reports_syntax_errors_but_prints_what_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("context.sh");
    std::fs::write(&file, "A='1'\nB=unquoted\nC='it'\\''s'\n").unwrap();
    let f = file.to_str().unwrap();
    let out = stamen(&["context", "vars", f, "--json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let got = json_object(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(got["C"], Value::String("it's".into()));
    assert_eq!(
        text(&out.stderr),
        format!("{f}:2:3: value must be single-quoted (allowed: KEY='value', a ' inside written as '\\'')\n")
    );
}

#[test]
fn token_rule_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let base = "# Context variables generated by OpenNebula\nONEGATE_ENDPOINT='http://169.254.16.9:5030'\nTOKEN='YES'\nVMID='5'\n";
    let file = tmp.path().join("context.sh");
    std::fs::write(&file, base).unwrap();
    let f = file.to_str().unwrap();
    // No token anywhere: an error.
    let out = stamen(&["context", "check", f], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("{f}:3:1: ONEGATE_TOKEN: missing")));
    // TOKENTXT from the environment.
    let out = stamen(&["context", "check", f], &[("TOKENTXT", "ZW52dG9r")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("<redacted> (from TOKENTXT environment variable)"));
    assert!(!text(&out.stdout).contains("ZW52dG9r"));
    // token.txt next to the file loses to TOKENTXT, wins alone.
    std::fs::write(tmp.path().join("token.txt"), "ZmlsZQ==\n").unwrap();
    let out = stamen(&["context", "check", f], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("token.txt)"));
    // ONEGATE_TOKEN in the context wins and is redacted in vars.
    std::fs::write(&file, format!("{base}ONEGATE_TOKEN='Y3R4dG9r'\n")).unwrap();
    let out = stamen(&["context", "check", f], &[("TOKENTXT", "ZW52dG9r")]);
    assert!(text(&out.stdout).contains("(from ONEGATE_TOKEN in the context)"));
    let out = stamen(&["context", "vars", f], &[]);
    assert!(text(&out.stdout).contains("ONEGATE_TOKEN='<redacted>'\n"));
    assert!(!text(&out.stdout).contains("Y3R4dG9r"));
    let out = stamen(&["context", "vars", f, "--show-secrets"], &[]);
    assert!(text(&out.stdout).contains("ONEGATE_TOKEN='Y3R4dG9r'\n"));
}

#[test]
fn unreadable_or_oversized_files() {
    let out = stamen(&["context", "check", "/nonexistent/context.sh"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: /nonexistent/context.sh: "));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("context.sh");
    let big = format!("A='{}'\n", "x".repeat(1 << 20));
    std::fs::write(&file, big).unwrap();
    let out = stamen(&["context", "vars", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("file larger than 1048576 bytes"));
}

#[test]
fn bundled_example_is_valid() {
    let file = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/supernode/context.sh"
    ));
    let out = stamen(&["context", "check", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FL_SUPERLINK_ADDRESS  superlink.example:9092\n"),
        "{stdout}"
    );
    assert!(stdout.contains("FL_NODE_CONFIG        partition-id=0 num-partitions=2\n"));
}

#[test]
fn falls_back_to_the_process_environment() {
    let defaults = [
        "/var/run/one-context/context.sh.local",
        "/var/run/one-context/context.sh.network",
        "/var/run/one-context/context.sh.online",
        "/mnt/context.sh",
        "/media/context/context.sh",
        "/mnt/context/context.sh",
        "/run/one-context/one_env",
    ];
    if defaults.iter().any(|p| Path::new(p).exists()) {
        eprintln!("skipped: this machine has a real context file");
        return;
    }
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stamen"))
            .args(args)
            .env_clear()
            .env("VMID", "12")
            .env("TOKEN", "YES")
            .env("ONEGATE_ENDPOINT", "http://169.254.16.9:5030")
            .env("TOKENTXT", "ZW52dG9r")
            .env("ONEAPP_FL_SUPERLINK_ADDRESS", "[fd00::5]:9092")
            .output()
            .unwrap()
    };
    let out = run(&["context", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with(
        "warning: no context file found (searched /var/run/one-context/context.sh.local, "
    ));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("# <environment> (environment)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("FL_SUPERLINK_ADDRESS  [fd00::5]:9092\n"));
    assert!(stdout.contains("<redacted> (from TOKENTXT environment variable)"));
    let out = run(&["context", "vars", "--json"]);
    let got = json_object(&out);
    assert_eq!(got["VMID"], Value::String("12".into()));
    assert_eq!(got["TOKENTXT"], Value::String("<redacted>".into()));
}
