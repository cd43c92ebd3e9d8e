//! Shared helpers of the `run_*` integration tests: a loopback OneGate
//! stand-in with fault injection, a SuperLink stand-in (a TCP listener), and
//! a handle on a `stamen run` process. Everything binds 127.0.0.1, every
//! wait is bounded, every process is stopped by PID.
//!
//! The OneGate stand-in is a raw TCP server rather than an HTTP library
//! because the faults under test live below HTTP (dropped connections,
//! half-sent garbage, answers slower than the client's timeout).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const TOKEN: &str = "dG9rZW4tc2VjcmV0LTQyLWRvLW5vdC1sZWFr";
pub const VMID: &str = "42";

/// A fault applied to every request while set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Answer with this status and a plain-text body.
    Status(u16),
    /// Sleep this long before answering normally.
    Slow(Duration),
    /// Close the connection without answering.
    Drop,
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Answer this status with `Retry-After: <secs>`.
    RetryAfter(u16, u64),
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    /// For `PUT /vm` type=1: the `K=V` pairs.
    pub fn pairs(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for part in self.body.split('&') {
            if let Some(d) = part.strip_prefix("data=") {
                for line in form_decode(d).split('\n') {
                    if let Some((k, v)) = line.split_once('=') {
                        out.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
        out
    }
}

pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[derive(Default)]
struct State {
    fault: Option<Fault>,
    /// Fault only for these methods (empty = all).
    fault_methods: Vec<String>,
    service: Value,
    vms: BTreeMap<String, Value>,
    published: BTreeMap<String, String>,
    log: Vec<Recorded>,
}

pub struct OneGate {
    pub addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl OneGate {
    pub fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            service: json!({"SERVICE": {"name": "fl", "id": "7", "state": 2, "roles": []}}),
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let _ = handle(c, &st);
                }
            }
        });
        OneGate {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_fault(&self, f: Fault) {
        let mut s = self.state.lock().unwrap();
        s.fault = Some(f);
        s.fault_methods.clear();
    }

    pub fn set_fault_for(&self, method: &str, f: Fault) {
        let mut s = self.state.lock().unwrap();
        s.fault = Some(f);
        s.fault_methods = vec![method.to_string()];
    }

    /// A service with a `superlink` role holding VM `sl_id` and a `supernode`
    /// role holding `supernodes`.
    pub fn set_service(&self, sl_id: &str, supernodes: &[&str]) {
        let nodes: Vec<Value> = supernodes
            .iter()
            .map(|id| json!({"deploy_id": id.parse::<u64>().unwrap(), "vm_info": {"VM": {"ID": id}}}))
            .collect();
        self.state.lock().unwrap().service = json!({"SERVICE": {"name": "fl", "id": "7", "state": 2, "roles": [
            {"name": "superlink", "cardinality": "1", "state": "2",
             "nodes": [{"deploy_id": sl_id.parse::<u64>().unwrap(), "vm_info": {"VM": {"ID": sl_id}}}]},
            {"name": "supernode", "cardinality": supernodes.len().to_string(), "state": "2", "nodes": nodes}
        ]}});
    }

    /// The SuperLink VM document with these USER_TEMPLATE attributes.
    pub fn set_vm(&self, id: &str, user_template: &[(&str, &str)]) {
        let ut: serde_json::Map<String, Value> = user_template
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        self.state.lock().unwrap().vms.insert(
            id.to_string(),
            json!({"VM": {"ID": id, "NAME": "superlink", "USER_TEMPLATE": ut, "TEMPLATE": {}}}),
        );
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// Attributes published by `PUT /vm` so far (merged, newest wins).
    pub fn published(&self) -> BTreeMap<String, String> {
        self.state.lock().unwrap().published.clone()
    }

    pub fn puts(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .collect()
    }

    /// Highest number of requests that started within any 1-second window.
    pub fn max_per_second(&self) -> usize {
        self.max_per_second_where(|_| true)
    }

    /// [`OneGate::max_per_second`] counting only requests matching `f`.
    pub fn max_per_second_where(&self, f: impl Fn(&Recorded) -> bool) -> usize {
        let times: Vec<Instant> = self
            .requests()
            .iter()
            .filter(|r| f(r))
            .map(|r| r.at)
            .collect();
        let mut best = 0;
        for (i, t) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            best = best.max(n);
        }
        best
    }
}

impl Drop for OneGate {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(mut c: TcpStream, st: &Arc<Mutex<State>>) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(c.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    if method.is_empty() {
        return Ok(());
    }
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                len = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).to_string();
    let rec = Recorded {
        method: method.clone(),
        path: path.clone(),
        headers,
        body,
        at: Instant::now(),
    };
    let fault = {
        let mut s = st.lock().unwrap();
        s.log.push(rec.clone());
        let applies = s.fault_methods.is_empty() || s.fault_methods.contains(&method);
        if applies {
            s.fault.unwrap_or(Fault::None)
        } else {
            Fault::None
        }
    };
    match fault {
        Fault::Drop => {
            let _ = c.shutdown(Shutdown::Both);
            return Ok(());
        }
        Fault::Status(code) => return respond(&mut c, code, "text/plain", "injected failure"),
        Fault::RetryAfter(code, secs) => {
            let head = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nRetry-After: {secs}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
            );
            c.write_all(head.as_bytes())?;
            let _ = c.shutdown(Shutdown::Write);
            return Ok(());
        }
        Fault::Garbage => {
            return respond(
                &mut c,
                200,
                "application/json;charset=utf-8",
                "{\"SERVICE\": [garbage",
            )
        }
        Fault::Slow(d) => std::thread::sleep(d),
        Fault::None => {}
    }
    let tok_ok = rec
        .headers
        .iter()
        .any(|(k, v)| k == "x-onegate-token" && v == TOKEN)
        && rec
            .headers
            .iter()
            .any(|(k, v)| k == "x-onegate-vmid" && v == VMID);
    if !tok_ok {
        return respond(&mut c, 401, "text/plain", "Not authorized");
    }
    let mut s = st.lock().unwrap();
    match (method.as_str(), path.as_str()) {
        ("PUT", "/vm") => {
            for (k, v) in rec.pairs() {
                s.published.insert(k, v);
            }
            drop(s);
            respond(&mut c, 200, "text/plain", "")
        }
        ("GET", "/service") => {
            let b = s.service.to_string();
            drop(s);
            respond(&mut c, 200, "application/json;charset=utf-8", &b)
        }
        ("GET", p) if p.starts_with("/vms/") => {
            let id = &p[5..];
            match s.vms.get(id).map(Value::to_string) {
                Some(b) => {
                    drop(s);
                    respond(&mut c, 200, "application/json;charset=utf-8", &b)
                }
                None => {
                    drop(s);
                    respond(&mut c, 404, "text/plain", "VM not found")
                }
            }
        }
        _ => {
            drop(s);
            respond(&mut c, 400, "text/plain", "unknown route")
        }
    }
}

