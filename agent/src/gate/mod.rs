//! `stamen gate`: a local OneGate + OneFlow emulator.
//!
//! It serves the OneGate API (the routes, checks and documents of OpenNebula's
//! `onegate-server.rb`) for one OneFlow service described in a JSON file,
//! makes real tokens (see [`token`]), writes each VM's `context.sh` and
//! `token.txt`, and runs OneFlow's autoscaler loop over what the VMs publish,
//! creating and removing VMs (and running hooks) as roles scale. A whole
//! FL-aware autoscaling scenario thus runs on one laptop.
//!
//! # Service file
//!
//! JSON; unknown keys are errors. `examples/services/flower.json` is a full
//! example.
//!
//! ```json
//! {
//!   "name": "flower",                 // SERVICE.name
//!   "id": 7,                          // SERVICE.id (default 0)
//!   "token_password": "…",            // owner's TOKEN_PASSWORD, ≥ 32 bytes
//!                                     // (default: 64 random hex chars per run)
//!   "onegate_endpoint": "http://…",   // ONEGATE_ENDPOINT in contexts
//!                                     // (default: http://<listen address>)
//!   "owner": {"uid": 2, "gid": 1, "uname": "edgeops", "gname": "users"},
//!   "host": "kvm-node-1",             // history HOSTNAME (default "localhost")
//!   "first_vm_id": 0,                 // first generated VM ID
//!   "networks": [{
//!     "id": 0, "name": "edge-private",
//!     "ip_start": "10.10.0.40", "size": 16,           // one IPv4 range
//!     "template": {"NETWORK_ADDRESS": "10.10.0.0", "NETWORK_MASK": "255.255.255.0",
//!                  "GATEWAY": "10.10.0.1", "DNS": "10.10.0.1"},
//!     "nic": {"MODEL": "virtio"}      // extra attributes of every NIC here
//!   }],
//!   "vrouters": [{"id": 3, "name": "vr", "vms": [42],
//!                 "template": {"NIC": [{"NETWORK": "edge-private", "NETWORK_ID": "0", "NIC_ID": "0"}]}}],
//!   "roles": [{
//!     "name": "supernode",
//!     "cardinality": 2, "min_vms": 1, "max_vms": 4, "cooldown": 60,
//!     "elasticity_policies": [ …OneFlow format… ],
//!     "scheduled_policies":  [ …OneFlow format… ],
//!     "vm_template": {
//!       "context": {"FL_ISOLATION": "subprocess"},   // role's context variables
//!       "user_template": {"LOGO": "…"},              // initial USER_TEMPLATE
//!       "template": {"CPU": "1", "MEMORY": "1024"},  // other TEMPLATE attributes
//!       "nics": ["edge-private"]                     // one NIC per network name
//!     },
//!     "vms": [{                        // optional VMs pinned at start-up
//!       "id": 42, "stime": 1718000000,
//!       "template": {…},               // overrides generated TEMPLATE keys (CONTEXT, NIC, …)
//!       "user_template": {…}, "monitoring": {…}
//!     }]
//!   }]
//! }
//! ```
//!
//! Template values follow OneGate's JSON: strings for scalars (numbers and
//! booleans are converted: `true` → `"YES"`), objects for nested elements,
//! arrays for repeated ones. Each new VM gets ID, `NAME`
//! `<role>_<index>_(service_<id>)`, `STIME` = now, `STATE`/`LCM_STATE` 3/3,
//! `USER_TEMPLATE` = the role's plus `SERVICE_ID` and `ROLE_NAME`, `TEMPLATE`
//! = the role's plus `CREATED_BY`, `VMID`, NICs leased in order from their
//! networks (MAC `02:00:` + the IPv4 bytes, as oned does) and `CONTEXT`
//! (`DISK_ID`, `ETHi_*` from the NIC and network, `NETWORK`, `ONEGATE_ENDPOINT`,
//! `TARGET`, `TOKEN=YES`, `VMID`, then the role's context variables).
//!
//! # OneGate behaviour
//!
//! As `onegate-server.rb` (OpenNebula 6.x/7.x): unknown routes → 400
//! `OneGate server doesn't support this feature`; missing/bad
//! `X-ONEGATE-TOKEN` or `X-ONEGATE-VMID`, unknown VM, or a token not made
//! for that VM's `ID:STIME` → 401 `Not authorized`; `PUT /vm` (and
//! `/vms/:id`) with `type=1` merges attributes into `USER_TEMPLATE`, any
//! other type erases one (`attribute not found` → 500); `SERVICE_ID`,
//! `ROLE_NAME`, `SCHED_REQUIREMENTS` → 403; other VMs only within the
//! service (400 otherwise) or the virtual router; actions (`reboot` → 403;
//! `terminate` puts the VM in DONE, runs the remove hook, and the next
//! autoscaler pass drops it from its role, which shrinks by one);
//! `PUT /service/role/:role` checks `min_vms`/`max_vms` like OneFlow's
//! `Role#update` (400 `Error performing action on service N role R`), then
//! creates or removes VMs (newest first) and starts the role's cooldown.
//! Bodies are compact JSON with `Content-Type: application/json;charset=utf-8`
//! (errors are plain text with the same header); request bodies over 64 KiB
//! get 413.
//!
//! # Autoscaler
//!
//! Every `period` the gate runs OneFlow's pass ([`autoscale::tick`]) with
//! [`oneflow::OneFlowEngine`] (stamen-core's policy engine and expression
//! evaluator): skipped while the service is in COOLDOWN, each role's
//! decision is logged with OneFlow's traces (`FL_CLIENT_STATUS[2.0] > 1.5`),
//! applied, and the cooldown started. Hooks run for every VM created or
//! removed, before the HTTP answer that caused it; they must return quickly.
//!
//! # Files
//!
//! With a state dir, each VM has `DIR/vm-<id>/context.sh` (oned's format:
//! header comment, sorted `KEY='value'` lines, `'` → `'\''`) and
//! `DIR/vm-<id>/token.txt` (one base64 line), both mode 0600. Removed VMs
//! keep their directory.
//!
//! # Library use
//!
//! ```no_run
//! use stamen_agent::gate::{Gate, GateConfig, spec::ServiceSpec};
//! let spec = ServiceSpec::load("examples/services/flower.json".as_ref()).unwrap();
//! let gate = Gate::start(GateConfig::new(spec)).unwrap();
//! println!("OneGate at {}", gate.endpoint());
//! let snap = gate.snapshot();
//! gate.stop();
//! # let _ = snap;
//! ```

