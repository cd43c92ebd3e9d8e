//! `stamen expr`: evaluate a OneFlow elasticity expression like OneFlow does.
//!
//! ```text
//! stamen expr 'CPU > 80 && MEM < 3' --vars CPU=82.88
//! stamen expr 'FL_CLIENT_STATUS > 1.5' --vms role-vms.json
//! stamen expr --batch tests/vectors/oneflow/expr-cases.jsonl
//! ```
//! Prints the boolean and OneFlow's trace (`expression_evaluated`). Exit
//! status: 0 when true, 1 when false, 2 on any error (bad arguments or
//! files, an empty or unparsable expression, or a value OneFlow itself
//! cannot compute). `--batch` reads the case format of
//! `tests/vectors/oneflow/expr-cases.jsonl` and prints one JSON result per
//! case, in the schema of `expr-expected.jsonl`.

use crate::vmdoc::{kind, VmDoc, VmDocError};
use serde::Serialize;
use serde_json::{Map, Value};
use stamen_core::expr::{AvgError, EvalError, Expr, ParseError, VmResolver};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Node capacity used by the CLI (deep enough for any realistic policy).
pub const CLI_CAPACITY: usize = 1024;

/// Arguments of `stamen expr`.
#[derive(clap::Args, Debug)]
#[command(about = "Evaluate a OneFlow elasticity expression exactly as OneFlow does")]
pub struct Args {
    /// The expression, e.g. 'CPU > 80 && MEMORY < 1048576'.
    #[arg(required_unless_present = "batch")]
    pub expr: Option<String>,
    /// Attribute values KEY=VALUE of one RUNNING VM (its USER_TEMPLATE).
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., conflicts_with = "vms")]
    pub vars: Vec<String>,
    /// JSON file with the role's VMs: an array (or {"vms": [...]}) of VM
    /// objects in the conformance-case shape or `onevm show --json` documents.
    #[arg(long, value_name = "FILE.json")]
    pub vms: Option<PathBuf>,
    /// Evaluate every case of a JSON-lines file (the expr-cases.jsonl format)
    /// and print one JSON result per line.
    #[arg(long, value_name = "CASES.jsonl", conflicts_with_all = ["expr", "vars", "vms"])]
    pub batch: Option<PathBuf>,
}

/// How one evaluation ended, as the conformance vectors classify it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Evaluated: the value, the trace and the parse tree.
    Ok {
        /// The boolean.
        value: bool,
        /// OneFlow's `expression_evaluated`.
        trace: String,
        /// S-expression of the parse.
        tree: String,
    },
    /// Not in the grammar (OneFlow: value false, the error as trace).
    ParseError {
        /// `Parse error. '<expr>': <reason>`.
        trace: String,
        /// Treetop's `failure_index`.
        failure_index: usize,
        /// Treetop's `failure_reason`.
        failure_reason: String,
    },
    /// Empty or missing expression (OneFlow: plain false, no trace).
    Empty,
    /// OneFlow itself raises while evaluating.
    Exception {
        /// Ruby exception class.
        class: String,
        /// Ruby exception message.
        message: String,
        /// S-expression of the parse.
        tree: String,
    },
    /// The expression is outside what this tool supports (capacity, name
    /// length); not a OneFlow behaviour.
    Unsupported(String),
}

/// Evaluates `expr` over `vms` like OneFlow's `scale_rule`.
pub fn evaluate(expr: Option<&str>, vms: &[VmDoc<'_>]) -> Outcome {
    let Some(src) = expr else {
        return Outcome::Empty;
    };
    let parsed = match Expr::<'_, CLI_CAPACITY>::parse(src) {
        Ok(e) => e,
        Err(ParseError::Empty) => return Outcome::Empty,
        Err(ParseError::Syntax(e)) => {
            return Outcome::ParseError {
                trace: e.oneflow_trace().to_string(),
                failure_index: e.index(),
                failure_reason: e.to_string(),
            }
        }
        Err(e) => return Outcome::Unsupported(e.to_string()),
    };
    let tree = parsed.tree().to_string();
    let mut trace = String::new();
    match parsed.eval_traced(&mut VmResolver::new(vms), &mut trace) {
        Ok(value) => Outcome::Ok { value, trace, tree },
        Err(EvalError::Resolve(e)) => exception(&e, tree),
        Err(e) => Outcome::Unsupported(e.to_string()),
    }
}

fn exception(e: &AvgError, tree: String) -> Outcome {
    Outcome::Exception {
        class: e.ruby_class().into(),
        message: e.ruby_message().into(),
        tree,
    }
}

#[derive(Serialize)]
struct Exc<'a> {
    class: &'a str,
    message: &'a str,
}

/// One line of `--batch` output (field order of expr-expected.jsonl).
#[derive(Serialize)]
struct CaseResult<'a> {
    id: &'a Value,
    expr: &'a Value,
    status: &'static str,
    value: Option<bool>,
    trace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exception: Option<Exc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

const CASE_KEYS: [&str; 5] = ["id", "expr", "vars", "vms", "note"];

