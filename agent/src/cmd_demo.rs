//! `stamen demo`: the whole FL-aware autoscaling story on one machine, with
//! nothing installed.
//!
//! It starts the OneGate + OneFlow emulator ([`crate::gate`]) with the
//! bundled service `examples/services/demo.json` (role `superlink`, role
//! `supernode` with an FL-aware elasticity policy), one `stamen run` agent
//! per SuperNode VM (processes of this binary reading the VM's `context.sh`),
//! each supervising the stand-in SuperNode `stamen demo-supernode`, and,
//! after a delay, a stand-in SuperLink on 127.0.0.1 that publishes
//! `FL_ENDPOINT` through OneGate as the SuperLink VM and drives training
//! rounds. Then it watches for five milestones, each within a bound:
//!
//! 1. **discovery**: every agent, started before the SuperLink was up,
//!    retried with backoff and then resolved the SuperLink;
//! 2. **training published**: a SuperNode VM shows `FL_CLIENT_STATUS=2`,
//!    `FL_TRAINING_ACTIVE=1` and a round in OneGate;
//! 3. **scale-up**: the autoscaler's expression became true and it scaled
//!    `supernode` up; the add hook started a new agent;
//! 4. **new node ready**: the new VM published a connected status and its
//!    SuperNode returned a round result;
//! 5. **node left with 3**: the first agent got SIGTERM, published
//!    `FL_CLIENT_STATUS=3` and exited 0.
//!
//! It prints a live timeline and a summary and exits 0, or 1 naming the
//! milestone that failed. Every process is stopped by PID (also on Ctrl-C);
//! the temporary directory with the state and sockets is removed.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, ValueEnum};

use crate::demo::agents::{self, Agent, AgentSpec};
use crate::demo::superlink::{LinkConfig, LinkEvent, StandInLink};
use crate::demo::timeline::{Timeline, Tone};
use crate::gate::model::VmEvent;
use crate::gate::spec::ServiceSpec;
use crate::gate::{Gate, GateConfig, GateHandle, LogFn};
use crate::run::Gate as _;

/// When to colour the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options of `stamen demo`.
#[derive(ClapArgs, Debug, Clone)]
#[command(
    about = "Run the FL-aware autoscaling scenario locally: emulator, SuperLink, agents",
    long_about = "Starts the OneGate + OneFlow emulator with a bundled Flower service, one \
`stamen run` agent per SuperNode VM (each supervising a stand-in SuperNode, so nothing needs to \
be installed), and a stand-in SuperLink on 127.0.0.1 that comes up after a delay. It then checks \
five milestones: discovery with backoff, training published, autoscaler scale-up, the new node \
ready, and a node leaving on SIGTERM with FL_CLIENT_STATUS=3. Prints a live timeline and a \
summary.\n\nExit status: 0 every milestone reached in time; 1 a milestone was not (named on \
stderr); 2 bad options or service file; 130 interrupted (every process is stopped and the \
temporary directory removed in every case)."
)]
pub struct Args {
    /// SuperNode agents at the start (the role's cardinality; it may grow by one)
    /// [default: 2, or the service file's supernode cardinality].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8))]
    pub nodes: Option<u32>,
    /// When the stand-in SuperLink comes up, in ms after the start.
    #[arg(long, value_name = "MS", default_value_t = 4_000,
          value_parser = clap::value_parser!(u64).range(1_000..=30_000))]
    pub superlink_delay_ms: u64,
    /// Training time of one round on each SuperNode, in ms.
    #[arg(long, value_name = "MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(200..=10_000))]
    pub train_ms: u64,
    /// Give up (exit 1) when the scenario has not finished after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(5..=600))]
    pub timeout: u64,
    /// Service file to use instead of the bundled examples/services/demo.json
    /// (roles `superlink` and `supernode`; the SuperLink VM must not have
    /// FL_ENDPOINT or a NIC, the demo publishes FL_ENDPOINT; TLS off).
    #[arg(long, value_name = "SERVICE.json")]
    pub service: Option<PathBuf>,
    /// Colour the timeline.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Show everything: agent DEBUG lines, every OneGate request, every
    /// autoscaler evaluation, every round result.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Milestone names, in order.
pub const MILESTONES: [&str; 5] = [
    "discovery",
    "training published",
    "scale-up",
    "new node ready",
    "node left with 3",
];

/// Bound of each milestone, from the previous one (the first: from the
/// SuperLink's start).
const BOUNDS_S: [u64; 5] = [15, 15, 20, 15, 12];

const SUPERLINK_ROLE: &str = "superlink";
const SUPERNODE_ROLE: &str = "supernode";

enum Ev {
    Agent(u32, String),
    Gate(String),
    Vm(VmEvent),
    Link(LinkEvent),
}

struct Milestone {
    at: Option<f64>,
    detail: String,
}

#[derive(Default)]
struct NodeStats {
    retries: u32,
    resolved: Option<String>,
    publishes: u32,
    results: u32,
}

