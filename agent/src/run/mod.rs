//! `stamen run`: the edge daemon.
//!
//! One thread, one event loop. Each iteration runs whatever is due (prepare
//! the SuperNode command, (re)start the child, probe the SuperLink, publish
//! status), then blocks in `poll(2)` on the status socket and the signal
//! self-pipe with a timeout equal to the earliest deadline. Nothing spins:
//! an idle agent wakes only for probes, heartbeats and retries.
//!
//! Failure policy: OneGate errors are logged and retried with backoff; they
//! never stop supervision. The SuperNode is restarted always, with backoff
//! between restarts that resets after it has been up for a stable period.

pub mod ca;
pub mod gate;
pub mod ipc_listener;
pub mod log;
pub mod probe;
pub mod publisher;
pub mod signals;
pub mod supervisor;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ipc_listener::StatusSocket;
use log::{Level, Log};
use signals::Signals;
use stamen_core::backoff::{Backoff, BackoffConfig, Decision, Multiplier};
use stamen_core::status::{ClientStatus, FlStatus, StatusTracker, TrackerConfig};
use supervisor::{Running, SupernodeParams};

/// Exit code: configuration error (EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;
/// Exit code: discovery gave up (fixed backoff's attempt limit) (EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Exit code: cannot bind the status socket or install signal handlers (EX_OSERR).
pub const EXIT_OSERR: u8 = 71;

/// The settings `stamen run` takes from the context (SPEC §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeSettings {
    /// `VMID`: published as FL_NODE_ID, used for the auto partition-id.
    pub vmid: String,
    /// FL_SUPERLINK_ADDRESS; `None` → discover through OneGate.
    pub superlink_address: Option<String>,
    /// FL_EDGE_BACKOFF=fixed (10 s, 30 attempts) instead of exponential.
    pub backoff_fixed: bool,
    /// FL_EDGE_MAX_BACKOFF in seconds.
    pub max_backoff_s: u64,
    /// FL_MAX_RETRIES (0 = unlimited).
    pub max_retries: u64,
    /// FL_MAX_WAIT_TIME (0 = unlimited).
    pub max_wait_time: u64,
    /// FL_NODE_CONFIG; `None` → auto partition-id.
    pub node_config: Option<String>,
    /// FL_ISOLATION.
    pub isolation: String,
    /// FL_LOG_LEVEL.
    pub log_level: Level,
    /// FL_TLS_ENABLED.
    pub tls: bool,
}

/// Command-line options of the daemon (not from the context).
#[derive(Clone, Debug)]
pub struct Options {
    /// Status socket path.
    pub socket: PathBuf,
    /// Where the SuperLink CA certificate is written.
    pub ca_file: PathBuf,
    /// SuperNode command template (see [`supervisor`]).
    pub template: Vec<String>,
    /// First delay of the discovery and restart backoffs (ms); seed: 10 s.
    pub backoff_base_ms: u64,
    /// Probe period while the SuperLink answers (ms).
    pub probe_interval_ms: u64,
    /// TCP connect timeout of a probe (ms).
    pub probe_timeout_ms: u64,
    /// Uptime after which the restart backoff starts over (ms).
    pub stable_ms: u64,
    /// Grace period between SIGTERM and SIGKILL for the child (ms).
    pub stop_grace_ms: u64,
    /// Re-publish the unchanged status this often (ms).
    pub heartbeat_ms: u64,
    /// Minimum time between two status publishes (coalescing window, ms).
    pub min_publish_interval_ms: u64,
    /// `--log-level` (wins over FL_LOG_LEVEL).
    pub log_level: Option<Level>,
}

/// Class of a OneGate failure, as the loop needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateErrorKind {
    /// Connect/read failure, timeout, dropped connection.
    Unreachable,
    /// 5xx.
    Server,
    /// 401: bad or missing token/VMID (check token.txt; reload with SIGHUP).
    Unauthorized,
    /// 404: no such VM/service (this VM is not in a OneFlow service).
    NotFound,
    /// Body could not be understood (garbage JSON, wrong shape).
    BadResponse,
    /// Any other status.
    Other,
}

