//! `stamen run`: load the context, resolve the SuperLink, start and supervise
//! the SuperNode, and publish FL status to OneGate. See `docs/AGENT.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args as ClapArgs;

use crate::run::gate::OneGateGate;
use crate::run::log::{Level, Log};
use crate::run::{self, Daemon, EdgeSettings, Options};

/// Default status socket path.
pub const DEFAULT_SOCKET: &str = "/run/stamen/status.sock";
/// Default CA certificate path.
pub const DEFAULT_CA_FILE: &str = "/var/lib/stamen/superlink-ca.pem";
/// Default context file (the guest's copy written by one-context).
pub const DEFAULT_CONTEXT: &str = "/var/run/one-context/context.sh.local";

/// Options of `stamen run`.
#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Context file (context.sh format).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONTEXT)]
    pub context: PathBuf,
    /// OneGate endpoint instead of ONEGATE_ENDPOINT from the context.
    #[arg(long, value_name = "URL")]
    pub onegate_endpoint: Option<String>,
    /// Status socket path [env: STAMEN_STATUS_SOCKET] [default: /run/stamen/status.sock].
    #[arg(long, value_name = "PATH")]
    pub status_socket: Option<PathBuf>,
    /// Where the SuperLink CA certificate is written when FL_TLS_ENABLED=YES.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CA_FILE)]
    pub ca_file: PathBuf,
    /// SuperNode command, split into words like a shell would (no shell is
    /// run); may contain placeholders such as {flags} or {superlink}.
    #[arg(long, value_name = "CMD", default_value = "flower-supernode")]
    pub supernode_cmd: String,
    /// Extra word appended to the SuperNode command (repeatable).
    #[arg(long = "supernode-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub supernode_args: Vec<String>,
    /// Log level (wins over FL_LOG_LEVEL): DEBUG, INFO, WARNING, ERROR.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<Level>,
    /// Resolve once, print the configuration, address and argv, and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// First delay of the discovery and restart backoffs, in ms.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub backoff_initial_ms: u64,
    /// Probe period while the SuperLink answers, in ms.
    #[arg(long, value_name = "MS", default_value_t = 15_000)]
    pub probe_interval_ms: u64,
    /// TCP connect timeout of one probe, in ms.
    #[arg(long, value_name = "MS", default_value_t = 3_000)]
    pub probe_timeout_ms: u64,
    /// Uptime after which the restart backoff starts over, in ms.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub stable_ms: u64,
    /// Grace period between SIGTERM and SIGKILL when stopping the SuperNode, in ms.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub stop_grace_ms: u64,
    /// Re-publish the unchanged status this often, in ms.
    #[arg(long, value_name = "MS", default_value_t = 300_000)]
    pub heartbeat_ms: u64,
    /// Minimum time between two status publishes (bursts are coalesced), in ms.
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub min_publish_interval_ms: u64,
    /// Timeout of one OneGate request (connect + response), in ms.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    pub onegate_timeout_ms: u64,
}

/// Context values `run` needs besides [`EdgeSettings`].
pub struct Loaded {
    /// The FL settings.
    pub settings: EdgeSettings,
    /// OneGate endpoint (context or `--onegate-endpoint`).
    pub endpoint: String,
    /// The token (never printed).
    token: String,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("settings", &self.settings)
            .field("endpoint", &self.endpoint)
            .field("token", &"<redacted>")
            .finish()
    }
}

fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_uppercase().as_str() {
        "YES" => Some(true),
        "NO" => Some(false),
        _ => None,
    }
}