/// Runs one conformance case (a parsed line of expr-cases.jsonl) and returns
/// its result as one JSON line in the field order of expr-expected.jsonl,
/// non-ASCII characters escaped (`\u2212`) like the vector files.
///
/// # Errors
/// When the case itself is malformed (unknown key, wrong type, bad VMs).
pub fn run_case(case: &Value) -> Result<String, VmDocError> {
    let err = |path: &str, message: String| VmDocError {
        path: path.into(),
        message,
    };
    let Value::Object(obj) = case else {
        return Err(err(
            "case",
            format!("expected an object, got {}", kind(case)),
        ));
    };
    if let Some(k) = obj.keys().find(|k| !CASE_KEYS.contains(&k.as_str())) {
        return Err(err(
            k,
            format!("unknown key; allowed: {}", CASE_KEYS.join(", ")),
        ));
    }
    let expr = match obj.get("expr") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(v) => {
            return Err(err(
                "expr",
                format!("expected a string or null, got {}", kind(v)),
            ))
        }
    };
    let vars_vm;
    let vms = match (obj.get("vars"), obj.get("vms")) {
        (Some(_), Some(_)) => return Err(err("vars", "give either vars or vms, not both".into())),
        (Some(vars @ Value::Object(_)), None) => {
            vars_vm = serde_json::json!({ "USER_TEMPLATE": vars });
            vec![VmDoc::new(&vars_vm, 0, "vars")?]
        }
        (Some(v), None) => return Err(err("vars", format!("expected an object, got {}", kind(v)))),
        (None, Some(vms)) => VmDoc::list(vms, "vms")?,
        (None, None) => Vec::new(),
    };
    let outcome = evaluate(expr, &vms);
    let null = Value::Null;
    let id = obj.get("id").unwrap_or(&null);
    let expr_v = obj.get("expr").unwrap_or(&null);
    let base = |status| CaseResult {
        id,
        expr: expr_v,
        status,
        value: Some(false),
        trace: None,
        failure_index: None,
        failure_reason: None,
        exception: None,
        tree: None,
        error: None,
    };
    let out = match &outcome {
        Outcome::Ok { value, trace, tree } => CaseResult {
            value: Some(*value),
            trace: Some(trace),
            tree: Some(tree),
            ..base("ok")
        },
        Outcome::ParseError {
            trace,
            failure_index,
            failure_reason,
        } => CaseResult {
            trace: Some(trace),
            failure_index: Some(*failure_index),
            failure_reason: Some(failure_reason),
            ..base("parse_error")
        },
        Outcome::Empty => base("empty"),
        Outcome::Exception {
            class,
            message,
            tree,
        } => CaseResult {
            value: None,
            exception: Some(Exc { class, message }),
            tree: Some(tree),
            ..base("exception")
        },
        Outcome::Unsupported(msg) => CaseResult {
            value: None,
            error: Some(msg),
            ..base("unsupported")
        },
    };
    let line = serde_json::to_string(&out).map_err(|e| err("case", e.to_string()))?;
    Ok(ascii_escape(&line))
}

/// Escapes every non-ASCII character of a JSON text as `\uXXXX` (UTF-16).
pub fn ascii_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn parse_vars(vars: &[String]) -> Result<Value, String> {
    let mut m = Map::new();
    for kv in vars {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                m.insert(k.to_string(), Value::String(v.to_string()));
            }
            _ => {
                return Err(format!(
                    "--vars {kv:?}: expected KEY=VALUE with a non-empty KEY"
                ))
            }
        }
    }
    Ok(serde_json::json!({ "USER_TEMPLATE": m }))
}

fn run_batch(path: &PathBuf) -> ExitCode {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("stamen expr: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = n + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("stamen expr: {}:{line_no}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!(
                    "stamen expr: {}:{line_no}:{}: invalid JSON: {e}",
                    path.display(),
                    e.column()
                );
                return ExitCode::from(2);
            }
        };
        match run_case(&case) {
            Ok(result) => {
                if writeln!(out, "{result}").is_err() {
                    return ExitCode::from(2);
                }
            }
            Err(e) => {
                eprintln!("stamen expr: {}:{line_no}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Runs `stamen expr`.
pub fn run(args: Args) -> ExitCode {
    if let Some(batch) = &args.batch {
        return run_batch(batch);
    }
    let doc: Value = if let Some(path) = &args.vms {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("stamen expr: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                eprintln!(
                    "stamen expr: {}:{}:{}: invalid JSON: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                );
                return ExitCode::from(2);
            }
        }
    } else {
        match parse_vars(&args.vars) {
            Ok(vm) => Value::Array(vec![vm]),
            Err(e) => {
                eprintln!("stamen expr: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let label = args
        .vms
        .as_ref()
        .map_or_else(|| "--vars".to_string(), |p| p.display().to_string());
    let vms = match VmDoc::list(&doc, &label) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("stamen expr: {e}");
            return ExitCode::from(2);
        }
    };
    match evaluate(args.expr.as_deref(), &vms) {
        Outcome::Ok { value, trace, .. } => {
            println!("{value}");
            println!("{trace}");
            if value {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Outcome::ParseError { trace, .. } => {
            println!("false");
            println!("{trace}");
            eprintln!("stamen expr: the expression does not parse (OneFlow evaluates it as false)");
            ExitCode::from(2)
        }
        Outcome::Empty => {
            println!("false");
            eprintln!("stamen expr: empty expression (OneFlow skips the policy: false, no trace)");
            ExitCode::from(2)
        }
        Outcome::Exception { class, message, .. } => {
            eprintln!("stamen expr: OneFlow raises {class} ({message}) evaluating this expression");
            ExitCode::from(2)
        }
        Outcome::Unsupported(msg) => {
            eprintln!("stamen expr: {msg}");
            ExitCode::from(2)
        }
    }
}