/// A OneGate failure. `Display` never contains the token.
#[derive(Clone, Debug)]
pub struct GateError {
    /// The class.
    pub kind: GateErrorKind,
    /// A short description (status, reason).
    pub detail: String,
    /// Retry-After from the server, in ms.
    pub retry_after_ms: Option<u64>,
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// What discovery found about the SuperLink VM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuperlinkInfo {
    /// `host:port` (FL_ENDPOINT, else first NIC IP + default port); `None`
    /// while the SuperLink has not published it.
    pub endpoint: Option<String>,
    /// FL_CA_CERT (base64 PEM) when published.
    pub ca_cert_b64: Option<String>,
}

/// The OneGate operations the daemon uses.
pub trait Gate {
    /// `PUT /vm` with `K=V` pairs.
    fn publish(&mut self, pairs: &[(String, String)]) -> Result<(), GateError>;
    /// The SuperLink VM of this service; `Ok(None)` while the service has no
    /// `superlink` role node yet.
    fn superlink(&mut self) -> Result<Option<SuperlinkInfo>, GateError>;
    /// This VM's `(index, count)` in the `supernode` role; `Ok(None)` when it
    /// is not listed there.
    fn partition(&mut self, vmid: &str) -> Result<Option<(usize, usize)>, GateError>;
}

/// The resolved SuperNode launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The parameters.
    pub params: SupernodeParams,
    /// The final argv.
    pub argv: Vec<String>,
}

/// Why a preparation attempt did not finish.
#[derive(Debug)]
pub enum PrepareError {
    /// OneGate failed.
    Gate(GateError),
    /// OneGate answered but the data is not there yet (e.g. FL_ENDPOINT).
    NotYet(String),
    /// The data is there but invalid (bad CA, bad address).
    Invalid(String),
    /// Writing the CA file failed (e.g. disk full).
    Io(String),
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::Gate(e) => write!(f, "OneGate: {e}"),
            PrepareError::NotYet(s) | PrepareError::Invalid(s) | PrepareError::Io(s) => {
                f.write_str(s)
            }
        }
    }
}

/// Reject addresses that could be mistaken for flags or hold whitespace;
/// they end up on the SuperNode's command line.
pub fn check_address(addr: &str) -> Result<(), String> {
    stamen_core::context::SuperlinkAddr::parse(addr)
        .map(|_| ())
        .map_err(|e| {
            format!("address {addr:?}: {e} (allowed: IPv4:port, [IPv6]:port, dns-name:port)")
        })
}

/// One attempt at resolving everything the SuperNode command needs.
/// With `write_ca == false` (dry run) the CA is checked but not written.
pub fn prepare<G: Gate + ?Sized>(
    s: &EdgeSettings,
    o: &Options,
    gate: &mut G,
    write_ca: bool,
) -> Result<Prepared, PrepareError> {
    let info = if s.superlink_address.is_none() || s.tls {
        match gate.superlink().map_err(PrepareError::Gate)? {
            Some(i) => Some(i),
            None => {
                return Err(PrepareError::NotYet(
                    "the service has no superlink role node yet".into(),
                ))
            }
        }
    } else {
        None
    };
    let superlink = match (&s.superlink_address, &info) {
        (Some(a), _) => a.clone(),
        (
            None,
            Some(SuperlinkInfo {
                endpoint: Some(e), ..
            }),
        ) => {
            check_address(e).map_err(|m| PrepareError::Invalid(format!("discovered {m}")))?;
            e.clone()
        }
        _ => {
            return Err(PrepareError::NotYet(
                "the SuperLink VM has not published FL_ENDPOINT (and has no NIC IP)".into(),
            ))
        }
    };
    let root_certificates = if s.tls {
        let b64 = info
            .as_ref()
            .and_then(|i| i.ca_cert_b64.as_deref())
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| {
                PrepareError::NotYet("the SuperLink VM has not published FL_CA_CERT".into())
            })?;
        let pem = ca::decode_ca(b64).map_err(PrepareError::Invalid)?;
        if write_ca {
            ca::write_atomic(&o.ca_file, pem.as_bytes()).map_err(|e| {
                PrepareError::Io(format!(
                    "cannot write the CA certificate to {}: {e}",
                    o.ca_file.display()
                ))
            })?;
        }
        Some(o.ca_file.display().to_string())
    } else {
        None
    };
    let node_config = match &s.node_config {
        Some(nc) => Some(nc.clone()),
        None => match gate.partition(&s.vmid) {
            Ok(Some((i, n))) => Some(format!("partition-id={i} num-partitions={n}")),
            Ok(None) => None,
            Err(e) if e.kind == GateErrorKind::NotFound => None,
            Err(e) => return Err(PrepareError::Gate(e)),
        },
    };
    let params = SupernodeParams {
        superlink,
        root_certificates,
        max_retries: s.max_retries,
        max_wait_time: s.max_wait_time,
        node_config,
        isolation: s.isolation.clone(),
    };
    let argv = supervisor::build_argv(&o.template, &params).map_err(PrepareError::Invalid)?;
    Ok(Prepared { params, argv })
}