/// Load and validate the context; every problem is reported.
pub fn load(args: &Args) -> Result<Loaded, Vec<String>> {
    let path = &args.context;
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{file}: cannot read: {e}")])?;
    let entries = run::interim::parse_context_sh(&text).map_err(|es| {
        es.into_iter()
            .map(|e| format!("{file}: {e}"))
            .collect::<Vec<_>>()
    })?;
    let get = |k: &str| -> Option<(String, usize)> {
        entries
            .iter()
            .rev()
            .find(|(key, _, _)| key == k)
            .map(|(_, v, l)| (v.clone(), *l))
    };
    // ONEAPP_FL_X wins over FL_X; empty means unset.
    let fl = |name: &str| -> Option<(String, usize, String)> {
        for k in [format!("ONEAPP_{name}"), name.to_string()] {
            if let Some((v, l)) = get(&k) {
                if !v.is_empty() {
                    return Some((v, l, k));
                }
            }
        }
        None
    };
    let mut errors = Vec::new();
    let mut bad = |l: usize, k: &str, v: &str, allowed: &str| {
        errors.push(format!(
            "{file}:{l}: {k}={v:?} is invalid; allowed: {allowed}"
        ));
    };
    let vmid = get("VMID").map(|x| x.0).unwrap_or_default();
    let endpoint = args.onegate_endpoint.clone().or_else(|| {
        get("ONEGATE_ENDPOINT")
            .map(|x| x.0)
            .filter(|v| !v.is_empty())
    });
    let superlink_address = match fl("FL_SUPERLINK_ADDRESS") {
        Some((v, l, k)) => match run::check_address(&v) {
            Ok(()) => Some(v),
            Err(_) => {
                bad(l, &k, &v, "host:port, [IPv6]:port");
                None
            }
        },
        None => None,
    };
    let backoff_fixed = match fl("FL_EDGE_BACKOFF") {
        Some((v, l, k)) => match v.as_str() {
            "exponential" => false,
            "fixed" => true,
            _ => {
                bad(l, &k, &v, "exponential, fixed");
                false
            }
        },
        None => false,
    };
    let mut int = |name: &str, default: u64, min: u64| -> u64 {
        match fl(name) {
            Some((v, l, k)) => match v.parse::<u64>() {
                Ok(n) if n >= min => n,
                _ => {
                    bad(l, &k, &v, &format!("an integer >= {min}"));
                    default
                }
            },
            None => default,
        }
    };
    let max_backoff_s = int("FL_EDGE_MAX_BACKOFF", 300, 1);
    let max_retries = int("FL_MAX_RETRIES", 0, 0);
    let max_wait_time = int("FL_MAX_WAIT_TIME", 0, 0);
    let node_config = fl("FL_NODE_CONFIG").map(|x| x.0);
    let isolation = match fl("FL_ISOLATION") {
        Some((v, l, k)) if v != "subprocess" && v != "process" => {
            bad(l, &k, &v, "subprocess, process");
            "subprocess".to_string()
        }
        Some((v, _, _)) => v,
        None => "subprocess".into(),
    };
    let log_level = match fl("FL_LOG_LEVEL") {
        Some((v, l, k)) => v.parse::<Level>().unwrap_or_else(|_| {
            bad(l, &k, &v, "DEBUG, INFO, WARNING, ERROR");
            Level::Info
        }),
        None => Level::Info,
    };
    let tls = match fl("FL_TLS_ENABLED") {
        Some((v, l, k)) => yes_no(&v).unwrap_or_else(|| {
            bad(l, &k, &v, "YES, NO");
            true
        }),
        None => true,
    };
    let token = get("ONEGATE_TOKEN")
        .map(|x| x.0)
        .filter(|t| !t.is_empty())
        .or_else(|| std::env::var("TOKENTXT").ok().filter(|t| !t.is_empty()))
        .or_else(|| {
            let p = path.parent().unwrap_or(Path::new(".")).join("token.txt");
            std::fs::read_to_string(p)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
    if vmid.is_empty() || !vmid.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(format!(
            "{file}: VMID is missing or not a number (needs TOKEN=YES in the VM context)"
        ));
    }
    if endpoint.is_none() {
        errors.push(format!("{file}: ONEGATE_ENDPOINT is missing (needs TOKEN=YES) and --onegate-endpoint not given"));
    }
    if token.is_none() {
        errors.push(format!(
            "{file}: no OneGate token (ONEGATE_TOKEN in the context, TOKENTXT env, or token.txt next to the context file)"
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Loaded {
        settings: EdgeSettings {
            vmid,
            superlink_address,
            backoff_fixed,
            max_backoff_s,
            max_retries,
            max_wait_time,
            node_config,
            isolation,
            log_level,
            tls,
        },
        endpoint: endpoint.unwrap_or_default(),
        token: token.unwrap_or_default(),
    })
}

fn make_gate(l: &Loaded, args: &Args) -> Result<OneGateGate, Vec<String>> {
    OneGateGate::new(
        &l.endpoint,
        &l.settings.vmid,
        &l.token,
        Duration::from_millis(args.onegate_timeout_ms),
    )
    .map_err(|e| vec![e])
}

fn options(args: &Args, template: Vec<String>) -> Options {
    let socket = args
        .status_socket
        .clone()
        .or_else(|| {
            std::env::var_os("STAMEN_STATUS_SOCKET")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    Options {
        socket,
        ca_file: args.ca_file.clone(),
        template,
        backoff_base_ms: args.backoff_initial_ms,
        probe_interval_ms: args.probe_interval_ms.max(1),
        probe_timeout_ms: args.probe_timeout_ms.max(1),
        stable_ms: args.stable_ms,
        stop_grace_ms: args.stop_grace_ms,
        heartbeat_ms: args.heartbeat_ms.max(1_000),
        min_publish_interval_ms: args.min_publish_interval_ms,
        log_level: args.log_level,
    }
}

fn config_errors(log: &Log, errors: &[String]) -> ExitCode {
    for e in errors {
        log.error("configuration error", &[("error", e)]);
    }
    log.error(
        "exiting: invalid configuration",
        &[("errors", &errors.len())],
    );
    ExitCode::from(run::EXIT_CONFIG)
}

/// Entry point of `stamen run`.
pub fn run(args: Args) -> ExitCode {
    let mut log = Log::from_env(args.log_level.unwrap_or(Level::Info));
    let mut template = match run::supervisor::split_command(&args.supernode_cmd) {
        Ok(t) => t,
        Err(e) => return config_errors(&log, &[e]),
    };
    template.extend(args.supernode_args.iter().cloned());
    if let Err(e) = run::supervisor::check_template(&template) {
        return config_errors(&log, &[e]);
    }
    let loaded = match load(&args) {
        Ok(l) => l,
        Err(errs) => return config_errors(&log, &errs),
    };
    if args.log_level.is_none() {
        log.set_level(loaded.settings.log_level);
    }
    let mut gate = match make_gate(&loaded, &args) {
        Ok(g) => g,
        Err(errs) => return config_errors(&log, &errs),
    };
    let opts = options(&args, template);
    if args.dry_run {
        return dry_run(&loaded, &opts, &mut gate);
    }
    let reload_args = args.clone();
    let loader: run::Loader<OneGateGate> = Box::new(move || {
        let l = load(&reload_args)?;
        let g = make_gate(&l, &reload_args)?;
        Ok((l.settings, g))
    });
    match Daemon::new(loaded.settings, opts, gate, loader, log) {
        Ok(d) => ExitCode::from(d.run()),
        Err(e) => {
            log.error("cannot start", &[("error", &e)]);
            ExitCode::from(run::EXIT_OSERR)
        }
    }
}

fn dry_run(l: &Loaded, o: &Options, gate: &mut OneGateGate) -> ExitCode {
    let s = &l.settings;
    println!("context:");
    println!("  VMID={}", s.vmid);
    println!("  ONEGATE_ENDPOINT={}", l.endpoint);
    println!("  ONEGATE_TOKEN=<redacted>");
    println!(
        "  FL_SUPERLINK_ADDRESS={}",
        s.superlink_address.as_deref().unwrap_or("(discover)")
    );
    println!(
        "  FL_EDGE_BACKOFF={}",
        if s.backoff_fixed {
            "fixed"
        } else {
            "exponential"
        }
    );
    println!("  FL_EDGE_MAX_BACKOFF={}", s.max_backoff_s);
    println!("  FL_MAX_RETRIES={}", s.max_retries);
    println!("  FL_MAX_WAIT_TIME={}", s.max_wait_time);
    println!(
        "  FL_NODE_CONFIG={}",
        s.node_config.as_deref().unwrap_or("(auto partition-id)")
    );
    println!("  FL_ISOLATION={}", s.isolation);
    println!("  FL_LOG_LEVEL={}", s.log_level);
    println!("  FL_TLS_ENABLED={}", if s.tls { "YES" } else { "NO" });
    println!("status_socket: {}", o.socket.display());
    match run::prepare(s, o, gate, false) {
        Ok(p) => {
            println!("superlink: {}", p.params.superlink);
            if let Some(ca) = &p.params.root_certificates {
                println!("ca_file: {ca} (not written in dry run)");
            }
            println!(
                "node_config: {}",
                p.params.node_config.as_deref().unwrap_or("")
            );
            println!("argv: {}", shell_words::join(&p.argv));
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("superlink: not resolved: {e}");
            ExitCode::from(run::EXIT_UNAVAILABLE)
        }
    }
}
