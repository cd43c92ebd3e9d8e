//! `stamen policy`: replay and lint OneFlow elasticity policies.
//!
//! - `stamen policy simulate --batch CASES.jsonl` runs conformance cases (the
//!   format of `tests/vectors/oneflow/policy-cases.jsonl`) and prints one JSON
//!   line per case in the format of `policy-expected.jsonl`.
//! - `stamen policy simulate ROLE.json --trace METRICS.csv` replays a metrics
//!   trace through a role's policies and explains every step.
//! - `stamen policy lint FILE.json` checks a service template or a role.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use stamen_core::policy::lint::{Finding, Severity};
use stamen_core::policy::{
    new_cardinality, Adjustment, Bounds, EvalError, RubyException, Source, Trace,
};

use crate::policydoc::{
    no_method, opt_to_i, role_doc, roles_of, to_i, DocError, Node, OrderedObject, RoleAutoscaler,
    RoleDoc, RubyMethod,
};
use crate::policyeval::VmsEvaluator;

/// `stamen policy …`
#[derive(Parser, Debug)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `stamen policy` subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay OneFlow's autoscaler: conformance cases (--batch) or a metrics trace (--trace).
    Simulate(SimulateArgs),
    /// Check a OneFlow service template or role for policy anti-patterns.
    Lint(LintArgs),
}

/// `stamen policy simulate`.
#[derive(Parser, Debug)]
pub struct SimulateArgs {
    /// Role or service template (JSON) to replay with --trace.
    pub role: Option<PathBuf>,
    /// JSON-lines conformance cases; prints one result line per case.
    #[arg(long, conflicts_with_all = ["role", "trace"])]
    pub batch: Option<PathBuf>,
    /// CSV metrics: column `t` (seconds) then one column per attribute
    /// (`ATTR` = same value on every VM, `ATTR@i` = VM i only; empty cell = not published).
    #[arg(long, requires = "role")]
    pub trace: Option<PathBuf>,
    /// Which role of a service template to replay (default: the only role with policies).
    #[arg(long = "role-name")]
    pub role_name: Option<String>,
    /// Epoch seconds of `t = 0` (scheduled policies and cron use absolute UTC times).
    #[arg(long, default_value_t = 1_700_000_000)]
    pub start: i64,
    /// Evaluate every row even during a cooldown (OneFlow skips roles cooling down).
    #[arg(long)]
    pub ignore_cooldown: bool,
}