fn respond(c: &mut TcpStream, code: u16, ctype: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes())?;
    c.write_all(body.as_bytes())?;
    c.flush()?;
    let _ = c.shutdown(Shutdown::Write);
    Ok(())
}

/// A SuperLink stand-in: accepts and drops connections.
pub struct SuperLink {
    pub addr: String,
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SuperLink {
    pub fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (sp, ac) = (Arc::clone(&stop), Arc::clone(&accepted));
        let thread = std::thread::spawn(move || {
            for c in l.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if c.is_ok() {
                    ac.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        SuperLink {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SuperLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A private temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "stamen-run-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Write a context.sh with VMID, ONEGATE_ENDPOINT, ONEGATE_TOKEN and `extra`.
pub fn write_context(dir: &TempDir, endpoint: &str, extra: &[(&str, &str)]) -> PathBuf {
    let mut kv: Vec<(String, String)> = vec![
        ("ONEGATE_ENDPOINT".into(), endpoint.into()),
        ("ONEGATE_TOKEN".into(), TOKEN.into()),
        ("VMID".into(), VMID.into()),
    ];
    for (k, v) in extra {
        kv.push((k.to_string(), v.to_string()));
    }
    kv.sort();
    let mut s = String::from("# Context variables generated by OpenNebula\n");
    for (k, v) in kv {
        s.push_str(&format!("{k}='{}'\n", v.replace('\'', "'\\''")));
    }
    let p = dir.path("context.sh");
    fs::write(&p, s).unwrap();
    p
}

/// A stand-in SuperNode: records its PID (one line per start) and argv,
/// then sleeps, exits, or does what `tail` says (a shell fragment).
pub fn stand_in(dir: &TempDir, tail: &str) -> String {
    let pids = dir.path("child.pids");
    let argv = dir.path("child.argv");
    format!(
        "sh -c 'echo $$ >> {}; echo \"$@\" >> {}; {tail}' stand-in {{flags}}",
        pids.display(),
        argv.display()
    )
}

pub fn child_pids(dir: &TempDir) -> Vec<u32> {
    fs::read_to_string(dir.path("child.pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

pub fn child_argv(dir: &TempDir) -> Vec<String> {
    fs::read_to_string(dir.path("child.argv"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

pub fn alive(pid: u32) -> bool {
    // A zombie is not alive for our purposes.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// A running `stamen run`; killed (by PID) on drop if still running.
pub struct Agent {
    pub child: Child,
    pub log: PathBuf,
    pub socket: PathBuf,
    pids_file: PathBuf,
}

impl Agent {
    /// `stamen run --context CTX --status-socket SOCK --ca-file ... <args>`,
    /// stderr to `dir/agent.log`.
    pub fn spawn(dir: &TempDir, ctx: &Path, args: &[&str], env: &[(&str, &str)]) -> Agent {
        let log = dir.path("agent.log");
        let socket = dir.path("status.sock");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stamen"));
        cmd.arg("run")
            .arg("--context")
            .arg(ctx)
            .arg("--status-socket")
            .arg(&socket)
            .args(args)
            .env_remove("JOURNAL_STREAM")
            .env_remove("STAMEN_STATUS_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                fs::File::create(dir.path("agent.out")).unwrap(),
            ))
            .stderr(Stdio::from(fs::File::create(&log).unwrap()));
        if !args.contains(&"--ca-file") {
            cmd.arg("--ca-file").arg(dir.path("ca.pem"));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        Agent {
            child: cmd.spawn().unwrap(),
            log,
            socket,
            pids_file: dir.path("child.pids"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY-free wrapper: kill(2) on our own child's PID.
        let r = unsafe_kill(self.pid(), sig);
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Wait for exit up to `limit`; the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Send a datagram to the agent's status socket.
    pub fn report(&self, payload: &[u8]) {
        let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
        s.send_to(payload, &self.socket).unwrap();
    }
}

#[allow(unsafe_code)]
fn unsafe_kill(pid: u32, sig: i32) -> i32 {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, sig) }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Stand-in children run in their own process group, so a killed
        // agent leaves them behind: stop every recorded one by PID.
        let pids: Vec<u32> = fs::read_to_string(&self.pids_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        kill_pids(&pids);
    }
}

/// SIGKILL every PID in `pids` that is still alive (test cleanup).
pub fn kill_pids(pids: &[u32]) {
    for &p in pids {
        if alive(p) {
            let _ = unsafe_kill(p, libc::SIGKILL);
        }
    }
}

/// Poll `cond` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `next_delay_ms` values of log lines containing `msg`.
pub fn delays(logs: &str, msg: &str) -> Vec<u64> {
    logs.lines()
        .filter(|l| l.contains(msg))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("next_delay_ms="))
                .and_then(|v| v.parse().ok())
        })
        .collect()
}

/// The usual setup: static SuperLink address, no TLS, explicit node config,
/// fast timings. Returns the agent args (borrowed strings live in `Vec<String>`).
pub fn fast_args(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "--backoff-initial-ms",
        "200",
        "--probe-interval-ms",
        "300",
        "--probe-timeout-ms",
        "500",
        "--onegate-timeout-ms",
        "500",
        "--stop-grace-ms",
        "2000",
        "--min-publish-interval-ms",
        "200",
        "--log-level",
        "DEBUG",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

pub fn static_ctx(dir: &TempDir, og: &OneGate, sl: &SuperLink) -> PathBuf {
    write_context(
        dir,
        &og.endpoint(),
        &[
            ("ONEAPP_FL_SUPERLINK_ADDRESS", sl.addr.as_str()),
            ("ONEAPP_FL_TLS_ENABLED", "NO"),
            ("ONEAPP_FL_NODE_CONFIG", "partition-id=0 num-partitions=2"),
        ],
    )
}

pub fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
