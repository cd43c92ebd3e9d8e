//! Drives the C side: builds libstamen (static and shared) with cargo,
//! compiles the C tests and examples with
//! `cc -std=c99 -Wall -Wextra -Werror -pedantic` against `include/stamen.h`,
//! runs them against both libraries, and again under valgrind
//! (`--error-exitcode=1 --leak-check=full`, every leak kind an error) and
//! once more built with ASan+UBSan (static library).
//! Without `cc` the tests fail; without valgrind the valgrind runs are
//! skipped with a message.

use serde_json::Value;
use stamen_agent::policydoc::{opt_to_i, role_doc, to_i};
use stamen_agent::vmdoc::VmDoc;
use stamen_core::expr::{Expr, Lookup, Section, VmView};
use stamen_core::policy::{Adjustment, AdjustmentType};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

struct Libs {
    static_lib: PathBuf,
    shared_dir: PathBuf,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the library with the cargo running this test (honouring
/// CARGO_TARGET_DIR and friends) and reads the artifact paths from its
/// JSON messages.
fn libs() -> &'static Libs {
    static LIBS: OnceLock<Libs> = OnceLock::new();
    LIBS.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "-p",
                "stamen-ffi",
                "--lib",
                "--message-format=json",
            ])
            .current_dir(manifest_dir())
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut static_lib = None;
        let mut shared = None;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if msg["reason"] != "compiler-artifact" || msg["target"]["name"] != "stamen" {
                continue;
            }
            for f in msg["filenames"].as_array().into_iter().flatten() {
                let p = PathBuf::from(f.as_str().unwrap_or_default());
                match p.extension().and_then(|e| e.to_str()) {
                    Some("a") => static_lib = Some(p),
                    Some("so") => shared = Some(p),
                    _ => {}
                }
            }
        }
        let static_lib = static_lib.expect("cargo reported no libstamen.a");
        let shared = shared.expect("cargo reported no libstamen.so");
        // Link the shared library from a directory holding only it, so
        // `-lstamen` cannot pick the static one.
        let shared_dir = tmp().join("shared");
        std::fs::create_dir_all(&shared_dir).expect("mkdir");
        std::fs::copy(&shared, shared_dir.join("libstamen.so")).expect("copy libstamen.so");
        Libs {
            static_lib,
            shared_dir,
        }
    })
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stamen-ffi-c")
}

/// System libraries a Rust staticlib needs on Linux
/// (`rustc --print native-static-libs`).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

const CFLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"];

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Shared,
}

const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

/// Whether the C compiler can build and run an ASan+UBSan program here.
fn have_sanitizers() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let dir = tmp();
        let _ = std::fs::create_dir_all(&dir);
        let src = dir.join("asan_probe.c");
        let exe = dir.join("asan_probe");
        if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
            return false;
        }
        let built = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(SANITIZE)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .output()
            .is_ok_and(|o| o.status.success());
        built
            && Command::new(&exe)
                .output()
                .is_ok_and(|o| o.status.success())
    })
}

/// Compiles `sources` into an executable linked against libstamen.
fn compile(name: &str, sources: &[PathBuf], link: Link) -> PathBuf {
    compile_flags(name, sources, link, &[])
}