/// `stamen policy lint`.
#[derive(Parser, Debug)]
pub struct LintArgs {
    /// OneFlow service template (with `roles`) or a single role, JSON.
    pub file: PathBuf,
    /// FL_MIN_FIT_CLIENTS of the Flower app (enables STAMEN-L001).
    #[arg(long)]
    pub min_fit_clients: Option<i64>,
    /// Duration of one training round in seconds (enables STAMEN-L003).
    #[arg(long)]
    pub round_seconds: Option<i64>,
    /// An attribute your VMs publish besides the FL_* and monitoring ones (repeatable).
    #[arg(long = "known-attr")]
    pub known_attr: Vec<String>,
    /// Print findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `stamen policy`.
pub fn run(args: Args) -> ExitCode {
    let result = match args.command {
        Command::Simulate(a) => simulate(&a),
        Command::Lint(a) => lint(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stamen policy: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn simulate(a: &SimulateArgs) -> Result<ExitCode, String> {
    if let Some(batch) = &a.batch {
        let file = fs::File::open(batch).map_err(|e| format!("{}: {e}", batch.display()))?;
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let mut failed = false;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("{}:{}: {e}", batch.display(), n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            match run_case_line(&line) {
                Ok(v) => {
                    let text = serde_json::to_string(&v).map_err(|e| e.to_string())?;
                    writeln!(out, "{text}").map_err(|e| e.to_string())?;
                }
                Err(e) => {
                    failed = true;
                    eprintln!("{}:{}: {e}", batch.display(), n + 1);
                }
            }
        }
        return Ok(if failed {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    }
    let (Some(role), Some(trace)) = (&a.role, &a.trace) else {
        return Err("simulate needs --batch CASES.jsonl, or ROLE.json --trace METRICS.csv".into());
    };
    let doc = read_json(role)?;
    let roles = roles_of(&doc).map_err(|e| format!("{}: {e}", role.display()))?;
    let chosen = pick_role(&roles, a.role_name.as_deref())
        .map_err(|e| format!("{}: {e}", role.display()))?;
    let text = replay(chosen, trace, a.start, !a.ignore_cooldown)?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn pick_role<'r>(roles: &'r [RoleDoc], name: Option<&str>) -> Result<&'r RoleDoc, String> {
    if let Some(name) = name {
        return roles
            .iter()
            .find(|r| r.name.as_deref() == Some(name))
            .ok_or_else(|| format!("no role named {name:?}"));
    }
    let with_policies: Vec<&RoleDoc> = roles
        .iter()
        .filter(|r| {
            r.elasticity.as_ref().is_some_and(|e| !e.is_empty())
                || r.scheduled.as_ref().is_some_and(|s| !s.is_empty())
        })
        .collect();
    match (roles, with_policies.as_slice()) {
        ([only], _) => Ok(only),
        (_, [only]) => Ok(only),
        _ => Err("several roles: choose one with --role-name".into()),
    }
}

// ---------------------------------------------------------------------------
// Conformance cases
// ---------------------------------------------------------------------------

/// Runs one case of `policy-cases.jsonl` and returns its result in the format
/// of `policy-expected.jsonl` (keys in OneFlow's order when serialized).
/// `Err` is for malformed cases.
pub fn run_case(case: &Value) -> Result<Node, String> {
    run_case_ordered(case, None)
}

/// [`run_case`] on a JSON line, echoing policy keys in the line's order.
pub fn run_case_line(line: &str) -> Result<Node, String> {
    let case: Value =
        serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))?;
    let ordered: Node =
        serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))?;
    let role = match &ordered {
        Node::Object(o) => o.get("role"),
        _ => None,
    };
    run_case_ordered(&case, role)
}

fn run_case_ordered(case: &Value, ordered_role: Option<&Node>) -> Result<Node, String> {
    let id = case.get("id").cloned().unwrap_or(Value::Null);
    let kind = case.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "new_cardinality" => new_cardinality_case(case, id),
        "sequence" => sequence_case(case, id, ordered_role),
        other => Err(format!(
            "$.kind: expected \"new_cardinality\" or \"sequence\", got {other:?}"
        )),
    }
}

fn exception_json(class: &str, message: &str) -> Value {
    json!({"class": class, "message": message})
}

fn new_cardinality_case(case: &Value, id: Value) -> Result<Node, String> {
    let role = case.get("role").ok_or("$.role: missing")?;
    let policy = case.get("policy").ok_or("$.policy: missing")?;
    let exception = |e: RubyException| {
        Node::Value(
            json!({"id": id, "kind": "new_cardinality", "new_cardinality": null, "status": "exception",
               "exception": exception_json(e.class, e.message)}),
        )
    };
    // `calculate_new_cardinality` calls `adjust.to_i` first, then the role's
    // cardinality/max_vms/min_vms `.to_i`, then `type.upcase` (the policy
    // reader keeps that order for its own fields).
    if has_to_i(policy.get("adjust")) {
        for key in ["cardinality", "max_vms", "min_vms"] {
            if let Some(v) = role.get(key).filter(|v| !has_to_i(Some(v))) {
                return Ok(exception(no_method(RubyMethod::ToI, v)));
            }
        }
    }
    let adjustment = crate::policydoc::elasticity_doc(policy, "$.policy")
        .map_err(|e| e.to_string())?
        .adjustment;
    let bounds = Bounds {
        cardinality: to_i(role.get("cardinality"), "$.role.cardinality")
            .map_err(|e| e.to_string())?,
        min_vms: opt_to_i(role.get("min_vms"), "$.role.min_vms").map_err(|e| e.to_string())?,
        max_vms: opt_to_i(role.get("max_vms"), "$.role.max_vms").map_err(|e| e.to_string())?,
    };
    Ok(match new_cardinality(&bounds, &adjustment) {
        Ok(n) => Node::Value(
            json!({"id": id, "kind": "new_cardinality", "new_cardinality": n, "status": "ok"}),
        ),
        Err(e) => exception(e),
    })
}