/// Reloads settings and a fresh OneGate client (SIGHUP).
pub type Loader<G> = Box<dyn FnMut() -> Result<(EdgeSettings, G), Vec<String>>>;

/// The daemon state.
pub struct Daemon<G: Gate> {
    settings: EdgeSettings,
    opts: Options,
    gate: G,
    loader: Loader<G>,
    log: Log,
    start: Instant,
    signals: Signals,
    socket: StatusSocket,

    prepared: Option<Prepared>,
    prep_at: Option<u64>,
    prep_backoff: Backoff,

    child: Option<Running>,
    child_argv: Vec<String>,
    restart_at: u64,
    restart_backoff: Backoff,

    link_ok: bool,
    probe_at: u64,
    probe_backoff: Backoff,

    training: bool,
    round: u64,
    static_pending: bool,
    static_at: u64,
    static_backoff: Backoff,
    tracker: StatusTracker,
    /// No publish before this time (OneGate's Retry-After).
    publish_hold_until: u64,
}

/// A per-process jitter seed (time and PID), so a fleet of agents started
/// together does not retry in lockstep.
pub fn jitter_seed(salt: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 32) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Discovery backoff: FL_EDGE_BACKOFF=exponential (base, ×2, capped at
/// FL_EDGE_MAX_BACKOFF, unlimited) or fixed (base interval, 30 attempts);
/// equal jitter.
pub fn discovery_config(s: &EdgeSettings, o: &Options) -> BackoffConfig {
    if s.backoff_fixed {
        BackoffConfig::fixed(o.backoff_base_ms)
            .with_max_attempts(stamen_core::backoff::DEFAULT_FIXED_MAX_ATTEMPTS)
    } else {
        BackoffConfig::exponential(
            o.backoff_base_ms,
            Multiplier::TWO,
            s.max_backoff_s.saturating_mul(1000),
        )
    }
}

/// Restart backoff: always exponential and unlimited (restart always).
pub fn restart_config(s: &EdgeSettings, o: &Options) -> BackoffConfig {
    BackoffConfig::exponential(
        o.backoff_base_ms,
        Multiplier::TWO,
        s.max_backoff_s.saturating_mul(1000),
    )
}

/// Report a failure; the delay to wait, or `None` when the backoff gave up.
pub fn next_delay(b: &mut Backoff, now: u64, retry_after_ms: Option<u64>) -> Option<u64> {
    if let Some(h) = retry_after_ms {
        b.hint_retry_after(h);
    }
    match b.on_failure(now) {
        Decision::Retry { delay_ms, .. } => Some(delay_ms),
        _ => None,
    }
}

#[allow(unsafe_code)]
fn poll_readable(fds: &[i32], timeout_ms: u64) -> Vec<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let t = timeout_ms.min(i32::MAX as u64) as libc::c_int;
    // SAFETY: `pfds` is a valid, exclusively borrowed array of `len` pollfd
    // structs for the duration of the call.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, t) };
    if n <= 0 {
        return vec![false; fds.len()];
    }
    pfds.iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
        .collect()
}

