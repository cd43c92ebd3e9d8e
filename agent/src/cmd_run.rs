//! `stamen run`: load the context, resolve the SuperLink, start and supervise
//! the SuperNode, and publish FL status to OneGate. See `docs/AGENT.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args as ClapArgs;

use crate::ctxfile::{self, Secret};
use crate::run::gate::OneGateGate;
use crate::run::log::{Level, Log};
use crate::run::{self, Daemon, EdgeSettings, Options};
use stamen_core::context::BackoffStrategy;

/// Default status socket path.
pub const DEFAULT_SOCKET: &str = "/run/stamen/status.sock";
/// Default CA certificate path.
pub const DEFAULT_CA_FILE: &str = "/var/lib/stamen/superlink-ca.pem";

/// Options of `stamen run`.
#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Context file (context.sh, or one_env by name) [default: the guest
    /// search order: /var/run/one-context/context.sh.local, .network,
    /// .online, the CONTEXT CD-ROM, /run/one-context/one_env, the environment].
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
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
    /// First delay of the discovery and restart backoffs, in ms (at least 10).
    #[arg(long, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub backoff_initial_ms: u64,
    /// Probe period while the SuperLink answers, in ms (at least 100).
    #[arg(long, value_name = "MS", default_value_t = 15_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub probe_interval_ms: u64,
    /// TCP connect timeout of one probe, in ms (at least 10).
    #[arg(long, value_name = "MS", default_value_t = 3_000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub probe_timeout_ms: u64,
    /// Uptime after which the restart backoff starts over, in ms.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub stable_ms: u64,
    /// Grace period between SIGTERM and SIGKILL when stopping the SuperNode, in ms.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub stop_grace_ms: u64,
    /// Re-publish the unchanged status this often, in ms (at least 1000).
    #[arg(long, value_name = "MS", default_value_t = 300_000,
          value_parser = clap::value_parser!(u64).range(1_000..))]
    pub heartbeat_ms: u64,
    /// Minimum time between two status publishes (bursts are coalesced), in ms (at least 100).
    #[arg(long, value_name = "MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub min_publish_interval_ms: u64,
    /// Timeout of one OneGate request (connect + response), in ms (at least 100).
    #[arg(long, value_name = "MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub onegate_timeout_ms: u64,
    /// Trust this CA (PEM) for an https:// OneGate instead of the system bundle.
    #[arg(long, value_name = "FILE", conflicts_with = "onegate_insecure_tls")]
    pub onegate_ca_cert: Option<PathBuf>,
    /// Do not verify the certificate of an https:// OneGate (explicit opt-out;
    /// OneGate often runs with a self-signed certificate).
    #[arg(long)]
    pub onegate_insecure_tls: bool,
}

/// Context values `run` needs besides [`EdgeSettings`].
pub struct Loaded {
    /// The FL settings.
    pub settings: EdgeSettings,
    /// OneGate endpoint (context or `--onegate-endpoint`).
    pub endpoint: String,
    /// Where the context came from.
    pub source: String,
    /// Non-fatal problems (e.g. lossy one_env fallback).
    pub warnings: Vec<String>,
    /// The token (redacted in `Debug`).
    token: Secret,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("settings", &self.settings)
            .field("endpoint", &self.endpoint)
            .field("source", &self.source)
            .field("token", &self.token)
            .finish()
    }
}

/// Load and validate the context (`--context FILE`, else the guest search
/// order of [`ctxfile`]); every problem is reported, one line each.
pub fn load(args: &Args) -> Result<Loaded, Vec<String>> {
    let ctx = ctxfile::load(args.context.as_deref()).map_err(|e| vec![e.to_string()])?;
    let source = ctx.source_name();
    let mut errors = ctx.errors();
    let (cfg, _) = ctx.edge_config();
    let vmid = cfg.vmid();
    if vmid.is_none() && !errors.iter().any(|e| e.contains("VMID")) {
        errors.push(format!(
            "{source}: VMID: missing (needed to publish to OneGate; is TOKEN=YES in the VM context?)"
        ));
    }
    let endpoint = args
        .onegate_endpoint
        .clone()
        .filter(|e| !e.is_empty())
        .or_else(|| cfg.onegate_endpoint().map(|e| e.as_str().to_string()));
    if endpoint.is_none() && !errors.iter().any(|e| e.contains("ONEGATE_ENDPOINT")) {
        errors.push(format!(
            "{source}: ONEGATE_ENDPOINT: missing (allowed: http(s)://host:port in the context, or --onegate-endpoint)"
        ));
    }
    if ctx.token.is_none() && !errors.iter().any(|e| e.contains("ONEGATE_TOKEN")) {
        errors.push(format!(
            "{source}: ONEGATE_TOKEN: missing (allowed: ONEGATE_TOKEN in the context, the TOKENTXT environment variable or token.txt next to the context file)"
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(vmid), Some(endpoint), Some(token)) = (vmid, endpoint, ctx.token.clone()) else {
        return Err(vec![format!("{source}: incomplete context")]);
    };
    let node_config = Some(cfg.node_config().as_str()).filter(|s| !s.trim().is_empty());
    let settings = EdgeSettings {
        vmid: vmid.to_string(),
        superlink_address: cfg.superlink().map(|a| a.as_str().to_string()),
        backoff_fixed: cfg.backoff() == BackoffStrategy::Fixed,
        max_backoff_s: u64::from(cfg.max_backoff_secs()),
        max_retries: u64::from(cfg.max_retries()),
        max_wait_time: u64::from(cfg.max_wait_time_secs()),
        node_config: node_config.map(str::to_string),
        isolation: cfg.isolation().as_str().to_string(),
        log_level: cfg.log_level().as_str().parse().unwrap_or(Level::Info),
        tls: cfg.tls_enabled(),
    };
    Ok(Loaded {
        settings,
        endpoint,
        source,
        warnings: ctx
            .warnings
            .iter()
            .cloned()
            .chain(ctx.unknown_fl_warnings())
            .collect(),
        token,
    })
}

fn make_gate(l: &Loaded, args: &Args) -> Result<OneGateGate, Vec<String>> {
    let tls = if args.onegate_insecure_tls {
        crate::onegate::TlsMode::Insecure
    } else if let Some(path) = &args.onegate_ca_cert {
        let pem = read_bounded(path, 1 << 20)
            .map_err(|e| vec![format!("--onegate-ca-cert {}: {e}", path.display())])?;
        crate::onegate::TlsMode::CustomCa(pem)
    } else {
        crate::onegate::TlsMode::Verify
    };
    OneGateGate::with_tls(
        &l.endpoint,
        &l.settings.vmid,
        l.token.expose(),
        Duration::from_millis(args.onegate_timeout_ms),
        tls,
    )
    .map_err(|e| vec![e])
}

/// Reads at most `limit` bytes of `path`; a larger file is an error.
fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(buf)
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
        probe_interval_ms: args.probe_interval_ms,
        probe_timeout_ms: args.probe_timeout_ms,
        stable_ms: args.stable_ms,
        stop_grace_ms: args.stop_grace_ms,
        heartbeat_ms: args.heartbeat_ms,
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
    for w in &loaded.warnings {
        log.warn("context warning", &[("warning", w)]);
    }
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
    println!("context: {}", l.source);
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