pub mod autoscale;
mod expr_eval;
pub mod model;
pub mod oneflow;
pub mod server;
pub mod spec;
pub mod template;
pub mod token;

use autoscale::{Autoscaler, TickMode, TickReport};
use model::{State, VmEvent};
use spec::ServiceSpec;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A hook run when a VM is added or removed.
pub type Hook = Arc<dyn Fn(&VmEvent) + Send + Sync>;
/// A log sink (one line per call).
pub type LogFn = Arc<dyn Fn(&str) + Send + Sync>;
/// A clock: epoch seconds.
pub type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Everything `Gate::start` needs.
pub struct GateConfig {
    /// The service to emulate.
    pub service: ServiceSpec,
    /// Address to bind (default `127.0.0.1:5030`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
    /// Where VM directories (`vm-<id>/context.sh`, `token.txt`) go.
    pub state_dir: Option<PathBuf>,
    /// Autoscaler period; `None` runs no background loop (call [`GateHandle::tick`]).
    pub period: Option<Duration>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Run after a VM is created.
    pub on_vm_add: Option<Hook>,
    /// Run after a VM is removed.
    pub on_vm_remove: Option<Hook>,
    /// Log sink (default: stderr with a `stamen gate:` prefix).
    pub log: Option<LogFn>,
    /// Clock (default: the system clock).
    pub clock: Option<ClockFn>,
    /// Policy engine (default: [`oneflow::OneFlowEngine`]).
    pub autoscaler: Option<Box<dyn Autoscaler>>,
}

impl GateConfig {
    /// Defaults for a service: loopback port 5030, no state dir, no autoscaler loop.
    pub fn new(service: ServiceSpec) -> GateConfig {
        GateConfig {
            service,
            listen: SocketAddr::from(([127, 0, 0, 1], 5030)),
            allow_remote: false,
            state_dir: None,
            period: None,
            workers: 4,
            on_vm_add: None,
            on_vm_remove: None,
            log: None,
            clock: None,
            autoscaler: None,
        }
    }
}