fn has_to_i(v: Option<&Value>) -> bool {
    matches!(
        v,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    )
}

/// Snapshots of one role's policies, keeping Ruby's key order.
struct Snapshots {
    elasticity: Option<Vec<OrderedObject>>,
    scheduled: Option<Vec<OrderedObject>>,
}

impl Snapshots {
    /// Starts from the policies as given; `ordered` (the same role read with
    /// its key order) makes the snapshots print keys in the input's order.
    fn new(role: &RoleDoc, ordered: Option<&Node>) -> Self {
        let pick = |key: &str, i: usize, raw: &serde_json::Map<String, Value>| {
            let from_ordered = match ordered {
                Some(Node::Object(o)) => match o.get(key) {
                    Some(Node::Array(list)) => match list.get(i) {
                        Some(Node::Object(p)) => Some(p.clone()),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            };
            from_ordered
                .filter(|p| p.to_value() == Value::Object(raw.clone()))
                .unwrap_or_else(|| OrderedObject::from(raw))
        };
        Snapshots {
            elasticity: role.elasticity.as_ref().map(|ps| {
                ps.iter()
                    .enumerate()
                    .map(|(i, p)| pick("elasticity_policies", i, &p.raw))
                    .collect()
            }),
            scheduled: role.scheduled.as_ref().map(|ps| {
                ps.iter()
                    .enumerate()
                    .map(|(i, p)| pick("scheduled_policies", i, &p.raw))
                    .collect()
            }),
        }
    }

    /// Copies the runtime keys from the engine, in the order OneFlow sets them.
    fn update(&mut self, a: &RoleAutoscaler<'_>) {
        for (obj, e) in self
            .elasticity
            .iter_mut()
            .flatten()
            .zip(a.elasticity.iter())
        {
            obj.set(
                "last_eval",
                e.state.last_eval.map(|v| Node::from(Value::from(v))),
            );
            obj.set(
                "true_evals",
                e.state.true_evals.map(|v| Node::from(Value::from(v))),
            );
            obj.set(
                "expression_evaluated",
                match &e.state.expression_evaluated {
                    Trace::Absent => None,
                    Trace::Null => Some(Node::from(Value::Null)),
                    Trace::Text(t) => Some(Node::from(Value::from(t.as_str()))),
                },
            );
        }
        for (obj, s) in self.scheduled.iter_mut().flatten().zip(a.scheduled.iter()) {
            obj.set(
                "last_eval",
                s.state.last_eval.map(|v| Node::from(Value::from(v))),
            );
        }
    }

    fn elasticity_json(&self) -> Node {
        list_node(self.elasticity.as_ref())
    }

    fn scheduled_json(&self) -> Node {
        list_node(self.scheduled.as_ref())
    }
}

fn list_node(list: Option<&Vec<OrderedObject>>) -> Node {
    list.map_or(Node::Value(Value::Null), |v| {
        Node::Array(v.iter().cloned().map(Node::Object).collect())
    })
}

/// The cooldown value OneFlow returns, as the JSON it came from (so a string
/// cooldown is echoed as a string).
fn cooldown_json(role: &RoleDoc, role_cooldown: &Value, source: Source, diff: i64) -> Value {
    if diff == 0 {
        return json!(0);
    }
    let raw = |v: Option<&Value>| v.cloned().unwrap_or(Value::Null);
    match source {
        Source::Scheduled(i) => raw(role
            .scheduled
            .as_ref()
            .and_then(|s| s.get(i))
            .and_then(|p| p.raw.get("cooldown"))),
        Source::Elasticity(i) => {
            let own = raw(role
                .elasticity
                .as_ref()
                .and_then(|e| e.get(i))
                .and_then(|p| p.raw.get("cooldown")));
            if own.is_null() {
                role_cooldown.clone()
            } else {
                own
            }
        }
        _ => json!(0),
    }
}

fn sequence_case(case: &Value, id: Value, ordered_role: Option<&Node>) -> Result<Node, String> {
    let role_v = case.get("role").ok_or("$.role: missing")?;
    let role = role_doc(role_v, "$.role").map_err(|e| e.to_string())?;
    let mut scaler = role.autoscaler().map_err(|e| e.to_string())?;
    let mut snaps = Snapshots::new(&role, ordered_role);
    let mut role_cooldown = match role.raw.get("cooldown") {
        None | Some(Value::Null) => json!(stamen_core::policy::DEFAULT_COOLDOWN),
        Some(v) => v.clone(),
    };
    let ticks = case
        .get("ticks")
        .and_then(Value::as_array)
        .ok_or("$.ticks: expected an array")?;
    let mut out = Vec::with_capacity(ticks.len());
    for (n, tick) in ticks.iter().enumerate() {
        let path = format!("$.ticks[{n}]");
        let now = match tick.get("now") {
            Some(Value::Number(x)) if x.is_i64() => x.as_i64().unwrap_or(0),
            other => {
                return Err(format!(
                    "{path}.now: expected integer epoch seconds, got {other:?}"
                ))
            }
        };
        let apply = match tick.get("apply") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(format!("{path}.apply: expected true or false, got {other}"))
            }
        };
        let mut eval = VmsEvaluator::from_tick(tick).map_err(|e| format!("{path}: {e}"))?;
        let mut line = OrderedObject::default();
        line.set("now", tick.get("now").cloned().map(Node::from));
        match scaler.scale(now, &mut eval) {
            Ok(decision) => {
                let cooldown = cooldown_json(&role, &role_cooldown, decision.source, decision.diff);
                line.set_value("diff", json!(decision.diff));
                line.set_value("cooldown", cooldown.clone());
                if decision.diff != 0 && !cooldown.is_null() {
                    role_cooldown = cooldown;
                }
                if let Err(e) = scaler.apply(&decision, apply) {
                    line.set_value("scale_error", json!(e.to_string()));
                }
            }
            Err(EvalError::Exception(e)) => {
                line.set_value("exception", exception_json(e.class, e.message));
            }
            Err(e) => return Err(format!("{path}: {e}")),
        }
        if let Some(e) = eval.take_error() {
            return Err(format!("{path}: {e}"));
        }
        snaps.update(&scaler);
        line.set_value("cardinality", json!(scaler.bounds.cardinality));
        line.set_value("role_cooldown", role_cooldown.clone());
        line.set("elasticity_policies", Some(snaps.elasticity_json()));
        line.set("scheduled_policies", Some(snaps.scheduled_json()));
        out.push(Node::Object(line));
    }
    let mut result = OrderedObject::default();
    result.set_value("id", id);
    result.set_value("kind", json!("sequence"));
    result.set("ticks", Some(Node::Array(out)));
    Ok(Node::Object(result))
}