impl<G: Gate> Daemon<G> {
    /// Bind the socket, install signal handlers, and set the initial state
    /// (DISCONNECTED, pending publication). Errors are fatal (exit 71).
    pub fn new(
        settings: EdgeSettings,
        opts: Options,
        gate: G,
        loader: Loader<G>,
        log: Log,
    ) -> Result<Self, String> {
        let signals =
            Signals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let socket = StatusSocket::bind(&opts.socket)
            .map_err(|e| format!("cannot bind status socket {}: {e}", opts.socket.display()))?;
        let mut tracker = StatusTracker::new(
            TrackerConfig {
                min_interval_ms: opts.min_publish_interval_ms,
                heartbeat_ms: opts.heartbeat_ms,
                retry: TrackerConfig::DEFAULT_RETRY,
            },
            jitter_seed(5),
        );
        // Start state: DISCONNECTED until the child runs and the probe succeeds.
        tracker.update(0, FlStatus::new(ClientStatus::Disconnected, 0));
        Ok(Daemon {
            prep_backoff: Backoff::new(discovery_config(&settings, &opts), jitter_seed(1)),
            restart_backoff: Backoff::new(restart_config(&settings, &opts), jitter_seed(2)),
            probe_backoff: Backoff::new(
                BackoffConfig::exponential(
                    1_000,
                    Multiplier::TWO,
                    opts.probe_interval_ms.max(1_000),
                ),
                jitter_seed(3),
            ),
            static_backoff: Backoff::new(
                BackoffConfig::exponential(1_000, Multiplier::TWO, 60_000),
                jitter_seed(4),
            ),
            tracker,
            publish_hold_until: 0,
            settings,
            opts,
            gate,
            loader,
            log,
            start: Instant::now(),
            signals,
            socket,
            prepared: None,
            prep_at: Some(0),
            child: None,
            child_argv: Vec::new(),
            restart_at: 0,
            link_ok: false,
            probe_at: 0,
            training: false,
            round: 0,
            static_pending: true,
            static_at: 0,
        })
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis().min(u64::MAX as u128) as u64
    }

    /// Run until SIGTERM/SIGINT (→ 0) or discovery gives up (→ 69).
    pub fn run(mut self) -> u8 {
        self.log.info(
            "stamen run starting",
            &[
                ("version", &env!("CARGO_PKG_VERSION")),
                ("vmid", &self.settings.vmid),
                ("socket", &self.opts.socket.display()),
            ],
        );
        loop {
            let now = self.now();
            if let Some(code) = self.step(now) {
                self.shutdown();
                return code;
            }
            let now = self.now();
            let timeout = self
                .next_wake()
                .map_or(60_000, |w| w.saturating_sub(now))
                .min(60_000);
            let ready = poll_readable(&[self.signals.fd(), self.socket.fd()], timeout);
            let pending = self.signals.take();
            if pending.terminate {
                self.log
                    .info("termination signal received; shutting down", &[]);
                self.shutdown();
                return 0;
            }
            if pending.reload {
                self.reload();
            }
            if ready.get(1).copied().unwrap_or(false) {
                let mut grams: Vec<Vec<u8>> = Vec::new();
                if let Err(e) = self.socket.drain(|d| grams.push(d.to_vec())) {
                    self.log
                        .warn("status socket receive failed", &[("error", &e)]);
                }
                let now = self.now();
                for g in grams {
                    self.on_datagram(now, &g);
                }
            }
        }
    }

    fn next_wake(&self) -> Option<u64> {
        let mut w: Option<u64> = None;
        let mut consider = |t: Option<u64>| {
            if let Some(t) = t {
                w = Some(w.map_or(t, |x| x.min(t)));
            }
        };
        consider(self.prep_at);
        if self.child.is_none() && self.prepared.is_some() {
            consider(Some(self.restart_at));
        }
        if self.child.is_some() {
            consider(Some(self.probe_at));
        }
        let hold = self.publish_hold_until;
        if self.static_pending {
            consider(Some(self.static_at.max(hold)));
        }
        consider(self.tracker.poll_at().map(|t| t.max(hold)));
        w
    }