/// State shared by the HTTP workers, the autoscaler and the handle.
pub struct Shared {
    /// The emulated cloud.
    pub state: Mutex<State>,
    /// Set to stop every thread.
    pub stop: AtomicBool,
    /// Epoch seconds.
    pub clock: ClockFn,
    log: LogFn,
    on_add: Option<Hook>,
    on_remove: Option<Hook>,
    engine: Mutex<Box<dyn Autoscaler>>,
}

impl Shared {
    /// Writes one log line.
    pub fn log(&self, line: &str) {
        (self.log)(line)
    }

    /// Runs the add/remove hooks for these events (outside any lock).
    pub fn run_hooks(&self, events: Vec<VmEvent>) {
        for e in events {
            self.log(&format!(
                "VM {} ({}) {}",
                e.id,
                e.role,
                if e.added { "added" } else { "removed" }
            ));
            let hook = if e.added {
                &self.on_add
            } else {
                &self.on_remove
            };
            if let Some(h) = hook {
                h(&e);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn tick(&self, now: u64, mode: TickMode) -> Vec<TickReport> {
        let mut engine = match self.engine.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (reports, events) = {
            let mut st = self.lock();
            autoscale::tick(&mut st, engine.as_mut(), now, mode, &|l| self.log(l))
        };
        drop(engine);
        self.run_hooks(events);
        reports
    }
}

/// Why the gate did not start.
#[derive(Debug)]
pub enum GateError {
    /// `listen` is not a loopback address and `allow_remote` is off.
    RemoteRefused(SocketAddr),
    /// Binding the socket failed.
    Bind(SocketAddr, String),
    /// The service could not be set up (bad password, full network, file errors).
    Setup(String),
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateError::RemoteRefused(a) => write!(
                f,
                "refusing to listen on non-loopback address {a}: the emulator has no TLS and weak \
                 access control; pass --allow-remote to do it anyway"
            ),
            GateError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            GateError::Setup(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for GateError {}

/// The emulator entry point.
pub struct Gate;

/// A running gate; stopping or dropping it stops its threads.
pub struct GateHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    ticker_stop: Option<mpsc::Sender<()>>,
}

/// A copy of the emulated state, for tests and embedding programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// OneFlow service state (2 RUNNING, 10 COOLDOWN).
    pub service_state: u32,
    /// Roles in order.
    pub roles: Vec<RoleSnapshot>,
    /// VMs by ID.
    pub vms: BTreeMap<u32, VmSnapshot>,
}

/// One role in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSnapshot {
    /// Name.
    pub name: String,
    /// Cardinality.
    pub cardinality: u32,
    /// OneFlow role state.
    pub state: u32,
    /// Member VM IDs.
    pub nodes: Vec<u32>,
    /// The role's `cooldown` (seconds).
    pub cooldown: u64,
}

/// One VM in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSnapshot {
    /// Role name.
    pub role: String,
    /// `NAME`.
    pub name: String,
    /// `STATE`.
    pub state: u32,
    /// `LCM_STATE`.
    pub lcm_state: u32,
    /// String attributes of `USER_TEMPLATE`.
    pub user_template: BTreeMap<String, String>,
}

fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Gate {
    /// Binds, creates the initial VMs (running the add hook for each), starts
    /// the HTTP workers and, with a period, the autoscaler loop.
    pub fn start(cfg: GateConfig) -> Result<GateHandle, GateError> {
        if !cfg.listen.ip().is_loopback() && !cfg.allow_remote {
            return Err(GateError::RemoteRefused(cfg.listen));
        }
        let server = tiny_http::Server::http(cfg.listen)
            .map_err(|e| GateError::Bind(cfg.listen, e.to_string()))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| GateError::Bind(cfg.listen, "not an IP socket".into()))?;
        let password = match &cfg.service.token_password {
            Some(p) => p.0.clone(),
            None => token::random_password().map_err(GateError::Setup)?,
        };
        let key = token::TokenKey::from_password(&password)
            .map_err(|e| GateError::Setup(e.to_string()))?;
        let endpoint = cfg
            .service
            .onegate_endpoint
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let clock = cfg.clock.clone().unwrap_or_else(|| Arc::new(system_clock));
        let log: LogFn = cfg
            .log
            .clone()
            .unwrap_or_else(|| Arc::new(|l: &str| eprintln!("stamen gate: {l}")));
        if let Some(d) = &cfg.state_dir {
            std::fs::create_dir_all(d)
                .map_err(|e| GateError::Setup(format!("{}: cannot create: {e}", d.display())))?;
        }
        let (state, events) =
            State::new(cfg.service, key, endpoint, cfg.state_dir.clone(), clock())
                .map_err(GateError::Setup)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            stop: AtomicBool::new(false),
            clock,
            log,
            on_add: cfg.on_vm_add,
            on_remove: cfg.on_vm_remove,
            engine: Mutex::new(
                cfg.autoscaler
                    .unwrap_or_else(|| Box::new(oneflow::OneFlowEngine::new())),
            ),
        });
        shared.log(&format!("OneGate listening on http://{addr}"));
        shared.run_hooks(events);
        let server = Arc::new(server);
        let mut threads = Vec::new();
        for _ in 0..cfg.workers.max(1) {
            let (s, sh) = (server.clone(), shared.clone());
            threads.push(std::thread::spawn(move || server::serve(s, sh)));
        }
        let mut ticker_stop = None;
        if let Some(period) = cfg.period {
            let (tx, rx) = mpsc::channel::<()>();
            ticker_stop = Some(tx);
            let sh = shared.clone();
            threads.push(std::thread::spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(period) {
                    let now = (sh.clock)();
                    sh.tick(now, TickMode::default());
                }
            }));
        }
        Ok(GateHandle {
            addr,
            shared,
            server,
            threads,
            ticker_stop,
        })
    }
}