struct Demo {
    tl: Timeline,
    verbose: bool,
    gate: GateHandle,
    rx: mpsc::Receiver<Ev>,
    tx: mpsc::Sender<Ev>,
    spec: AgentSpec,
    agents: Vec<Agent>,
    initial: Vec<u32>,
    superlink_vm: u32,
    superlink_delay: Duration,
    link_cfg: LinkConfig,
    link: Option<StandInLink>,
    link_up_at: Option<Instant>,
    link_nodes: BTreeMap<u64, Option<u32>>,
    stats: BTreeMap<u32, NodeStats>,
    rounds: u64,
    results: u64,
    last_started: u64,
    last_done: u64,
    scale_events: Vec<String>,
    pending_trigger: Option<String>,
    trace_seen: BTreeMap<String, String>,
    cooldown_shown: bool,
    new_vm: Option<u32>,
    leaver: Option<u32>,
    milestones: Vec<Milestone>,
    stage: usize,
    stage_since: Instant,
    user_templates: BTreeMap<u32, BTreeMap<String, String>>,
    failure: Option<(usize, String)>,
    interrupted: Arc<AtomicBool>,
    started: Instant,
}

fn load_service(args: &Args) -> Result<ServiceSpec, String> {
    let mut spec = match &args.service {
        Some(p) => ServiceSpec::load(p)?,
        None => ServiceSpec::parse(crate::demo::DEMO_SERVICE)
            .map_err(|e| format!("bundled examples/services/demo.json: {e}"))?,
    };
    let src = args
        .service
        .as_ref()
        .map_or("examples/services/demo.json".to_string(), |p| {
            p.display().to_string()
        });
    let Some(li) = spec.roles.iter().position(|r| r.name == SUPERLINK_ROLE) else {
        return Err(format!("{src}: no role named {SUPERLINK_ROLE:?}"));
    };
    let Some(ni) = spec.roles.iter().position(|r| r.name == SUPERNODE_ROLE) else {
        return Err(format!("{src}: no role named {SUPERNODE_ROLE:?}"));
    };
    let link = &spec.roles[li];
    if link.cardinality != 1 {
        return Err(format!(
            "{src}: roles[{li}] ({SUPERLINK_ROLE}): cardinality must be 1 (the demo plays that one VM)"
        ));
    }
    if link.vm_template.user_template.contains_key("FL_ENDPOINT")
        || link
            .vms
            .iter()
            .any(|v| v.user_template.contains_key("FL_ENDPOINT"))
    {
        return Err(format!(
            "{src}: roles[{li}] ({SUPERLINK_ROLE}): remove FL_ENDPOINT; the demo publishes it when its SuperLink is up"
        ));
    }
    if !link.vm_template.nics.is_empty() {
        return Err(format!(
            "{src}: roles[{li}] ({SUPERLINK_ROLE}).vm_template.nics: must be empty (agents would fall back to the NIC IP, which is not on this machine)"
        ));
    }
    let ctx = &spec.roles[ni].vm_template.context;
    let get = |k: &str| {
        ctx.get(&format!("ONEAPP_{k}"))
            .filter(|v| !v.is_empty())
            .or_else(|| ctx.get(k).filter(|v| !v.is_empty()))
            .cloned()
    };
    if get("FL_TLS_ENABLED").as_deref() != Some("NO") {
        return Err(format!(
            "{src}: roles[{ni}] ({SUPERNODE_ROLE}).vm_template.context: set ONEAPP_FL_TLS_ENABLED to \"NO\" (the stand-in SuperLink has no TLS)"
        ));
    }
    if let Some(a) = get("FL_SUPERLINK_ADDRESS") {
        return Err(format!(
            "{src}: roles[{ni}] ({SUPERNODE_ROLE}).vm_template.context: ONEAPP_FL_SUPERLINK_ADDRESS is {a:?}; leave it empty so the agents discover the SuperLink"
        ));
    }
    let role = &mut spec.roles[ni];
    if let Some(n) = args.nodes {
        if args.service.is_none() {
            // The bundled service leaves room for exactly one scale-up.
            role.max_vms = Some(n + 1);
        } else if let Some(m) = role.max_vms.filter(|&m| n > m) {
            return Err(format!(
                "--nodes {n}: above max_vms {m} of roles[{ni}] ({SUPERNODE_ROLE}) in {src}"
            ));
        }
        if n < role.min_vms {
            return Err(format!(
                "--nodes {n}: below min_vms {} of roles[{ni}] ({SUPERNODE_ROLE}) in {src}",
                role.min_vms
            ));
        }
        role.cardinality = n;
    }
    if role.cardinality == 0 {
        return Err(format!(
            "{src}: roles[{ni}] ({SUPERNODE_ROLE}).cardinality: must be at least 1"
        ));
    }
    Ok(spec)
}

fn exit_ok(st: std::process::ExitStatus) -> bool {
    st.code() == Some(0)
}