// ---------------------------------------------------------------------------
// Trace replay
// ---------------------------------------------------------------------------

/// One CSV column: an attribute for all VMs or for one VM.
#[derive(Debug, Clone)]
struct Column {
    attr: String,
    vm: Option<usize>,
}

fn parse_header(headers: &csv::StringRecord, path: &Path) -> Result<Vec<Column>, String> {
    let mut cols = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        if i == 0 {
            if h != "t" {
                return Err(format!(
                    "{}:1:1: first column must be `t` (seconds), got {h:?}",
                    path.display()
                ));
            }
            continue;
        }
        let (attr, vm) = match h.split_once('@') {
            Some((a, v)) => {
                let vm = v.parse::<usize>().map_err(|_| {
                    format!(
                        "{}:1: column {} ({h:?}): expected ATTR or ATTR@VMINDEX",
                        path.display(),
                        i + 1
                    )
                })?;
                (a, Some(vm))
            }
            None => (h, None),
        };
        if attr.is_empty() || !attr.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "{}:1: column {} ({h:?}): attribute names are letters, digits and _",
                path.display(),
                i + 1
            ));
        }
        cols.push(Column {
            attr: attr.to_string(),
            vm,
        });
    }
    Ok(cols)
}

/// Replays `trace` through `role`, returning the human-readable report.
pub fn replay(
    role: &RoleDoc,
    trace: &Path,
    start: i64,
    honour_cooldown: bool,
) -> Result<String, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(trace)
        .map_err(|e| format!("{}: {e}", trace.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", trace.display()))?
        .clone();
    let cols = parse_header(&headers, trace)?;
    let mut scaler = role.autoscaler().map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "role {}: cardinality {}, min_vms {}, max_vms {}, cooldown {} s",
        role.name.as_deref().unwrap_or("(unnamed)"),
        role.cardinality,
        role.min_vms.map_or("-".into(), |v| v.to_string()),
        role.max_vms.map_or("-".into(), |v| v.to_string()),
        scaler.cooldown
    );
    let mut cooling_until: Option<i64> = None;
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| format!("{}:{line}: {e}", trace.display()))?;
        let t_text = record.get(0).unwrap_or("").trim();
        let t: i64 = t_text.parse().map_err(|_| {
            format!(
                "{}:{line}:1: t must be whole seconds, got {t_text:?}",
                trace.display()
            )
        })?;
        let now = start.saturating_add(t);
        // The role's VMs at this step: one per unit of cardinality.
        let n_vms = usize::try_from(scaler.bounds.cardinality.max(0)).unwrap_or(0);
        let mut vms: Vec<serde_json::Map<String, Value>> = vec![serde_json::Map::new(); n_vms];
        let mut unused = Vec::new();
        for (c, col) in cols.iter().enumerate() {
            let cell = record.get(c + 1).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            match col.vm {
                None => vms.iter_mut().for_each(|vm| {
                    vm.insert(col.attr.clone(), json!(cell));
                }),
                Some(i) => match vms.get_mut(i) {
                    Some(vm) => {
                        vm.insert(col.attr.clone(), json!(cell));
                    }
                    None => unused.push(format!("{}@{i}", col.attr)),
                },
            }
        }
        let vm_values: Vec<Value> = vms
            .into_iter()
            .map(|ut| json!({"USER_TEMPLATE": ut}))
            .collect();
        let tick = json!({"vms": vm_values});
        let mut eval = VmsEvaluator::from_tick(&tick)
            .map_err(|e| format!("{}:{line}: {e}", trace.display()))?;
        let _ = write!(out, "t={t}");
        let mut names: Vec<&str> = cols.iter().map(|c| c.attr.as_str()).collect();
        names.dedup();
        for name in names {
            match eval.average(name) {
                Ok(Some(v)) => {
                    let _ = write!(out, "  {name}={v}");
                }
                Ok(None) => {
                    let _ = write!(out, "  {name}=--");
                }
                Err(e) => {
                    let _ = write!(out, "  {name}=<{e}>");
                }
            }
        }
        let _ = writeln!(out, "  ({n_vms} VMs)");
        if !unused.is_empty() {
            let _ = writeln!(out, "    not running, values unused: {}", unused.join(", "));
        }
        if let Some(until) = cooling_until.filter(|u| honour_cooldown && now < *u) {
            let _ = writeln!(
                out,
                "    cooldown until t={}: no evaluation",
                until.saturating_sub(start)
            );
            continue;
        }
        let before: Vec<_> = scaler
            .elasticity
            .iter()
            .map(|e| e.state.last_eval)
            .collect();
        match scaler.tick(now, true, &mut eval) {
            Ok(tick) => {
                for (i, (e, old)) in scaler.elasticity.iter().zip(before).enumerate() {
                    let p = &e.policy;
                    let _ = write!(out, "    policy[{i}] {:?}: ", p.expression.unwrap_or(""));
                    if e.state.last_eval == old && old != Some(now) {
                        let _ = writeln!(out, "not evaluated");
                        continue;
                    }
                    let trace = match &e.state.expression_evaluated {
                        Trace::Text(t) => t.as_str(),
                        _ => "(empty expression)",
                    };
                    let needed = p.period_number.max(1);
                    let evals = e
                        .state
                        .true_evals
                        .map_or("reset".to_string(), |n| format!("{n}/{needed}"));
                    let _ = writeln!(out, "{trace}  true_evals {evals}");
                }
                let d = tick.decision;
                let what = match d.source {
                    Source::Scheduled(i) => format!("scheduled policy[{i}] fired"),
                    Source::Elasticity(i) => format!("policy[{i}] triggered"),
                    Source::MinVms => "below min_vms".to_string(),
                    _ => "no change".to_string(),
                };
                match (d.diff, tick.scale_error) {
                    (0, _) => {
                        let _ = writeln!(
                            out,
                            "    => {what}, cardinality {}",
                            scaler.bounds.cardinality
                        );
                    }
                    (diff, Some(err)) => {
                        let _ = writeln!(out, "    => {what}: {diff:+} refused ({err})");
                    }
                    (diff, None) => {
                        let cd = d.cooldown.map_or("none".to_string(), |c| format!("{c} s"));
                        let _ = writeln!(
                            out,
                            "    => {what}: {diff:+} -> cardinality {} (cooldown {cd})",
                            scaler.bounds.cardinality
                        );
                        if let Some(c) = d.cooldown.filter(|c| *c > 0) {
                            cooling_until = Some(now.saturating_add(c));
                        }
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    => OneFlow fails this pass: {e}");
            }
        }
        if let Some(e) = eval.take_error() {
            return Err(format!("{}:{line}: {e}", trace.display()));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Lint
// ---------------------------------------------------------------------------

pub use stamen_json::lint::lint_document;

/// One finding as `stamen policy lint --json` prints it.
#[derive(serde::Serialize)]
struct FindingOut<'a> {
    id: &'static str,
    severity: &'static str,
    path: &'a str,
    message: &'a str,
    fix: &'static str,
}

fn finding_json((path, f): &(String, Finding)) -> FindingOut<'_> {
    FindingOut {
        id: f.id.code(),
        severity: f.severity.as_str(),
        path,
        message: f.message.as_str(),
        fix: f.fix,
    }
}

#[derive(serde::Serialize)]
struct LintOut<'a> {
    file: String,
    findings: Vec<FindingOut<'a>>,
}