impl GateHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `ONEGATE_ENDPOINT` given to VMs.
    pub fn endpoint(&self) -> String {
        self.shared.lock().endpoint().to_string()
    }

    /// A VM's directory (`context.sh`, `token.txt`), when a state dir is set.
    pub fn vm_dir(&self, id: u32) -> Option<PathBuf> {
        self.shared.lock().vm_dir(id)
    }

    /// The OneGate token of a VM (a secret: for handing to the VM's agent only).
    pub fn token(&self, id: u32) -> Option<String> {
        let st = self.shared.lock();
        st.vms.get(&id).map(|vm| st.token_for(vm))
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> Snapshot {
        let st = self.shared.lock();
        Snapshot {
            service_state: st.service_state(),
            roles: st
                .roles
                .iter()
                .map(|r| RoleSnapshot {
                    name: r.spec.name.clone(),
                    cardinality: r.cardinality,
                    state: r.state,
                    nodes: r.nodes.clone(),
                    cooldown: r.cooldown,
                })
                .collect(),
            vms: st
                .vms
                .values()
                .map(|v| {
                    (
                        v.id,
                        VmSnapshot {
                            role: v.role.clone(),
                            name: v.name.clone(),
                            state: v.state,
                            lcm_state: v.lcm_state,
                            user_template: v
                                .user_template
                                .iter()
                                .filter_map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_string())))
                                .collect(),
                        },
                    )
                })
                .collect(),
        }
    }

    /// Runs one autoscaler pass now (or at `now`, epoch seconds).
    pub fn tick(&self, now: Option<u64>) -> Vec<TickReport> {
        self.tick_with(now, TickMode::default())
    }

    /// Runs one autoscaler pass with explicit [`TickMode`].
    pub fn tick_with(&self, now: Option<u64>, mode: TickMode) -> Vec<TickReport> {
        let now = now.unwrap_or_else(|| (self.shared.clock)());
        self.shared.tick(now, mode)
    }

    /// Sets a role's cardinality like `PUT /service/role/:role` does (bounds,
    /// VM creation/removal, hooks, cooldown).
    pub fn scale(&self, role: &str, cardinality: u32) -> Result<(), String> {
        let now = (self.shared.clock)();
        let events = {
            let mut st = self.shared.lock();
            let ri = st
                .role_index(role)
                .ok_or_else(|| format!("Role '{role}' not found"))?;
            st.expire_cooldowns(now);
            st.check_can_scale()?;
            let cd = st.roles[ri].cooldown;
            st.scale(ri, cardinality, cd, now)?
        };
        self.shared.run_hooks(events);
        Ok(())
    }

    /// Terminates a VM (the role shrinks by one); runs the remove hook.
    pub fn remove_vm(&self, id: u32) -> bool {
        let ev = self.shared.lock().remove_vm(id);
        let found = ev.is_some();
        self.shared.run_hooks(ev.into_iter().collect());
        found
    }

    /// Stops the HTTP workers and the autoscaler and waits for them (each
    /// polls at most every 100 ms, so this is bounded). Dropping the handle
    /// does the same.
    pub fn stop(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        drop(self.ticker_stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for GateHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