/// Entry point of `stamen demo`.
pub fn run(args: Args) -> ExitCode {
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let tl = Timeline::new(color);
    let service = match load_service(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stamen demo: {e}");
            return ExitCode::from(2);
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("stamen demo: cannot find this program's path: {e}");
            return ExitCode::from(1);
        }
    };
    let dir = match tempfile::Builder::new().prefix("stamen-demo-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("stamen demo: cannot create a temporary directory: {e}");
            return ExitCode::from(1);
        }
    };
    let dir_path = dir.path().to_path_buf();
    let run_dir = dir_path.join("run");
    if let Err(e) = std::fs::create_dir_all(&run_dir) {
        eprintln!("stamen demo: {}: cannot create: {e}", run_dir.display());
        return ExitCode::from(1);
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, interrupted.clone()) {
            eprintln!("stamen demo: cannot install a signal handler: {e}");
            return ExitCode::from(1);
        }
    }
    let code = match Demo::start(&args, tl.clone(), service, exe, &dir_path, interrupted) {
        Ok(mut d) => {
            let code = d.run(args.timeout);
            d.finish();
            code
        }
        Err(e) => {
            eprintln!("stamen demo: {e}");
            1
        }
    };
    let shown = dir_path.display().to_string();
    match dir.close() {
        Ok(()) => tl.line("demo", Tone::Dim, &format!("removed {shown}")),
        Err(e) => eprintln!("stamen demo: cannot remove {shown}: {e}"),
    }
    ExitCode::from(code)
}

impl Demo {
    fn start(
        args: &Args,
        tl: Timeline,
        service: ServiceSpec,
        exe: PathBuf,
        dir: &Path,
        interrupted: Arc<AtomicBool>,
    ) -> Result<Demo, String> {
        let nodes = service
            .roles
            .iter()
            .find(|r| r.name == SUPERNODE_ROLE)
            .map_or(0, |r| r.cardinality);
        tl.line(
            "demo",
            Tone::Plain,
            &format!(
                "stamen demo: {nodes} SuperNode agents; the SuperLink comes up at {:.1}s; state in {}",
                args.superlink_delay_ms as f64 / 1000.0,
                dir.display()
            ),
        );
        let (tx, rx) = mpsc::channel::<Ev>();
        let mut cfg = GateConfig::new(service);
        cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.state_dir = Some(dir.join("gate"));
        cfg.period = Some(Duration::from_millis(250));
        let t = tx.clone();
        cfg.on_vm_add = Some(Arc::new(move |e: &VmEvent| {
            let _ = t.send(Ev::Vm(e.clone()));
        }));
        let t = tx.clone();
        cfg.on_vm_remove = Some(Arc::new(move |e: &VmEvent| {
            let _ = t.send(Ev::Vm(e.clone()));
        }));
        let t = tx.clone();
        let log: LogFn = Arc::new(move |l: &str| {
            let _ = t.send(Ev::Gate(l.to_string()));
        });
        cfg.log = Some(log);
        let gate = Gate::start(cfg).map_err(|e| format!("emulator: {e}"))?;
        let snap = gate.snapshot();
        let role = |name: &str| {
            snap.roles
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.nodes.clone())
                .unwrap_or_default()
        };
        let superlink_vm = role(SUPERLINK_ROLE)
            .first()
            .copied()
            .ok_or("emulator: the superlink role has no VM")?;
        let initial = role(SUPERNODE_ROLE);
        let supernode_cmd = format!(
            "{} demo-supernode",
            shell_words::quote(&exe.to_string_lossy())
        );
        let spec = AgentSpec {
            exe,
            supernode_cmd,
            run_dir: dir.join("run"),
            extra: [
                "--log-level",
                "DEBUG",
                "--backoff-initial-ms",
                "500",
                "--probe-interval-ms",
                "1000",
                "--probe-timeout-ms",
                "500",
                "--min-publish-interval-ms",
                "200",
                "--heartbeat-ms",
                "10000",
                "--stop-grace-ms",
                "2000",
                "--onegate-timeout-ms",
                "2000",
                "--stable-ms",
                "5000",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        };
        let now = Instant::now();
        Ok(Demo {
            tl,
            verbose: args.verbose,
            gate,
            rx,
            tx,
            spec,
            agents: Vec::new(),
            initial,
            superlink_vm,
            superlink_delay: Duration::from_millis(args.superlink_delay_ms),
            link_cfg: LinkConfig {
                train: Duration::from_millis(args.train_ms),
                gap: Duration::from_millis(500),
                min_nodes: nodes as usize,
                min_wait: Duration::from_secs(3),
            },
            link: None,
            link_up_at: None,
            link_nodes: BTreeMap::new(),
            stats: BTreeMap::new(),
            rounds: 0,
            results: 0,
            last_started: 0,
            last_done: 0,
            scale_events: Vec::new(),
            pending_trigger: None,
            trace_seen: BTreeMap::new(),
            cooldown_shown: false,
            new_vm: None,
            leaver: None,
            milestones: MILESTONES
                .iter()
                .map(|_| Milestone {
                    at: None,
                    detail: String::new(),
                })
                .collect(),
            stage: 0,
            stage_since: now,
            user_templates: BTreeMap::new(),
            failure: None,
            interrupted,
            started: now,
        })
    }

