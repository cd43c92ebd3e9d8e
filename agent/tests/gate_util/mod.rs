//! Helpers shared by the `gate_*` integration tests: a raw HTTP/1.1 client
//! (so requests go out byte for byte as the vectors recorded them), fixture
//! loading and temporary directories.
#![allow(dead_code)]

use stamen_agent::gate::spec::ServiceSpec;
use stamen_agent::gate::{Gate, GateConfig, GateHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The service file that reproduces the reference OneGate environment.
pub fn reference_spec() -> ServiceSpec {
    ServiceSpec::load(&root().join("examples/services/onegate-reference.json")).unwrap()
}

/// A fresh directory under the target dir, removed first if it exists.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Log lines captured from a gate.
pub type Logs = Arc<Mutex<Vec<String>>>;

/// Starts a gate on a free loopback port with a fixed clock, capturing its log.
pub fn start(spec: ServiceSpec, dir: &Path, now: u64) -> (GateHandle, Logs) {
    let mut cfg = GateConfig::new(spec);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.state_dir = Some(dir.to_path_buf());
    cfg.clock = Some(Arc::new(move || now));
    let logs: Logs = Arc::new(Mutex::new(Vec::new()));
    let l2 = logs.clone();
    cfg.log = Some(Arc::new(move |l: &str| {
        l2.lock().unwrap().push(l.to_string())
    }));
    (Gate::start(cfg).unwrap(), logs)
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request (Content-Length and `Connection: close` added) and
/// reads the whole response, with 10 s timeouts.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    let mut has_host = false;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
            continue;
        }
        has_host |= k.eq_ignore_ascii_case("host");
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_host {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a header end");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            rest = &rest[nl + 2..];
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// The token file of a VM, trimmed.
pub fn token_of(dir: &Path, id: u32) -> String {
    std::fs::read_to_string(dir.join(format!("vm-{id}/token.txt")))
        .unwrap()
        .trim()
        .to_string()
}

/// GET/PUT/POST as VM `vmid` with its own token.
pub fn as_vm(
    g: &GateHandle,
    dir: &Path,
    vmid: u32,
    method: &str,
    target: &str,
    ctype: Option<&str>,
    body: &[u8],
) -> Resp {
    let tok = token_of(dir, vmid);
    let id = vmid.to_string();
    let mut h = vec![
        ("X-ONEGATE-TOKEN", tok.as_str()),
        ("X-ONEGATE-VMID", id.as_str()),
    ];
    if let Some(c) = ctype {
        h.push(("Content-Type", c));
    }
    send(g.addr(), method, target, &h, body)
}

/// A `PUT /vm`-style form body.
pub fn form(data: &str, ty: u8) -> Vec<u8> {
    let enc: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("data", data)
        .append_pair("type", &ty.to_string())
        .finish();
    enc.into_bytes()
}
