//! Fault-matrix helpers: a fault-injecting TCP proxy in front of the
//! `run_common` OneGate stand-in, request-rate and memory measurements.
//!
//! The proxy forwards each request to the real stand-in (so state, token
//! checks and the record of published attributes stay in one place) and
//! breaks the answer the way a bad network or a misbehaving OneGate would:
//! refused connections, answers trickling in byte by byte, 10 MB bodies,
//! truncated JSON, an HTML page with the wrong Content-Type, a status code.
//! It binds 127.0.0.1 only; every connection has its own bounded thread.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the proxy does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward and return the answer unchanged.
    Pass,
    /// Close the connection at once, reading nothing (OneGate down).
    Refuse,
    /// Forward, then send the answer one byte per period (slow loris).
    SlowLoris(Duration),
    /// Answer 200 `application/json` with a body of this many bytes.
    Huge(usize),
    /// Forward, then send the headers and only half the body, and close.
    Truncated,
    /// Answer 200 with an HTML page as `text/html` (a captive portal).
    WrongType,
    /// Answer this status with a plain-text body.
    Status(u16),
}

/// One connection the proxy saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    /// `GET`, `PUT`, … or `-` when the connection was refused unread.
    pub method: String,
    pub path: String,
    pub mode: Mode,
}

struct Shared {
    mode: Mode,
    /// Apply `mode` only to this method (others pass).
    only: Option<String>,
    seen: Vec<Seen>,
}

/// The fault-injecting proxy.
pub struct Proxy {
    pub addr: String,
    upstream: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a fresh loopback port; forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        Self::bind(TcpListener::bind("127.0.0.1:0").unwrap(), upstream)
    }

    fn bind(l: TcpListener, upstream: &str) -> Proxy {
        let addr = l.local_addr().unwrap().to_string();
        let shared = Arc::new(Mutex::new(Shared {
            mode: Mode::Pass,
            only: None,
            seen: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, sp, up) = (Arc::clone(&shared), Arc::clone(&stop), upstream.to_string());
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(c) = conn else { continue };
                let (sh, up, sp) = (Arc::clone(&sh), up.clone(), Arc::clone(&sp));
                std::thread::spawn(move || {
                    let _ = serve(c, &sh, &up, &sp);
                });
            }
        });
        Proxy {
            addr,
            upstream: upstream.to_string(),
            shared,
            stop,
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `mode` to every request.
    pub fn set(&self, mode: Mode) {
        let mut s = self.shared.lock().unwrap();
        s.mode = mode;
        s.only = None;
    }

    /// Applies `mode` to requests with `method` only (others pass).
    pub fn set_for(&self, method: &str, mode: Mode) {
        let mut s = self.shared.lock().unwrap();
        s.mode = mode;
        s.only = Some(method.to_string());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// Highest number of connections that started within any 1 s window.
    pub fn max_per_second(&self) -> usize {
        max_per_second(&self.seen().iter().map(|s| s.at).collect::<Vec<_>>())
    }

    /// [`Proxy::max_per_second`] counting only requests that met a fault
    /// (the retries: what a hot loop would multiply).
    pub fn max_faulted_per_second(&self) -> usize {
        let times: Vec<Instant> = self
            .seen()
            .iter()
            .filter(|s| s.mode != Mode::Pass)
            .map(|s| s.at)
            .collect();
        max_per_second(&times)
    }

    /// Requests that met a fault since `t`.
    pub fn faulted_since(&self, t: Instant) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.mode != Mode::Pass && s.at >= t)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Highest number of instants within any 1-second window.
pub fn max_per_second(times: &[Instant]) -> usize {
    let mut times = times.to_vec();
    times.sort();
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

/// Reads one request (head + Content-Length body): (method, path, raw bytes).
fn read_request(c: &TcpStream) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut r = BufReader::new(c.try_clone()?);
    let mut raw = Vec::new();
    let mut line = String::new();
    r.read_line(&mut line)?;
    raw.extend_from_slice(line.as_bytes());
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            break;
        }
        raw.extend_from_slice(h.as_bytes());
        let t = h.trim_end();
        if t.is_empty() {
            break;
        }
        if let Some((k, v)) = t.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len.min(1 << 20)];
    r.read_exact(&mut body)?;
    raw.extend_from_slice(&body);
    Ok((method, path, raw))
}