    /// Seconds on the timeline's clock (the one printed on every line).
    fn elapsed(&self) -> f64 {
        self.tl.elapsed()
    }

    fn node_name(vm: u32) -> String {
        format!("node-{vm}")
    }

    // ---- events ------------------------------------------------------------

    fn pump(&mut self) {
        while let Ok(ev) = self.rx.try_recv() {
            self.handle(ev);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Agent(vm, line) => self.on_agent_line(vm, &line),
            Ev::Gate(line) => self.on_gate_line(&line),
            Ev::Vm(e) => self.on_vm(e),
            Ev::Link(e) => self.on_link(e),
        }
    }

    fn on_agent_line(&mut self, vm: u32, line: &str) {
        let name = Self::node_name(vm);
        let (level, text) = match line.split_once(' ') {
            Some((l @ ("DEBUG" | "INFO" | "WARNING" | "ERROR"), rest)) => (l, rest),
            _ => ("INFO", line),
        };
        let st = self.stats.entry(vm).or_default();
        if text.starts_with("SuperLink not resolved yet; retrying") {
            st.retries += 1;
        } else if let Some(rest) = text.strip_prefix("SuperLink resolved") {
            st.resolved = Some(
                rest.split_whitespace()
                    .find_map(|kv| kv.strip_prefix("address="))
                    .unwrap_or("")
                    .to_string(),
            );
        } else if text.starts_with("status published") {
            st.publishes += 1;
        }
        match level {
            "DEBUG" => {
                if self.verbose {
                    self.tl.line(&name, Tone::Dim, text);
                }
            }
            "WARNING" => self.tl.line(&name, Tone::Warn, line),
            "ERROR" => self.tl.line(&name, Tone::Error, line),
            _ => self.tl.line(&name, Tone::Plain, text),
        }
    }

    fn flush_trigger(&mut self) {
        if let Some(t) = self.pending_trigger.take() {
            self.tl
                .line("gate", Tone::Plain, &format!("autoscaler: {t}"));
        }
    }

    fn on_gate_line(&mut self, line: &str) {
        let is_request = ["GET ", "PUT ", "POST ", "HEAD ", "DELETE "]
            .iter()
            .any(|m| line.starts_with(m))
            && line.contains(" -> ");
        if is_request {
            if self.verbose {
                self.tl.line("gate", Tone::Dim, line);
            }
            return;
        }
        if let Some(rest) = line.strip_prefix("autoscaler: role ") {
            let (role, what) = rest.split_once(": ").unwrap_or((rest, ""));
            if let Some(p) = what.strip_prefix("elasticity_policies[") {
                // "<i>]: <trace> (true_evals a/n)"
                let (idx, trace) = p.split_once("]: ").unwrap_or(("?", p));
                let (expr, evals) = match trace.rsplit_once(" (true_evals ") {
                    Some((e, n)) => (e, n.trim_end_matches(')')),
                    None => (trace, ""),
                };
                let key = format!("{role}/{idx}");
                let (a, n) = evals.split_once('/').unwrap_or(("", ""));
                let text = format!("{expr}  (policy {idx} of {role}, true {a}/{n})");
                if a == n && !a.is_empty() && a != "0" {
                    self.flush_trigger();
                    self.pending_trigger = Some(text);
                } else if self.verbose || self.trace_seen.get(&key).map(String::as_str) != Some(a) {
                    self.flush_trigger();
                    self.tl
                        .line("gate", Tone::Plain, &format!("autoscaler: {text}"));
                }
                self.trace_seen.insert(key, a.to_string());
                return;
            }
            if let Some(c) = what.strip_prefix("cardinality ") {
                // "<a> -> <b>, cooldown <c>s"
                let (change, cd) = c.split_once(", cooldown ").unwrap_or((c, ""));
                let (from, to) = change.split_once(" -> ").unwrap_or((change, "?"));
                let event = format!("{role} {from} → {to}");
                let because = self
                    .pending_trigger
                    .take()
                    .map(|t| format!("{t} → "))
                    .unwrap_or_default();
                self.tl.line(
                    "gate",
                    Tone::Good,
                    &format!("autoscaler: {because}scale {event} (cooldown {cd})"),
                );
                self.scale_events.push(event);
                self.cooldown_shown = false;
                self.trace_seen.clear();
                return;
            }
            self.flush_trigger();
            self.tl.line("gate", Tone::Warn, line);
            return;
        }
        self.flush_trigger();
        if line.contains("is in COOLDOWN, no evaluation") {
            if !self.cooldown_shown || self.verbose {
                self.cooldown_shown = true;
                self.tl.line(
                    "gate",
                    Tone::Dim,
                    &format!("{line} (until the cooldown ends)"),
                );
            }
            return;
        }
        self.tl.line("gate", Tone::Plain, line);
    }