fn lint(a: &LintArgs) -> Result<ExitCode, String> {
    let doc = read_json(&a.file)?;
    let findings = match lint_document(&doc, a.min_fit_clients, a.round_seconds, &a.known_attr) {
        Ok(f) => f,
        Err(e) => {
            // The document cannot even be read the way OneFlow reads it.
            if a.json {
                println!(
                    "{}",
                    json!({"file": a.file.display().to_string(), "findings": [{
                        "id": "STAMEN-L000", "severity": "error", "path": e.path,
                        "message": e.message, "fix": "fix the value type"}]})
                );
            } else {
                println!(
                    "{}: error STAMEN-L000 {}: {} (fix: fix the value type)",
                    a.file.display(),
                    e.path,
                    e.message
                );
            }
            return Ok(ExitCode::from(2));
        }
    };
    let worst = findings.iter().map(|(_, f)| f.severity).max();
    if a.json {
        let out = LintOut {
            file: a.file.display().to_string(),
            findings: findings.iter().map(finding_json).collect(),
        };
        println!(
            "{}",
            serde_json::to_string(&out).map_err(|e| e.to_string())?
        );
    } else if findings.is_empty() {
        println!("{}: no findings", a.file.display());
    } else {
        for (path, f) in &findings {
            println!(
                "{}: {} {} {path}: {} (fix: {})",
                a.file.display(),
                f.severity.as_str(),
                f.id.code(),
                f.message,
                f.fix
            );
        }
    }
    Ok(match worst {
        Some(Severity::Error) => ExitCode::from(2),
        Some(Severity::Warning) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// The adjustment of a bare policy object (for the ffi/python bindings).
pub fn adjustment_of(policy: &Value) -> Result<Adjustment, DocError> {
    crate::policydoc::elasticity_doc(policy, "$").map(|p| p.adjustment)
}