fn compile_flags(name: &str, sources: &[PathBuf], link: Link, extra: &[&str]) -> PathBuf {
    let libs = libs();
    let dir = tmp();
    std::fs::create_dir_all(&dir).expect("mkdir");
    let suffix = if extra.is_empty() { "" } else { "-asan" };
    let exe = dir.join(format!("{name}-{link:?}{suffix}").to_lowercase());
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cmd.args(CFLAGS)
        .args(extra)
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-I")
        .arg(manifest_dir().join("tests/c"))
        .args(sources)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Static => {
            cmd.arg(&libs.static_lib).args(NATIVE_LIBS);
        }
        Link::Shared => {
            cmd.arg("-L")
                .arg(&libs.shared_dir)
                .arg("-lstamen")
                .arg(format!("-Wl,-rpath,{}", libs.shared_dir.display()));
        }
    }
    let out = cmd.output().expect("run cc (is a C compiler installed?)");
    assert!(
        out.status.success(),
        "cc failed for {name} ({link:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn have_valgrind() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles `name` against both libraries and runs each binary, then each
/// under valgrind, then a static ASan+UBSan build (leak checks on).
/// Returns the stdout of the static run.
fn check_program(name: &str, sources: &[PathBuf], args: &[&str]) -> String {
    if have_sanitizers() {
        let exe = compile_flags(name, sources, Link::Static, SANITIZE);
        let out = Command::new(&exe)
            .args(args)
            .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            .output()
            .expect("run sanitized program");
        assert!(
            out.status.success(),
            "{name} (ASan+UBSan) failed:\n{}",
            show(&out)
        );
    } else {
        eprintln!(
            "SKIPPED: the C compiler cannot build ASan+UBSan programs here; {name} not sanitized"
        );
    }
    let mut first = None;
    for link in [Link::Static, Link::Shared] {
        let exe = compile(name, sources, link);
        let out = Command::new(&exe)
            .args(args)
            .output()
            .expect("run test program");
        assert!(
            out.status.success(),
            "{name} ({link:?}) failed:\n{}",
            show(&out)
        );
        first.get_or_insert_with(|| String::from_utf8_lossy(&out.stdout).into_owned());
        if !have_valgrind() {
            eprintln!(
                "SKIPPED: valgrind not installed; {name} ({link:?}) not checked for memory errors"
            );
            continue;
        }
        let out = Command::new("valgrind")
            .args([
                "--quiet",
                "--error-exitcode=1",
                "--leak-check=full",
                "--show-leak-kinds=all",
                "--errors-for-leak-kinds=all",
            ])
            .arg(&exe)
            .args(args)
            .output()
            .expect("run valgrind");
        assert!(
            out.status.success(),
            "{name} ({link:?}) under valgrind:\n{}",
            show(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("ERROR SUMMARY") || stderr.contains("ERROR SUMMARY: 0 errors"),
            "{name} ({link:?}) valgrind errors:\n{stderr}"
        );
    }
    first.unwrap_or_default()
}

fn c_file(rel: &str) -> PathBuf {
    manifest_dir().join(rel)
}

#[test]
fn c_test_api() {
    let out = check_program("test_api", &[c_file("tests/c/test_api.c")], &[]);
    assert!(out.contains("test_api: all"), "{out}");
}

#[test]
fn example_edge_status() {
    let ctx = manifest_dir().join("../examples/supernode/context.sh");
    let out = check_program(
        "edge_status",
        &[c_file("examples/edge_status.c")],
        &[ctx.to_str().expect("utf-8 path")],
    );
    assert!(out.contains("superlink: superlink.example:9092"), "{out}");
    assert!(
        out.contains(
            "body: data=FL_CLIENT_STATUS%3D2%0AFL_TRAINING_ACTIVE%3D1%0AFL_ROUND_NUMBER%3D1&type=1"
        ),
        "{out}"
    );
}

#[test]
fn example_policy_check() {
    let out = check_program(
        "policy_check",
        &[c_file("examples/policy_check.c")],
        &[
            "FL_CLIENT_STATUS == 2 && CPU > 80",
            "FL_CLIENT_STATUS=2",
            "CPU=91.5",
        ],
    );
    assert!(out.contains("value: true"), "{out}");
    assert!(
        out.contains("trace: FL_CLIENT_STATUS[2.0] == 2 && CPU[91.5] > 80"),
        "{out}"
    );
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn lookup_line(l: Lookup<'_>) -> String {
    let (kind, text, number) = match l {
        Lookup::Missing => (0, "", 0.0),
        Lookup::Text(t) => (1, t, 0.0),
        Lookup::Number(x) => (2, "", x),
        Lookup::Empty => (3, "", 0.0),
        Lookup::Nested => (4, "", 0.0),
        Lookup::Array => (5, "", 0.0),
        Lookup::NotNumeric => (6, "", 0.0),
        Lookup::NoSection => (7, "", 0.0),
        Lookup::BadSection => (8, "", 0.0),
        other => panic!("new Lookup variant {other:?}: extend stamen_lookup_kind"),
    };
    format!("{kind} {} {number:e}", hex(text.as_bytes()))
}

/// Converts the OneFlow vectors (expressions, and policy `new_cardinality`
/// cases) to the line format `tests/c/test_vectors.c`
/// reads: per case the expression, for each attribute it references the
/// per-VM section lookups (from the agent's JSON VM documents), and the
/// expected status, value, trace and exception.
fn vectors_file() -> (PathBuf, usize, usize, usize) {
    let dir = manifest_dir().join("../tests/vectors/oneflow");
    let cases = std::fs::read_to_string(dir.join("expr-cases.jsonl")).expect("expr-cases.jsonl");
    let expected =
        std::fs::read_to_string(dir.join("expr-expected.jsonl")).expect("expr-expected.jsonl");
    let mut out = String::new();
    let mut n = 0;
    let mut n_policy = 0;
    let mut n_sequences = 0;
    for (case, want) in cases.lines().zip(expected.lines()) {
        let case: Value = serde_json::from_str(case).expect("case JSON");
        let want: Value = serde_json::from_str(want).expect("expected JSON");
        assert_eq!(case["id"], want["id"], "cases and expectations out of step");
        n += 1;
        out += &format!("case {}\n", case["id"].as_str().expect("id"));
        let expr = case["expr"].as_str().unwrap_or("");
        out += &format!("expr {}\n", hex(expr.as_bytes()));
        let vars_vm;
        let vms: Vec<VmDoc<'_>> = match (case.get("vars"), case.get("vms")) {
            (Some(vars), None) => {
                vars_vm = serde_json::json!({ "USER_TEMPLATE": vars });
                vec![VmDoc::new(&vars_vm, 0, "vars").expect("vars VM")]
            }
            (None, Some(vms)) => VmDoc::list(vms, "vms").expect("vms"),
            _ => panic!("case {} needs vars or vms", case["id"]),
        };
        let mut names: Vec<String> = Vec::new();
        if let Ok(e) = Expr::<'_, 64>::parse(expr) {
            for v in e.variables() {
                let name = v.with_lookup_name(str::to_owned);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        for name in &names {
            out += &format!("attr {} {}\n", hex(name.as_bytes()), vms.len());
            for vm in &vms {
                out += &format!("vm {}", u8::from(vm.is_running()));
                for s in Section::ALL {
                    out += " ";
                    out += &lookup_line(vm.lookup(s, name));
                }
                out += "\n";
            }
        }
        let status = want["status"].as_str().expect("status");
        let value = match want["value"].as_bool() {
            Some(true) => "1",
            Some(false) => "0",
            None => "-",
        };
        out += &format!("want {status} {value}\n");
        let trace = want["trace"]
            .as_str()
            .map_or("-".to_string(), |t| hex(t.as_bytes()));
        out += &format!("trace {trace}\n");
        if let Some(exc) = want.get("exception") {
            out += &format!(
                "exc {} {}\n",
                exc["class"].as_str().expect("class"),
                hex(exc["message"].as_str().expect("message").as_bytes())
            );
        }
        out += "end\n";
    }
    let policy_cases =
        std::fs::read_to_string(dir.join("policy-cases.jsonl")).expect("policy-cases.jsonl");
    let policy_expected =
        std::fs::read_to_string(dir.join("policy-expected.jsonl")).expect("policy-expected.jsonl");
    for (case, want) in policy_cases.lines().zip(policy_expected.lines()) {
        let case: Value = serde_json::from_str(case).expect("case JSON");
        let want: Value = serde_json::from_str(want).expect("expected JSON");
        assert_eq!(
            case["id"], want["id"],
            "policy cases and expectations out of step"
        );
        if case["kind"] == "sequence" {
            out += &sequence_lines(&case, &want);
            n_sequences += 1;
            continue;
        }
        assert_eq!(case["kind"], "new_cardinality", "{}", case["id"]);
        // Every new_cardinality vector has a value (none makes OneFlow raise);
        // a new one that does must be handled here, not skipped.
        assert_eq!(want["status"], "ok", "{}", case["id"]);
        let role = &case["role"];
        let policy = &case["policy"];
        let int = |v: &Value, path: &str| to_i(Some(v), path).expect("to_i");
        let opt = |v: Option<&Value>, path: &str| opt_to_i(v, path).expect("to_i");
        let min = opt(role.get("min_vms"), "min_vms");
        let max = opt(role.get("max_vms"), "max_vms");
        let kind = match policy.get("type") {
            None | Some(Value::Null) => "missing".to_string(),
            Some(Value::String(t)) => hex(t.as_bytes()),
            Some(other) => panic!("{}: type {other}", case["id"]),
        };
        out += &format!(
            "ncase {} {} {} {} {} {} {} {} {} {}\n",
            case["id"].as_str().expect("id"),
            int(&role["cardinality"], "cardinality"),
            u8::from(min.is_some()),
            min.unwrap_or(0),
            u8::from(max.is_some()),
            max.unwrap_or(0),
            kind,
            opt(policy.get("adjust"), "adjust").unwrap_or(0),
            opt(policy.get("min_adjust_step"), "min_adjust_step").unwrap_or(0),
            want["new_cardinality"].as_i64().expect("new_cardinality"),
        );
        n_policy += 1;
    }
    let path = tmp().join("expr-vectors.txt");
    std::fs::create_dir_all(tmp()).expect("mkdir");
    std::fs::write(&path, out).expect("write vectors");
    (path, n, n_policy, n_sequences)
}

#[test]
fn c_oneflow_vectors() {
    let (path, n, n_policy, n_sequences) = vectors_file();
    assert_eq!(n_sequences, 16, "expected all 16 autoscaler sequences");
    assert_eq!(n, 168, "expected all 168 OneFlow expression vectors");
    assert_eq!(n_policy, 27, "expected all 27 new_cardinality vectors");
    let out = check_program(
        "test_vectors",
        &[c_file("tests/c/test_vectors.c")],
        &[path.to_str().expect("utf-8 path")],
    );
    assert!(
        out.contains(&format!("test_vectors: {n} cases, all match")),
        "{out}"
    );
}

#[test]
fn install_script_and_pkg_config() {
    let prefix = tmp().join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let libs = libs();
    let lib_dir = libs.static_lib.parent().expect("lib dir");
    let out = Command::new("sh")
        .arg(manifest_dir().join("install.sh"))
        .arg(&prefix)
        .env("STAMEN_LIB_DIR", lib_dir)
        .output()
        .expect("run install.sh");
    assert!(out.status.success(), "install.sh failed:\n{}", show(&out));
    for f in [
        "include/stamen.h",
        "lib/libstamen.a",
        "lib/libstamen.so",
        "lib/pkgconfig/stamen.pc",
    ] {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }
    let pc = std::fs::read_to_string(prefix.join("lib/pkgconfig/stamen.pc")).expect("stamen.pc");
    assert!(
        pc.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{pc}"
    );
    let pkg = |args: &[&str]| -> Vec<String> {
        let out = Command::new("pkg-config")
            .args(args)
            .arg("stamen")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .output()
            .expect("run pkg-config");
        assert!(out.status.success(), "pkg-config {args:?}:\n{}", show(&out));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let cflags = pkg(&["--cflags"]);
    let libs_flags = pkg(&["--libs"]);
    let static_flags = pkg(&["--libs", "--static"]);
    assert!(
        static_flags.iter().any(|f| f == "-lpthread"),
        "{static_flags:?}"
    );
    let exe = tmp().join("policy_check-installed");
    let ctx = compile_with(
        &[c_file("examples/policy_check.c")],
        &cflags,
        &libs_flags,
        &exe,
        &prefix.join("lib"),
    );
    let out = Command::new(&ctx)
        .args(["CPU > 80", "CPU=81"])
        .output()
        .expect("run installed example");
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("value: true"));
}

fn compile_with(
    sources: &[PathBuf],
    cflags: &[String],
    libs: &[String],
    exe: &Path,
    rpath: &Path,
) -> PathBuf {
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(CFLAGS)
        .args(cflags)
        .args(sources)
        .arg("-o")
        .arg(exe)
        .args(libs)
        .arg(format!("-Wl,-rpath,{}", rpath.display()))
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc with pkg-config flags:\n{}",
        show(&out)
    );
    exe.to_path_buf()
}

fn kind_code(k: AdjustmentType) -> u32 {
    match k {
        AdjustmentType::Change => 0,
        AdjustmentType::Cardinality => 1,
        AdjustmentType::PercentageChange => 2,
        AdjustmentType::Unknown => 3,
        AdjustmentType::Missing => 4,
        other => panic!("new AdjustmentType {other:?}: extend stamen_adjustment_type"),
    }
}

fn adj_fields(a: &Adjustment) -> String {
    format!("{} {} {}", kind_code(a.kind), a.adjust, a.min_adjust_step)
}

fn flag_val(v: Option<i64>) -> String {
    format!("{} {}", u8::from(v.is_some()), v.unwrap_or(0))
}

/// One autoscaler sequence as `scase … send` lines: the role and its
/// policies (read with the agent's OneFlow document rules), then per tick
/// the VMs' lookups for every attribute the expressions use and what OneFlow
/// reported (decision, role, runtime keys of every policy).
fn sequence_lines(case: &Value, want: &Value) -> String {
    let id = case["id"].as_str().expect("id");
    let role = role_doc(&case["role"], "$.role").unwrap_or_else(|e| panic!("{id}: {e}"));
    let mut out = format!("scase {id}\n");
    out += &format!(
        "role {} {} {} {}\n",
        role.cardinality,
        flag_val(role.min_vms),
        flag_val(role.max_vms),
        flag_val(role.cooldown)
    );
    let mut names: Vec<String> = Vec::new();
    let elasticity = role.elasticity.clone().unwrap_or_default();
    for p in &elasticity {
        let expr = p.expression.as_deref();
        out += &format!(
            "epolicy {} {} {} {} {} {}\n",
            u8::from(expr.is_some()),
            hex(expr.unwrap_or("").as_bytes()),
            adj_fields(&p.adjustment),
            p.period,
            p.period_number,
            flag_val(p.cooldown)
        );
        assert!(
            p.last_eval.is_none() && p.true_evals.is_none(),
            "{id}: resumed state"
        );
        if let Ok(e) = Expr::<'_, 64>::parse(expr.unwrap_or("")) {
            for v in e.variables() {
                let name = v.with_lookup_name(str::to_owned);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    let scheduled = role.scheduled.clone().unwrap_or_default();
    for p in &scheduled {
        assert!(p.schedule.is_ok(), "{id}: start_time format");
        let none = Adjustment {
            kind: AdjustmentType::Missing,
            adjust: 0,
            min_adjust_step: 0,
        };
        out += &format!(
            "spolicy {} {} {} {} {}\n",
            u8::from(p.adjustment.is_some()),
            adj_fields(&p.adjustment.unwrap_or(none)),
            hex(p.start_time.as_deref().unwrap_or("").as_bytes()),
            hex(p.recurrence.as_deref().unwrap_or("").as_bytes()),
            flag_val(p.cooldown)
        );
        assert!(p.last_eval.is_none(), "{id}: resumed state");
    }
    let ticks = case["ticks"].as_array().expect("ticks");
    let wants = want["ticks"].as_array().expect("expected ticks");
    assert_eq!(ticks.len(), wants.len(), "{id}: tick count");
    for (tick, w) in ticks.iter().zip(wants) {
        let apply = tick.get("apply").and_then(Value::as_bool).unwrap_or(true);
        out += &format!(
            "tick {} {}\n",
            tick["now"].as_i64().expect("now"),
            u8::from(apply)
        );
        let vars_vm;
        let vms: Vec<VmDoc<'_>> = match (tick.get("vars"), tick.get("vms")) {
            (Some(vars), None) => {
                vars_vm = serde_json::json!({ "USER_TEMPLATE": vars });
                vec![VmDoc::new(&vars_vm, 0, "vars").expect("vars VM")]
            }
            (None, Some(vms)) => VmDoc::list(vms, "vms").expect("vms"),
            _ => Vec::new(),
        };
        for name in &names {
            out += &format!("attr {} {}\n", hex(name.as_bytes()), vms.len());
            for vm in &vms {
                out += &format!("vm {}", u8::from(vm.is_running()));
                for s in Section::ALL {
                    out += " ";
                    out += &lookup_line(vm.lookup(s, name));
                }
                out += "\n";
            }
        }
        if let Some(exc) = w.get("exception") {
            out += &format!(
                "texc {} {}\n",
                exc["class"].as_str().expect("class"),
                hex(exc["message"].as_str().expect("message").as_bytes())
            );
        } else {
            let cooldown = opt_to_i(w.get("cooldown"), "cooldown").expect("cooldown");
            let (serr, bound) = match w.get("scale_error").and_then(Value::as_str) {
                None => (0, None),
                Some(m) => {
                    let (code, rest) = if let Some(r) = m.strip_prefix("Minimum cardinality is ") {
                        (1, r)
                    } else if let Some(r) = m.strip_prefix("Maximum cardinality is ") {
                        (2, r)
                    } else {
                        panic!("{id}: scale_error {m:?}")
                    };
                    (code, rest.parse::<i64>().ok())
                }
            };
            out += &format!(
                "twant {} {} {} {} {} {}\n",
                w["diff"].as_i64().expect("diff"),
                flag_val(cooldown),
                w["cardinality"].as_i64().expect("cardinality"),
                to_i(w.get("role_cooldown"), "role_cooldown").expect("role_cooldown"),
                serr,
                flag_val(bound)
            );
        }
        let e_states = w["elasticity_policies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            e_states.len(),
            elasticity.len(),
            "{id}: elasticity policies"
        );
        for (i, st) in e_states.iter().enumerate() {
            let get = |k: &str| opt_to_i(st.get(k), k).expect("int");
            let (kind, trace) = match st.get("expression_evaluated") {
                None => (0, "-".to_string()),
                Some(Value::Null) => (1, "-".to_string()),
                Some(Value::String(t)) => (2, hex(t.as_bytes())),
                Some(other) => panic!("{id}: expression_evaluated {other}"),
            };
            out += &format!(
                "estate {i} {} {} {kind} {trace}\n",
                flag_val(get("last_eval")),
                flag_val(get("true_evals"))
            );
        }
        let s_states = w["scheduled_policies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(s_states.len(), scheduled.len(), "{id}: scheduled policies");
        for (i, st) in s_states.iter().enumerate() {
            let le = opt_to_i(st.get("last_eval"), "last_eval").expect("int");
            out += &format!("sstate {i} {}\n", flag_val(le));
        }
        out += &format!("counts {} {}\n", elasticity.len(), scheduled.len());
    }
    out += "send\n";
    out
}