    fn on_vm(&mut self, e: VmEvent) {
        if e.role != SUPERNODE_ROLE {
            return;
        }
        if e.added {
            if !self.initial.contains(&e.id) && self.new_vm.is_none() {
                self.new_vm = Some(e.id);
            }
            let Some(dir) = e.dir.clone() else {
                self.tl.line(
                    "demo",
                    Tone::Error,
                    &format!("VM {} has no directory", e.id),
                );
                return;
            };
            let tx = self.tx.clone();
            let on_line = move |vm: u32, l: String| {
                let _ = tx.send(Ev::Agent(vm, l));
            };
            match Agent::spawn(&self.spec, e.id, &dir, on_line) {
                Ok(a) => {
                    self.tl.line(
                        "demo",
                        Tone::Plain,
                        &format!(
                            "started agent {} for VM {}: stamen run --context {} (pid {})",
                            a.name,
                            e.id,
                            dir.join("context.sh").display(),
                            a.pid()
                        ),
                    );
                    self.agents.push(a);
                }
                Err(err) => {
                    self.tl.line(
                        "demo",
                        Tone::Error,
                        &format!("cannot start the agent for VM {}: {err}", e.id),
                    );
                    self.fail(format!("cannot start the agent for VM {}: {err}", e.id));
                }
            }
        } else if let Some(a) = self.agents.iter_mut().find(|a| a.vm == e.id) {
            a.terminate();
            let (name, pid) = (a.name.clone(), a.pid());
            self.tl.line(
                "demo",
                Tone::Plain,
                &format!("VM {} removed: SIGTERM to {name} (pid {pid})", e.id),
            );
        }
    }

    fn vm_of_ppid(&self, ppid: u32) -> Option<u32> {
        self.agents.iter().find(|a| a.pid() == ppid).map(|a| a.vm)
    }

    fn node_label(&self, node: u64) -> String {
        match self.link_nodes.get(&node).copied().flatten() {
            Some(vm) => format!("VM {vm}"),
            None => format!("node {node}"),
        }
    }

    fn on_link(&mut self, e: LinkEvent) {
        match e {
            LinkEvent::Joined {
                node,
                pid,
                ppid,
                node_config,
            } => {
                let vm = self.vm_of_ppid(ppid);
                self.link_nodes.insert(node, vm);
                let who = vm.map_or(format!("an unknown agent (ppid {ppid})"), |v| {
                    format!("VM {v}")
                });
                self.tl.line(
                    "superlink",
                    Tone::Plain,
                    &format!("SuperNode of {who} joined (pid {pid}, {node_config})"),
                );
            }
            LinkEvent::Left { node } => {
                let who = self.node_label(node);
                self.tl.line(
                    "superlink",
                    Tone::Plain,
                    &format!("SuperNode of {who} left"),
                );
            }
            LinkEvent::RoundStarted { round, nodes } => {
                self.last_started = round;
                let who: Vec<String> = nodes.iter().map(|n| self.node_label(*n)).collect();
                self.tl.line(
                    "superlink",
                    Tone::Plain,
                    &format!("round {round}: training on {}", who.join(", ")),
                );
            }
            LinkEvent::Result { round, node } => {
                if let Some(vm) = self.link_nodes.get(&node).copied().flatten() {
                    self.stats.entry(vm).or_default().results += 1;
                }
                if self.verbose {
                    let who = self.node_label(node);
                    self.tl.line(
                        "superlink",
                        Tone::Dim,
                        &format!("round {round}: result from {who}"),
                    );
                }
            }
            LinkEvent::RoundDone {
                round,
                results,
                expected,
            } => {
                if results > 0 {
                    self.rounds += 1;
                }
                self.last_done = round;
                self.results += results as u64;
                self.tl.line(
                    "superlink",
                    if results == expected {
                        Tone::Plain
                    } else {
                        Tone::Warn
                    },
                    &format!("round {round}: done, {results}/{expected} results aggregated"),
                );
            }
        }
    }