    /// Run everything that is due at `now`. `Some(code)` means exit.
    fn step(&mut self, now: u64) -> Option<u8> {
        self.reap(now);
        // Publish what is due before the slow work (discovery, probes), so
        // the start state (DISCONNECTED) and a child's exit reach OneGate
        // without waiting for them.
        self.update_status(now);
        self.publish_if_due(now);
        let now = self.now();
        if let Some(code) = self.prepare_if_due(now) {
            return Some(code);
        }
        self.start_if_due(now);
        self.probe_if_due(now);
        self.update_status(now);
        self.publish_if_due(now);
        None
    }

    fn reap(&mut self, now: u64) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let st = match child.try_wait() {
            Ok(Some(st)) => st,
            Ok(None) => return,
            Err(e) => {
                self.log
                    .warn("cannot query the SuperNode's state", &[("error", &e)]);
                return;
            }
        };
        let up_ms = child.started.elapsed().as_millis() as u64;
        let pid = child.pid();
        self.child = None;
        self.link_ok = false;
        self.training = false;
        if up_ms >= self.opts.stable_ms {
            self.restart_backoff.on_success(now);
        }
        let delay =
            next_delay(&mut self.restart_backoff, now, None).unwrap_or(self.opts.backoff_base_ms);
        self.restart_at = now.saturating_add(delay);
        self.log.warn(
            "SuperNode exited; restarting after backoff",
            &[
                ("pid", &pid),
                ("exit", &supervisor::describe_exit(st)),
                ("uptime_ms", &up_ms),
                ("restart", &self.restart_backoff.failures()),
                ("next_delay_ms", &delay),
            ],
        );
    }

    fn prepare_if_due(&mut self, now: u64) -> Option<u8> {
        match self.prep_at {
            Some(t) if t <= now => {}
            _ => return None,
        }
        let attempt = self.prep_backoff.failures() + 1;
        self.log
            .debug("resolving SuperLink", &[("attempt", &attempt)]);
        match prepare(&self.settings, &self.opts, &mut self.gate, true) {
            Ok(p) => {
                self.prep_backoff.on_success(now);
                self.prep_at = None;
                self.log.info(
                    "SuperLink resolved",
                    &[
                        ("address", &p.params.superlink),
                        ("attempt", &attempt),
                        ("tls", &self.settings.tls),
                        (
                            "node_config",
                            &p.params.node_config.as_deref().unwrap_or(""),
                        ),
                    ],
                );
                if self.child.is_some() && self.child_argv != p.argv {
                    self.log
                        .info("SuperNode command changed; restarting it", &[]);
                    self.stop_child();
                    self.restart_backoff.on_success(now);
                    self.restart_at = now;
                }
                self.prepared = Some(p);
                None
            }
            Err(e) => match next_delay(
                &mut self.prep_backoff,
                now,
                match &e {
                    PrepareError::Gate(g) => g.retry_after_ms,
                    _ => None,
                },
            ) {
                Some(delay) => {
                    self.prep_at = Some(now.saturating_add(delay));
                    let level = match &e {
                        PrepareError::Gate(g) if g.kind == GateErrorKind::Unauthorized => {
                            Level::Error
                        }
                        PrepareError::Invalid(_) | PrepareError::Io(_) => Level::Error,
                        _ => Level::Warning,
                    };
                    self.log.event(
                        level,
                        "SuperLink not resolved yet; retrying",
                        &[
                            ("attempt", &attempt),
                            ("error", &e),
                            ("next_delay_ms", &delay),
                        ],
                    );
                    None
                }
                None => {
                    self.log.error(
                        "SuperLink discovery gave up (FL_EDGE_BACKOFF=fixed attempt limit)",
                        &[("attempts", &attempt), ("error", &e)],
                    );
                    Some(EXIT_UNAVAILABLE)
                }
            },
        }
    }

    fn start_if_due(&mut self, now: u64) {
        if self.child.is_some() || now < self.restart_at {
            return;
        }
        let Some(p) = self.prepared.as_ref() else {
            return;
        };
        let argv = p.argv.clone();
        match Running::spawn(&argv, &self.opts.socket) {
            Ok(r) => {
                self.log.info(
                    "SuperNode started",
                    &[("pid", &r.pid()), ("argv", &shell_words::join(&argv))],
                );
                self.child = Some(r);
                self.child_argv = argv;
                self.probe_at = now;
                self.probe_backoff.on_success(now);
            }
            Err(e) => {
                let delay = next_delay(&mut self.restart_backoff, now, None)
                    .unwrap_or(self.opts.backoff_base_ms);
                self.restart_at = now.saturating_add(delay);
                self.log.error(
                    "cannot start the SuperNode",
                    &[
                        ("program", &argv.first().map(String::as_str).unwrap_or("")),
                        ("error", &e),
                        ("next_delay_ms", &delay),
                    ],
                );
            }
        }
    }

    fn probe_if_due(&mut self, now: u64) {
        if self.child.is_none() || now < self.probe_at {
            return;
        }
        let Some(addr) = self.prepared.as_ref().map(|p| p.params.superlink.clone()) else {
            return;
        };
        let res = probe::tcp_probe(&addr, Duration::from_millis(self.opts.probe_timeout_ms));
        let now = self.now();
        match res {
            Ok(()) => {
                if !self.link_ok {
                    self.log.info("SuperLink reachable", &[("address", &addr)]);
                }
                self.link_ok = true;
                self.probe_backoff.on_success(now);
                self.probe_at = now.saturating_add(self.opts.probe_interval_ms);
            }
            Err(e) => {
                let delay = next_delay(&mut self.probe_backoff, now, None)
                    .unwrap_or(self.opts.probe_interval_ms);
                let level = if self.link_ok || self.probe_backoff.failures() == 1 {
                    Level::Warning
                } else {
                    Level::Debug
                };
                self.log.event(
                    level,
                    "SuperLink unreachable",
                    &[("address", &addr), ("error", &e), ("next_delay_ms", &delay)],
                );
                self.link_ok = false;
                self.training = false;
                self.probe_at = now.saturating_add(delay);
            }
        }
    }

    fn desired(&self) -> FlStatus {
        let status = if self.child.is_some() && self.link_ok {
            if self.training {
                ClientStatus::Training
            } else {
                ClientStatus::Idle
            }
        } else {
            ClientStatus::Disconnected
        };
        FlStatus::new(status, self.round)
    }

    fn update_status(&mut self, now: u64) {
        let d = self.desired();
        if Some(d) != self.tracker.newest() {
            self.log.info(
                "status changed",
                &[("status", &d.status.code()), ("round", &d.round)],
            );
        }
        self.tracker.update(now, d);
    }

    fn publish_if_due(&mut self, now: u64) {
        if now < self.publish_hold_until {
            return;
        }
        let with_static = self.static_pending && self.static_at <= now;
        // A publish handed out by the tracker is always reported back below.
        let status = self.tracker.poll(now).map(|p| p.status);
        if !with_static && status.is_none() {
            return;
        }
        let mut pairs = Vec::new();
        if with_static {
            pairs.extend(publisher::start_pairs(&self.settings.vmid));
        }
        if let Some(s) = status {
            pairs.extend(publisher::status_pairs(&s));
        }
        let res = self.gate.publish(&pairs);
        let now = self.now();
        match res {
            Ok(()) => {
                if with_static {
                    self.static_pending = false;
                    self.static_backoff.on_success(now);
                }
                if let Some(s) = status {
                    self.tracker.published(now, &s);
                    self.log.debug(
                        "status published",
                        &[("status", &s.status.code()), ("round", &s.round)],
                    );
                }
            }
            Err(e) => {
                let mut delay = 0;
                if with_static {
                    delay = next_delay(&mut self.static_backoff, now, e.retry_after_ms)
                        .unwrap_or(60_000);
                    self.static_at = now.saturating_add(delay);
                }
                if status.is_some() {
                    self.tracker.publish_failed(now);
                    delay = self.tracker.poll_at().map_or(0, |t| t.saturating_sub(now));
                    if let Some(ra) = e.retry_after_ms.filter(|&ra| ra > delay) {
                        // The tracker has no hint input; hold publishing instead.
                        self.publish_hold_until = now.saturating_add(ra);
                        delay = ra;
                    }
                    if with_static {
                        // Keep both on one schedule so they travel together.
                        self.static_at = now.saturating_add(delay);
                    }
                }
                let level = if e.kind == GateErrorKind::Unauthorized {
                    Level::Error
                } else {
                    Level::Warning
                };
                self.log.event(
                    level,
                    "OneGate publish failed; will retry",
                    &[("error", &e), ("next_delay_ms", &delay)],
                );
            }
        }
    }

    fn on_datagram(&mut self, now: u64, d: &[u8]) {
        let report = match stamen_core::ipc::decode(d) {
            Ok(r) => r,
            Err(e) => {
                self.log.warn(
                    "ignoring malformed status datagram",
                    &[("error", &e), ("offset", &e.offset()), ("bytes", &d.len())],
                );
                return;
            }
        };
        self.log.debug(
            "status report",
            &[
                ("status", &report.status.code()),
                ("round", &report.round.unwrap_or(0)),
            ],
        );
        if let Some(r) = report.round {
            self.round = r;
        }
        if self.child.is_none() {
            self.log.debug(
                "report while the SuperNode is not running; status stays 3",
                &[],
            );
        } else {
            match report.status {
                ClientStatus::Training => {
                    self.training = true;
                    self.link_ok = true;
                }
                ClientStatus::Idle => {
                    self.training = false;
                    self.link_ok = true;
                }
                _ => {
                    // An app saw the link go down: believe it and re-probe.
                    self.training = false;
                    self.link_ok = false;
                    self.probe_at = now;
                }
            }
        }
        self.update_status(now);
        // Publish right away when due (coalescing keeps bursts to one PUT).
        let now2 = self.now();
        self.publish_if_due(now2.max(now));
    }

    fn reload(&mut self) {
        self.log.info("SIGHUP: reloading the context", &[]);
        match (self.loader)() {
            Ok((s, g)) => {
                if let Some(l) = self.opts.log_level {
                    self.log.set_level(l);
                } else {
                    self.log.set_level(s.log_level);
                }
                if s.vmid != self.settings.vmid {
                    self.static_pending = true;
                    self.static_at = 0;
                }
                self.prep_backoff = Backoff::new(discovery_config(&s, &self.opts), jitter_seed(6));
                self.restart_backoff = Backoff::new(restart_config(&s, &self.opts), jitter_seed(7));
                self.settings = s;
                self.gate = g;
                self.prep_at = Some(0);
                self.log
                    .info("context reloaded; re-resolving the SuperLink", &[]);
            }
            Err(errors) => {
                for e in &errors {
                    self.log.error("context error", &[("error", e)]);
                }
                self.log.error(
                    "reload rejected; keeping the previous configuration",
                    &[("errors", &errors.len())],
                );
            }
        }
    }

    fn stop_child(&mut self) {
        if let Some(c) = self.child.take() {
            let pid = c.pid();
            match c.stop(Duration::from_millis(self.opts.stop_grace_ms)) {
                Ok((st, killed)) => self.log.info(
                    "SuperNode stopped",
                    &[
                        ("pid", &pid),
                        ("exit", &supervisor::describe_exit(st)),
                        ("sigkill", &killed),
                    ],
                ),
                Err(e) => self
                    .log
                    .error("cannot stop the SuperNode", &[("pid", &pid), ("error", &e)]),
            }
            self.link_ok = false;
            self.training = false;
        }
    }

    fn shutdown(&mut self) {
        let last = FlStatus::new(ClientStatus::Disconnected, self.round);
        match self.gate.publish(&publisher::status_pairs(&last)) {
            Ok(()) => self.log.info("published DISCONNECTED", &[]),
            Err(e) => self
                .log
                .warn("could not publish DISCONNECTED", &[("error", &e)]),
        }
        self.stop_child();
        self.log.info("stopped", &[]);
        // The socket file is removed when `self.socket` drops.
    }
}