/// Forwards `raw` to `upstream` and returns the whole answer (the stand-in
/// closes after each answer).
fn forward(upstream: &str, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut u = TcpStream::connect(upstream)?;
    u.set_read_timeout(Some(Duration::from_secs(10)))?;
    u.write_all(raw)?;
    let mut out = Vec::new();
    u.read_to_end(&mut out)?;
    Ok(out)
}

fn split_answer(ans: &[u8]) -> (&[u8], &[u8]) {
    match ans.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&ans[..i + 4], &ans[i + 4..]),
        None => (ans, &[]),
    }
}

fn serve(
    mut c: TcpStream,
    sh: &Arc<Mutex<Shared>>,
    upstream: &str,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    c.set_write_timeout(Some(Duration::from_secs(5)))?;
    let (mode, only) = {
        let s = sh.lock().unwrap();
        (s.mode, s.only.clone())
    };
    if mode == Mode::Refuse && only.is_none() {
        sh.lock().unwrap().seen.push(Seen {
            at: Instant::now(),
            method: "-".into(),
            path: String::new(),
            mode,
        });
        return c.shutdown(Shutdown::Both);
    }
    let (method, path, raw) = read_request(&c)?;
    let applies = only.as_deref().is_none_or(|m| m == method);
    let mode = if applies { mode } else { Mode::Pass };
    sh.lock().unwrap().seen.push(Seen {
        at: Instant::now(),
        method,
        path,
        mode,
    });
    match mode {
        Mode::Pass => {
            let ans = forward(upstream, &raw)?;
            c.write_all(&ans)?;
        }
        Mode::Refuse => {}
        Mode::SlowLoris(period) => {
            let ans = forward(upstream, &raw)?;
            // Bounded: at most 60 s of trickling, and stop when the client goes.
            let deadline = Instant::now() + Duration::from_secs(60);
            for b in ans {
                if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                    break;
                }
                c.write_all(&[b])?;
                c.flush()?;
                std::thread::sleep(period);
            }
        }
        Mode::Huge(n) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                n + 25
            );
            c.write_all(head.as_bytes())?;
            c.write_all(b"{\"SERVICE\":{\"name\":\"")?;
            let chunk = vec![b'a'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len());
                // The client stops reading at its limit: a write error ends this.
                c.write_all(&chunk[..k])?;
                left -= k;
            }
            c.write_all(b"\"}}\n")?;
        }
        Mode::Truncated => {
            let ans = forward(upstream, &raw)?;
            let (head, body) = split_answer(&ans);
            c.write_all(head)?;
            c.write_all(&body[..body.len() / 2])?;
        }
        Mode::WrongType => {
            let body = "<html><head><title>Login required</title></head><body>portal</body></html>";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            c.write_all(head.as_bytes())?;
            c.write_all(body.as_bytes())?;
        }
        Mode::Status(code) => {
            let body = "injected failure";
            let head = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            c.write_all(head.as_bytes())?;
            c.write_all(body.as_bytes())?;
        }
    }
    let _ = c.flush();
    c.shutdown(Shutdown::Both)
}

/// Resident set size of `pid` in KiB (`VmRSS` in /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Appends one line of measurements to `$STAMEN_FAULTS_REPORT`, if set
/// (used to fill docs/RELIABILITY.md; tests never depend on it).
pub fn report(case: &str, line: &str) {
    eprintln!("[fault-matrix] {case}: {line}");
    if let Ok(p) = std::env::var("STAMEN_FAULTS_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "{case}: {line}");
        }
    }
}