    // ---- scenario ----------------------------------------------------------

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some((self.stage.min(MILESTONES.len() - 1), why));
        }
    }

    fn reach(&mut self, detail: String) {
        let at = self.elapsed();
        let name = MILESTONES[self.stage];
        self.tl.line(
            "demo",
            Tone::Good,
            &format!(
                "milestone {}/{}: {name}: {detail}",
                self.stage + 1,
                MILESTONES.len()
            ),
        );
        self.milestones[self.stage] = Milestone {
            at: Some(at),
            detail,
        };
        self.stage += 1;
        self.stage_since = Instant::now();
    }

    fn start_link(&mut self) {
        let tx = self.tx.clone();
        let link = match StandInLink::start(self.link_cfg, move |e| {
            let _ = tx.send(Ev::Link(e));
        }) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("cannot start the stand-in SuperLink: {e}"));
                return;
            }
        };
        let addr = link.addr().to_string();
        self.tl.line(
            "superlink",
            Tone::Plain,
            &format!("SuperLink up: Fleet API on {addr} (stand-in)"),
        );
        self.link = Some(link);
        self.link_up_at = Some(Instant::now());
        self.stage_since = Instant::now();
        // Publish FL_ENDPOINT as the SuperLink VM does, through OneGate with its token.
        let vm = self.superlink_vm.to_string();
        let res = match self.gate.token(self.superlink_vm) {
            Some(tok) => crate::run::gate::OneGateGate::new(
                &self.gate.endpoint(),
                &vm,
                &tok,
                Duration::from_secs(3),
            )
            .and_then(|mut g| {
                g.publish(&[("FL_ENDPOINT".to_string(), addr.clone())])
                    .map_err(|e| e.to_string())
            }),
            None => Err(format!("no token for VM {vm}")),
        };
        match res {
            Ok(()) => self.tl.line(
                "superlink",
                Tone::Plain,
                &format!("published FL_ENDPOINT={addr} to OneGate as VM {vm}"),
            ),
            Err(e) => self.fail(format!(
                "the SuperLink VM could not publish FL_ENDPOINT: {e}"
            )),
        }
    }

    fn refresh(&mut self) {
        let snap = self.gate.snapshot();
        self.user_templates = snap
            .vms
            .iter()
            .filter(|(_, v)| v.role == SUPERNODE_ROLE)
            .map(|(id, v)| (*id, v.user_template.clone()))
            .collect();
    }

    fn attr(&self, vm: u32, key: &str) -> Option<&str> {
        self.user_templates
            .get(&vm)
            .and_then(|t| t.get(key))
            .map(String::as_str)
    }

    fn check_agents(&mut self) {
        let mut died = Vec::new();
        for a in self.agents.iter_mut() {
            if let Some(st) = a.poll_exit() {
                died.push((a.vm, a.name.clone(), st, a.stop_sent.is_some()));
            }
        }
        for (vm, name, st, asked) in died {
            let how = agents::describe(st);
            if asked {
                self.tl
                    .line("demo", Tone::Plain, &format!("{name} exited ({how})"));
            } else {
                self.tl.line(
                    "demo",
                    Tone::Error,
                    &format!("{name} exited unexpectedly ({how})"),
                );
                self.fail(format!("the agent of VM {vm} exited unexpectedly ({how})"));
            }
        }
    }

    fn advance(&mut self) {
        if self.link.is_none() && self.started.elapsed() >= self.superlink_delay {
            self.start_link();
        }
        if self.failure.is_some() {
            return;
        }
        match self.stage {
            0 => {
                if self.link.is_none() || self.initial.is_empty() {
                    return;
                }
                let link_addr = self.link.as_ref().map(|l| l.addr().to_string());
                let mut parts = Vec::new();
                let mut wrong = None;
                for vm in &self.initial {
                    let Some(st) = self.stats.get(vm) else { return };
                    let Some(addr) = &st.resolved else { return };
                    if Some(addr) != link_addr.as_ref() {
                        wrong = Some(format!(
                            "VM {vm} resolved {addr}, but the SuperLink listens on {}",
                            link_addr.as_deref().unwrap_or("?")
                        ));
                    }
                    parts.push(format!(
                        "VM {vm} → {addr} after {} retr{}",
                        st.retries,
                        if st.retries == 1 { "y" } else { "ies" }
                    ));
                }
                if let Some(w) = wrong {
                    self.fail(w);
                    return;
                }
                let no_retry: Vec<String> = self
                    .initial
                    .iter()
                    .filter(|vm| self.stats.get(vm).is_none_or(|s| s.retries == 0))
                    .map(|vm| vm.to_string())
                    .collect();
                if !no_retry.is_empty() {
                    self.fail(format!(
                        "VM {} resolved the SuperLink without retrying: it was up before the agent asked",
                        no_retry.join(", ")
                    ));
                    return;
                }
                self.reach(format!(
                    "agents retried with backoff, then found the SuperLink: {}",
                    parts.join("; ")
                ));
            }
            1 => {
                let hit = self.user_templates.keys().copied().find(|vm| {
                    self.attr(*vm, "FL_CLIENT_STATUS") == Some("2")
                        && self.attr(*vm, "FL_TRAINING_ACTIVE") == Some("1")
                        && self
                            .attr(*vm, "FL_ROUND_NUMBER")
                            .and_then(|r| r.parse::<u64>().ok())
                            .is_some_and(|r| r >= 1)
                });
                if let Some(vm) = hit {
                    let round = self.attr(vm, "FL_ROUND_NUMBER").unwrap_or("?").to_string();
                    self.reach(format!(
                        "OneGate shows VM {vm} FL_CLIENT_STATUS=2 FL_TRAINING_ACTIVE=1 FL_ROUND_NUMBER={round}"
                    ));
                }
            }
            2 => {
                if let (Some(ev), Some(vm)) = (self.scale_events.first(), self.new_vm) {
                    let ev = ev.clone();
                    self.reach(format!("the autoscaler scaled {ev}; new VM {vm}"));
                }
            }
            3 => {
                let Some(vm) = self.new_vm else { return };
                let status = self.attr(vm, "FL_CLIENT_STATUS").unwrap_or("");
                let results = self.stats.get(&vm).map_or(0, |s| s.results);
                if (status == "1" || status == "2") && results > 0 {
                    let status = status.to_string();
                    self.reach(format!(
                        "VM {vm} published FL_CLIENT_STATUS={status} and returned {results} round result{}",
                        if results == 1 { "" } else { "s" }
                    ));
                    self.leave();
                }
            }
            4 => {
                let Some(vm) = self.leaver else { return };
                let Some(a) = self.agents.iter().find(|a| a.vm == vm) else {
                    return;
                };
                let Some(st) = a.exited else { return };
                if !exit_ok(st) {
                    let how = agents::describe(st);
                    self.fail(format!(
                        "the agent of VM {vm} exited with {how} after SIGTERM"
                    ));
                    return;
                }
                let status = self.attr(vm, "FL_CLIENT_STATUS");
                let active = self.attr(vm, "FL_TRAINING_ACTIVE");
                if status == Some("3") && active == Some("0") {
                    self.reach(format!(
                        "VM {vm}'s agent published FL_CLIENT_STATUS=3 FL_TRAINING_ACTIVE=0 and exited 0"
                    ));
                }
            }
            _ => {}
        }
    }

    fn leave(&mut self) {
        let Some(vm) = self.initial.first().copied() else {
            return;
        };
        self.leaver = Some(vm);
        if let Some(a) = self.agents.iter_mut().find(|a| a.vm == vm) {
            a.terminate();
            let (name, pid) = (a.name.clone(), a.pid());
            self.tl.line(
                "demo",
                Tone::Plain,
                &format!("edge node VM {vm} shuts down: SIGTERM to {name} (pid {pid})"),
            );
        }
    }

    fn stage_detail(&self) -> String {
        match self.stage {
            0 => {
                if self.link.is_none() {
                    return "the SuperLink never came up".into();
                }
                let missing: Vec<String> = self
                    .initial
                    .iter()
                    .filter(|vm| self.stats.get(vm).is_none_or(|s| s.resolved.is_none()))
                    .map(|vm| {
                        format!(
                            "VM {vm} ({} retries)",
                            self.stats.get(vm).map_or(0, |s| s.retries)
                        )
                    })
                    .collect();
                format!("not resolved by {}", missing.join(", "))
            }
            1 => format!(
                "no SuperNode VM published FL_CLIENT_STATUS=2 with a round ({} rounds done; statuses: {})",
                self.rounds,
                self.statuses()
            ),
            2 => format!(
                "the autoscaler did not scale {SUPERNODE_ROLE} up (statuses: {}; last trigger: {})",
                self.statuses(),
                self.pending_trigger.as_deref().unwrap_or("none")
            ),
            3 => match self.new_vm {
                Some(vm) => format!(
                    "VM {vm}: FL_CLIENT_STATUS={}, round results {}",
                    self.attr(vm, "FL_CLIENT_STATUS").unwrap_or("(none)"),
                    self.stats.get(&vm).map_or(0, |s| s.results)
                ),
                None => "no new VM".into(),
            },
            _ => match self.leaver {
                Some(vm) => format!(
                    "VM {vm}: FL_CLIENT_STATUS={}, agent {}",
                    self.attr(vm, "FL_CLIENT_STATUS").unwrap_or("(none)"),
                    self.agents
                        .iter()
                        .find(|a| a.vm == vm)
                        .and_then(|a| a.exited)
                        .map_or("still running".to_string(), agents::describe)
                ),
                None => "no node was asked to leave".into(),
            },
        }
    }

    fn statuses(&self) -> String {
        let v: Vec<String> = self
            .user_templates
            .keys()
            .map(|vm| format!("{vm}={}", self.attr(*vm, "FL_CLIENT_STATUS").unwrap_or("-")))
            .collect();
        v.join(" ")
    }

    /// The event loop; returns the exit code.
    fn run(&mut self, timeout_s: u64) -> u8 {
        let overall = Duration::from_secs(timeout_s);
        let mut last_refresh = Instant::now() - Duration::from_secs(1);
        while self.stage < MILESTONES.len() && self.failure.is_none() {
            if self.interrupted.load(Ordering::SeqCst) {
                self.pump();
                self.fail("interrupted by a signal (Ctrl-C)".into());
                self.tl.line("demo", Tone::Warn, "interrupted; stopping");
                return 130;
            }
            if let Ok(ev) = self.rx.recv_timeout(Duration::from_millis(50)) {
                self.handle(ev);
            }
            self.pump();
            self.check_agents();
            if last_refresh.elapsed() >= Duration::from_millis(100) {
                self.refresh();
                last_refresh = Instant::now();
            }
            self.advance();
            let bound = Duration::from_secs(BOUNDS_S[self.stage.min(BOUNDS_S.len() - 1)]);
            let since_ok = self.stage > 0 || self.link_up_at.is_some();
            if self.failure.is_none() && since_ok && self.stage_since.elapsed() > bound {
                let d = self.stage_detail();
                self.fail(format!("not reached within {} s: {d}", bound.as_secs()));
            }
            if self.failure.is_none() && self.started.elapsed() > overall {
                let d = self.stage_detail();
                self.fail(format!("the demo's {timeout_s} s time limit passed: {d}"));
            }
        }
        self.flush_trigger();
        if self.failure.is_none() {
            self.epilogue();
        }
        match &self.failure {
            None => 0,
            Some((i, why)) => {
                let msg = format!("milestone {} failed: {why}", MILESTONES[*i]);
                self.tl.line("demo", Tone::Error, &msg);
                1
            }
        }
    }

    /// After the last milestone: let the federation finish one more round
    /// without the node that left (shown, not checked).
    fn epilogue(&mut self) {
        let after = self.last_started;
        let bound = self.link_cfg.train + self.link_cfg.gap + Duration::from_secs(4);
        let t0 = Instant::now();
        while self.last_done <= after
            && t0.elapsed() < bound
            && !self.interrupted.load(Ordering::SeqCst)
        {
            if let Ok(ev) = self.rx.recv_timeout(Duration::from_millis(50)) {
                self.handle(ev);
            }
            self.pump();
            self.check_agents();
        }
        self.flush_trigger();
    }

    /// Stops everything by PID, then prints the summary.
    fn finish(&mut self) {
        let tl = self.tl.clone();
        tl.line("demo", Tone::Plain, "stopping: SIGTERM to every agent");
        let mut agents = std::mem::take(&mut self.agents);
        agents::stop_all(
            &mut agents,
            Duration::from_secs(6),
            |a, st, killed| {
                if a.stop_sent.is_some() && a.exited.is_some() && !killed {
                    tl.line(
                        "demo",
                        Tone::Dim,
                        &format!("{} stopped ({})", a.name, agents::describe(st)),
                    );
                } else if killed {
                    tl.line(
                        "demo",
                        Tone::Warn,
                        &format!("{} did not stop in time: killed", a.name),
                    );
                }
            },
            || {
                while let Ok(ev) = self.rx.try_recv() {
                    self.handle(ev);
                }
            },
        );
        self.agents = agents;
        if let Some(l) = self.link.take() {
            l.stop();
        }
        self.pump();
        self.flush_trigger();
        self.summary();
    }

    fn summary(&self) {
        let ok = self.failure.is_none();
        let total = self.elapsed();
        let mut out = String::new();
        out.push_str("\nsummary\n");
        for (i, name) in MILESTONES.iter().enumerate() {
            let m = &self.milestones[i];
            match (m.at, &self.failure) {
                (Some(at), _) => {
                    out.push_str(&format!("  ok     {at:>5.1}s  {name}: {}\n", m.detail));
                }
                (None, Some((f, why))) if *f == i => {
                    out.push_str(&format!("  FAILED        {name}: {why}\n"));
                }
                _ => out.push_str(&format!("  -             {name}: not reached\n")),
            }
        }
        if let Some((f, why)) = &self.failure {
            if self.milestones.get(*f).is_some_and(|m| m.at.is_some()) {
                out.push_str(&format!("  FAILED        after the milestones: {why}\n"));
            }
        }
        let vms: Vec<String> = self.agents.iter().map(|a| a.vm.to_string()).collect();
        let left: Vec<String> = self.leaver.iter().map(|v| format!("VM {v}")).collect();
        out.push_str(&format!(
            "  nodes      {} agents (VM {}){}\n",
            self.agents.len(),
            vms.join(", "),
            if left.is_empty() {
                String::new()
            } else {
                format!("; left: {}", left.join(", "))
            }
        ));
        out.push_str(&format!(
            "  rounds     {} ({} results aggregated)\n",
            self.rounds, self.results
        ));
        let publishes: u32 = self.stats.values().map(|s| s.publishes).sum();
        out.push_str(&format!(
            "  publishes  {publishes} status publishes to OneGate (FL_CLIENT_STATUS, FL_TRAINING_ACTIVE, FL_ROUND_NUMBER)\n"
        ));
        out.push_str(&format!(
            "  scaling    {} event{}{}\n",
            self.scale_events.len(),
            if self.scale_events.len() == 1 {
                ""
            } else {
                "s"
            },
            if self.scale_events.is_empty() {
                String::new()
            } else {
                format!(": {}", self.scale_events.join(", "))
            }
        ));
        out.push_str(&format!("  time       {total:.1} s\n"));
        let reached = self.milestones.iter().filter(|m| m.at.is_some()).count();
        out.push_str(&if ok {
            format!(
                "result     PASS: all {} milestones reached\n",
                MILESTONES.len()
            )
        } else {
            format!(
                "result     FAIL: {reached}/{} milestones reached\n",
                MILESTONES.len()
            )
        });
        print!("{out}");
        if let Some((i, why)) = &self.failure {
            eprintln!("stamen demo: milestone '{}' failed: {why}", MILESTONES[*i]);
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // Never leave a process behind, whatever path got us here.
        for a in self.agents.iter_mut() {
            a.kill();
        }
    }
}
