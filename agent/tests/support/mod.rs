//! A small recording HTTP/1.1 server for agent tests (loopback only).
//!
//! * binds `127.0.0.1:0`, answers each request with the next scripted
//!   [`Reply`] (then `500 no scripted reply left`), closes the connection
//!   after each answer;
//! * records every request (method, target, headers in wire order, body);
//! * injects faults: drop the connection after reading the request, hang
//!   without answering, write raw bytes;
//! * acts as an HTTP `CONNECT` proxy (records the CONNECT, answers 200, then
//!   serves the tunnelled request) and, optionally, as an HTTPS server with
//!   the test certificate in this folder (`test-server.pem`, signed by
//!   `test-ca.pem`; test-only key material, never used elsewhere).
//!
//! Every wait is bounded: sockets have 5 s read timeouts, hangs end when the
//! server is dropped, and dropping the server joins its thread.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Method (`GET`, `PUT`, `POST`, `CONNECT` ...).
    pub method: String,
    /// Request target as sent (`/vm?x=1`, `host:port` for CONNECT).
    pub target: String,
    /// Headers in wire order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The raw query (empty when none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many headers have this name.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .count()
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with a status, optional content type and a body.
    Respond {
        /// Status code.
        status: u16,
        /// `Content-Type`, if any.
        content_type: Option<String>,
        /// Body.
        body: Vec<u8>,
    },
    /// Read the request, then close the connection without answering.
    Drop,
    /// Read the request and never answer (until the duration passes or the
    /// server is dropped).
    Hang(Duration),
    /// Write these bytes verbatim, then close.
    Raw(Vec<u8>),
    /// Write these bytes verbatim, then stall (like [`Reply::Hang`]).
    RawThenHang(Vec<u8>, Duration),
}

impl Reply {
    /// `200` with an `application/json;charset=utf-8` body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::Respond {
            status: 200,
            content_type: Some("application/json;charset=utf-8".into()),
            body: body.into(),
        }
    }

    /// A status with a plain-text body (OneGate's error format).
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::Respond {
            status,
            content_type: Some("text/html;charset=utf-8".into()),
            body: body.into(),
        }
    }
}

struct Shared {
    replies: Mutex<Vec<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
    stop: AtomicBool,
}

/// The server; stops and joins its thread when dropped.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 64 * 1024;

impl TestServer {
    /// Starts a plain HTTP server with these scripted replies.
    pub fn start(replies: Vec<Reply>) -> Self {
        Self::spawn(replies, None)
    }

    /// Starts an HTTPS server (test certificate for `127.0.0.1`).
    pub fn start_tls(replies: Vec<Reply>) -> Self {
        Self::spawn(replies, Some(tls_config()))
    }

    fn spawn(mut replies: Vec<Reply>, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        replies.reverse(); // pop() from the end
        let shared = Arc::new(Shared {
            replies: Mutex::new(replies),
            recorded: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let is_tls = tls.is_some();
        let s = Arc::clone(&shared);
        let handle = std::thread::spawn(move || accept_loop(&listener, &s, tls.as_ref()));
        Self {
            addr,
            tls: is_tls,
            shared,
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:PORT` (or `https://`).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests recorded so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .recorded
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}/test-server.pem"))
            .expect("open test-server.pem")
            .collect::<Result<_, _>>()
            .expect("parse test-server.pem");
    let key =
        PrivateKeyDer::from_pem_file(format!("{dir}/test-server.key")).expect("test-server.key");
    // ureq itself runs on rustls' ring provider; the test server uses the same one.
    // (rustls 0.23.4x deprecates it in favour of post-quantum defaults.)
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server cert");
    Arc::new(config)
}

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
                match tls {
                    Some(cfg) => {
                        let Ok(conn) = rustls::ServerConnection::new(Arc::clone(cfg)) else {
                            continue;
                        };
                        let mut s = rustls::StreamOwned::new(conn, stream);
                        let _ = serve(&mut s, shared);
                        s.conn.send_close_notify();
                        let _ = s.flush();
                    }
                    None => {
                        let mut s = stream;
                        let _ = serve(&mut s, shared);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Serves one connection: at most one CONNECT, then one request.
fn serve<S: Read + Write>(s: &mut S, shared: &Shared) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut req = read_request(s, &mut buf)?;
    if req.method == "CONNECT" {
        record(shared, req);
        s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        s.flush()?;
        req = read_request(s, &mut buf)?;
    }
    record(shared, req);
    let reply = shared
        .replies
        .lock()
        .ok()
        .and_then(|mut r| r.pop())
        .unwrap_or(Reply::Respond {
            status: 500,
            content_type: None,
            body: b"no scripted reply left".to_vec(),
        });
    match reply {
        Reply::Respond {
            status,
            content_type,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            if let Some(ct) = content_type {
                head.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            s.write_all(head.as_bytes())?;
            s.write_all(&body)?;
            s.flush()
        }
        Reply::Drop => Ok(()),
        Reply::Hang(d) => {
            hang(shared, d);
            Ok(())
        }
        Reply::RawThenHang(bytes, d) => {
            s.write_all(&bytes)?;
            s.flush()?;
            hang(shared, d);
            Ok(())
        }
        Reply::Raw(bytes) => {
            s.write_all(&bytes)?;
            s.flush()
        }
    }
}

fn hang(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn record(shared: &Shared, req: Recorded) {
    if let Ok(mut r) = shared.recorded.lock() {
        r.push(req);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads one request (head + Content-Length body). `buf` carries bytes
/// read past the previous request on the same connection.
fn read_request<S: Read>(s: &mut S, buf: &mut Vec<u8>) -> io::Result<Recorded> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before request",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    buf.drain(..head_end + 4);
    while buf.len() < len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed inside body",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    Ok(Recorded {
        method,
        target,
        headers,
        body,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A loopback port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// Path of the test CA certificate.
pub fn test_ca_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/test-ca.pem").to_string()
}

/// Output of a finished child process.
#[derive(Debug)]
pub struct RunOutput {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Stdout bytes.
    pub stdout: Vec<u8>,
    /// Stderr bytes.
    pub stderr: Vec<u8>,
}

/// Runs `stamen` with exactly these arguments and environment (nothing
/// inherited), killing it after `limit`.
pub fn run_stamen(args: &[&str], env: &[(&str, &str)], limit: Duration) -> RunOutput {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_stamen"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stamen");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let st = child.wait().expect("wait after kill");
            panic!("stamen {args:?} did not finish within {limit:?} (status {st:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    RunOutput {
        code: status.code(),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}
