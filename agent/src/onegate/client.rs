//! The blocking OneGate client (ureq 3, rustls).
//!
//! * explicit connect / read / overall timeouts and a bounded response size;
//! * certificates verified by default ([`TlsMode::Insecure`] is an explicit
//!   opt-in, [`TlsMode::CustomCa`] trusts a given CA);
//! * proxies chosen by our own code from `http_proxy` / `https_proxy` /
//!   `all_proxy` (either case) and `no_proxy`, see [`proxy_from_env`];
//!   ureq's own environment lookup is switched off so the rule is ours and
//!   tested;
//! * statuses classified by our own code ([`classify_status`]);
//! * GET and PUT retried once after a dropped connection, POST never — the
//!   behaviour of the official Ruby client (Net::HTTP).

use super::docs::{ServiceDocument, VmDocument};
use super::error::OnegateError;
use super::request::{Call, Endpoint, Method, Scheme, Token, VmRef, WireRequest};
use std::io;
use std::time::Duration;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

/// Default bound on a response body: 8 MiB (an extended `/service` of a
/// large service is a few hundred KiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Timeouts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect (+ proxy CONNECT + TLS handshake).
    pub connect: Duration,
    /// Sending the request and receiving the response head and body, each.
    pub read: Duration,
    /// Whole call, all phases (a retry gets its own budget).
    pub overall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(20),
            overall: Duration::from_secs(30),
        }
    }
}

/// Certificate policy for `https://` endpoints.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Verify against the bundled Mozilla roots (default).
    #[default]
    Verify,
    /// Verify against these PEM certificates only (e.g. the cloud's own CA).
    CustomCa(Vec<u8>),
    /// Accept any certificate (self-signed OneGate). Explicit opt-in only.
    Insecure,
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Verify => f.write_str("Verify"),
            Self::CustomCa(pem) => write!(f, "CustomCa({} bytes)", pem.len()),
            Self::Insecure => f.write_str("Insecure"),
        }
    }
}

/// Proxy policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// Use [`proxy_from_env`] on the process environment (default).
    #[default]
    FromEnv,
    /// Never use a proxy.
    Disabled,
    /// Use this proxy URL (`http://host:port`).
    Url(String),
}

/// Everything a [`Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// OneGate endpoint (scheme, host, port).
    pub endpoint: Endpoint,
    /// `X-ONEGATE-VMID`; not sent when `None` (the server answers 401).
    pub vmid: Option<String>,
    /// `X-ONEGATE-TOKEN`; not sent when `None` (the server answers 401).
    pub token: Option<Token>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Bound on a response body; larger → [`OnegateError::TooLarge`].
    pub max_body_bytes: u64,
    /// Certificate policy.
    pub tls: TlsMode,
    /// Proxy policy.
    pub proxy: ProxyMode,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// A configuration with the defaults: 5 s connect, 20 s read, 30 s overall,
    /// 8 MiB bodies, verified TLS, proxy from the environment,
    /// `User-Agent: stamen/<version>`.
    pub fn new(endpoint: Endpoint, vmid: Option<String>, token: Option<Token>) -> Self {
        Self {
            endpoint,
            vmid,
            token,
            timeouts: Timeouts::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            tls: TlsMode::Verify,
            proxy: ProxyMode::FromEnv,
            user_agent: format!("stamen/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Reads `ONEGATE_ENDPOINT`, `VMID` and `TOKENTXT` through `var` (empty
    /// values count as unset, the one-apps convention). A missing endpoint is
    /// an error; a missing VMID or token is not (the server decides: 401).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, OnegateError> {
        let get = |k: &str| var(k).filter(|v| !v.is_empty());
        let endpoint = get("ONEGATE_ENDPOINT").ok_or_else(|| OnegateError::InvalidEndpoint {
            value: String::new(),
            reason: "ONEGATE_ENDPOINT is not set (is TOKEN=YES in the VM context?)".to_string(),
        })?;
        let endpoint = Endpoint::parse(&endpoint)?;
        let vmid = get("VMID");
        if let Some(v) = &vmid {
            check_header_value("VMID", v)?;
        }
        let token = get("TOKENTXT").map(Token::new).transpose()?;
        Ok(Self::new(endpoint, vmid, token))
    }
}

fn check_header_value(what: &str, v: &str) -> Result<(), OnegateError> {
    if v.bytes().any(|b| b.is_ascii_control()) || !v.is_ascii() {
        return Err(OnegateError::InvalidArgument {
            what: what.to_string(),
            reason: format!("{v:?} contains control or non-ASCII characters"),
        });
    }
    Ok(())
}

/// Picks the proxy for `endpoint` from environment variables read through
/// `var`: `http_proxy`, `HTTP_PROXY`, `all_proxy`, `ALL_PROXY` for `http://`
/// endpoints (`https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY` for
/// `https://`), first non-empty wins; `None` when the endpoint's host matches
/// `no_proxy` / `NO_PROXY` (comma-separated host names or domain suffixes,
/// `.example.org` and `example.org` both match subdomains, `*` matches all,
/// an optional `:port` on an entry is ignored; CIDR ranges are not
/// supported).
///
/// With an HTTP proxy, ureq opens a `CONNECT host:port` tunnel (also for
/// `http://` targets) and sends the request through it.
pub fn proxy_from_env(endpoint: &Endpoint, var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let names: [&str; 4] = match endpoint.scheme() {
        Scheme::Http => ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
        Scheme::Https => ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
    };
    let proxy = names
        .iter()
        .filter_map(|n| var(n))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())?;
    let no_proxy = var("no_proxy")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| var("NO_PROXY"))
        .unwrap_or_default();
    if no_proxy_matches(&no_proxy, endpoint.host()) {
        return None;
    }
    Some(proxy)
}

/// Whether `host` matches a `no_proxy` list.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.to_ascii_lowercase();
            // Drop an optional `:port` (but not the colons of a bare IPv6 address).
            let entry = match entry.rsplit_once(':') {
                Some((h, p))
                    if !p.is_empty()
                        && p.bytes().all(|b| b.is_ascii_digit())
                        && (!h.contains(':') || h.ends_with(']')) =>
                {
                    h.to_string()
                }
                _ => entry,
            };
            let entry = entry.trim_start_matches('[').trim_end_matches(']');
            let suffix = entry.trim_start_matches('.');
            !suffix.is_empty() && (host == suffix || host.ends_with(&format!(".{suffix}")))
        })
}

/// Maps an HTTP status, body and `Retry-After` value to our result: 2xx →
/// the body; 400, 401, 403, 404, 5xx → their own variants carrying the
/// server's text (lossy UTF-8); anything else →
/// [`OnegateError::UnexpectedStatus`].
pub fn classify_status(
    status: u16,
    body: Vec<u8>,
    retry_after: Option<u64>,
) -> Result<Vec<u8>, OnegateError> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let message = String::from_utf8_lossy(&body).into_owned();
    Err(match status {
        400 => OnegateError::BadRequest { message },
        401 => OnegateError::Unauthorized { message },
        403 => OnegateError::Forbidden { message },
        404 => OnegateError::NotFound { message },
        500..=599 => OnegateError::Server {
            status,
            message,
            retry_after,
        },
        _ => OnegateError::UnexpectedStatus {
            status,
            message,
            retry_after,
        },
    })
}

/// Parses a JSON document, mapping parser errors to [`OnegateError::BadJson`].
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, OnegateError> {
    serde_json::from_slice(body).map_err(|e| OnegateError::BadJson {
        detail: e.to_string(),
    })
}

fn map_io(e: &io::Error) -> OnegateError {
    use io::ErrorKind as K;
    let detail = e.to_string();
    // Handshake and certificate failures arrive as an io::Error around a rustls::Error.
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return OnegateError::Tls { detail };
    }
    match e.kind() {
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            OnegateError::ConnectionClosed { detail }
        }
        K::TimedOut | K::WouldBlock => OnegateError::Timeout {
            phase: "io".to_string(),
        },
        _ => OnegateError::Connect { detail },
    }
}

fn map_ureq(e: ureq::Error) -> OnegateError {
    use ureq::Error as E;
    match e {
        E::Io(io) => map_io(&io),
        E::Timeout(t) => OnegateError::Timeout {
            phase: t.to_string(),
        },
        E::HostNotFound => OnegateError::Connect {
            detail: "host not found".to_string(),
        },
        E::ConnectionFailed => OnegateError::Connect {
            detail: "connection failed".to_string(),
        },
        E::ConnectProxyFailed(d) => OnegateError::Connect {
            detail: format!("proxy CONNECT failed: {d}"),
        },
        E::InvalidProxyUrl => OnegateError::InvalidArgument {
            what: "proxy URL".to_string(),
            reason: "not a valid http://HOST:PORT proxy URL".to_string(),
        },
        E::BodyExceedsLimit(limit) => OnegateError::TooLarge { limit },
        E::Tls(d) => OnegateError::Tls {
            detail: d.to_string(),
        },
        E::Rustls(r) => OnegateError::Tls {
            detail: r.to_string(),
        },
        E::Pem(p) => OnegateError::InvalidArgument {
            what: "CA certificate".to_string(),
            reason: p.to_string(),
        },
        E::Protocol(p) => {
            let detail = p.to_string();
            // A peer that closes before a status line surfaces as a protocol error.
            if detail.to_ascii_lowercase().contains("closed")
                || detail.to_ascii_lowercase().contains("eof")
            {
                OnegateError::ConnectionClosed { detail }
            } else {
                OnegateError::Http { detail }
            }
        }
        other => OnegateError::Http {
            detail: other.to_string(),
        },
    }
}

/// A OneGate client. Cheap to share by reference; keeps a small connection
/// pool (ureq agent).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    proxy: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// Builds a client; resolves the proxy (for [`ProxyMode::FromEnv`] from
    /// the process environment) and the TLS roots once.
    pub fn new(config: ClientConfig) -> Result<Self, OnegateError> {
        let proxy = match &config.proxy {
            ProxyMode::FromEnv => proxy_from_env(&config.endpoint, |k| std::env::var(k).ok()),
            ProxyMode::Disabled => None,
            ProxyMode::Url(u) => Some(u.clone()),
        };
        let ureq_proxy = proxy
            .as_deref()
            .map(ureq::Proxy::new)
            .transpose()
            .map_err(map_ureq)?;
        let tls = match &config.tls {
            TlsMode::Verify if config.endpoint.scheme() == Scheme::Https => {
                let roots = system_roots(|k| std::env::var_os(k))?;
                tls_builder()
                    .root_certs(RootCerts::new_with_certs(&roots))
                    .build()
            }
            // Plain http: no TLS session will ever be built, so no roots are read.
            TlsMode::Verify => tls_builder().build(),
            TlsMode::Insecure => tls_builder().disable_verification(true).build(),
            TlsMode::CustomCa(pem) => {
                let certs = pem_certificates(pem, "CA certificate")?;
                tls_builder()
                    .root_certs(RootCerts::new_with_certs(&certs))
                    .build()
            }
        };
        let t = config.timeouts;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // OneGate headers and bodies are small; ureq's 128 KiB default
            // buffers would stay resident for the daemon's whole life (the
            // connection pool keeps them). Bodies larger than a buffer stream
            // through it; only a response *header* must fit in 16 KiB.
            .max_response_header_size(16 * 1024)
            .input_buffer_size(16 * 1024)
            .output_buffer_size(16 * 1024)
            .proxy(ureq_proxy)
            .tls_config(tls)
            .user_agent(config.user_agent.as_str())
            .timeout_global(Some(t.overall))
            .timeout_connect(Some(t.connect))
            .timeout_send_request(Some(t.read))
            .timeout_send_body(Some(t.read))
            .timeout_recv_response(Some(t.read))
            .timeout_recv_body(Some(t.read))
            .build()
            .into();
        Ok(Self {
            config,
            proxy,
            agent,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The proxy URL in use, if any.
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    /// Runs a call: the 2xx body, or a classified error. GET and PUT are
    /// retried once when the connection drops before a response (like the
    /// official client); POST is not.
    pub fn execute(&self, call: &Call) -> Result<Vec<u8>, OnegateError> {
        let wire = call.to_wire()?;
        let first = self.attempt(&wire);
        let result = match first {
            Err(OnegateError::ConnectionClosed { .. }) if wire.method.is_idempotent() => {
                self.attempt(&wire)
            }
            other => other,
        };
        result.map_err(|e| self.scrub(e))
    }

    fn scrub(&self, mut e: OnegateError) -> OnegateError {
        if let (Some(token), Some(message)) = (&self.config.token, e.message_mut()) {
            *message = token.scrub(std::mem::take(message));
        }
        e
    }

    fn attempt(&self, wire: &WireRequest) -> Result<Vec<u8>, OnegateError> {
        let url = self.config.endpoint.url(&wire.path);
        let mut req = match wire.method {
            Method::Get => self.agent.get(&url).force_send_body(),
            Method::Put => self.agent.put(&url),
            Method::Post => self.agent.post(&url),
        };
        req = req.header("Accept", "*/*");
        if let Some(token) = &self.config.token {
            req = req.header("X-ONEGATE-TOKEN", token.expose());
        }
        if let Some(vmid) = &self.config.vmid {
            req = req.header("X-ONEGATE-VMID", vmid.as_str());
        }
        let response = match &wire.body {
            Some((content_type, body)) => req.header("Content-Type", *content_type).send(&body[..]),
            None => req.send_empty(),
        };
        let mut response = response.map_err(map_ureq)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(self.config.max_body_bytes)
            .read_to_vec()
            .map_err(map_ureq)?;
        classify_status(status, body, retry_after)
    }

    /// `GET /vm`: this VM's document.
    pub fn vm(&self) -> Result<VmDocument, OnegateError> {
        parse_json(&self.execute(&Call::VmShow(VmRef::Current))?)
    }

    /// `GET /vms/:id`: another VM of the same service.
    pub fn vm_by_id(&self, id: u64) -> Result<VmDocument, OnegateError> {
        parse_json(&self.execute(&Call::VmShow(VmRef::Id(id)))?)
    }

    /// `PUT /vm` (or `/vms/:id`): set `KEY=VALUE` lines in USER_TEMPLATE.
    pub fn update_vm(&self, vm: VmRef, data: &str) -> Result<(), OnegateError> {
        self.execute(&Call::VmUpdate {
            vm,
            data: data.to_string(),
        })
        .map(drop)
    }

    /// Sets several attributes in one request (`K=V` lines joined by real
    /// newlines). Keys must be non-empty and free of `=` and newlines; values
    /// free of newlines.
    pub fn update_vm_attrs(&self, vm: VmRef, attrs: &[(&str, &str)]) -> Result<(), OnegateError> {
        let mut data = String::new();
        for (k, v) in attrs {
            if k.is_empty() || k.contains(['=', '\n', '\r']) || v.contains(['\n', '\r']) {
                return Err(OnegateError::InvalidArgument {
                    what: "attribute".to_string(),
                    reason: format!("{k:?}: keys must be non-empty without '=' or newlines, values without newlines"),
                });
            }
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(k);
            data.push('=');
            data.push_str(v);
        }
        self.update_vm(vm, &data)
    }

    /// `PUT /vm` (or `/vms/:id`) with a body encoded by `stamen_core::form`
    /// (e.g. `form::status_body` for the FL status attributes of SPEC §4).
    pub fn update_vm_form(&self, vm: VmRef, body: &[u8]) -> Result<(), OnegateError> {
        self.execute(&Call::VmUpdateForm {
            vm,
            body: body.to_vec(),
        })
        .map(drop)
    }

    /// `PUT /vm` (or `/vms/:id`) with `type=2`: erase one attribute.
    pub fn erase_vm_attr(&self, vm: VmRef, key: &str) -> Result<(), OnegateError> {
        self.execute(&Call::VmErase {
            vm,
            key: key.to_string(),
        })
        .map(drop)
    }

    /// `GET /service` (extended: full VM documents in `vm_info`).
    pub fn service(&self, extended: bool) -> Result<ServiceDocument, OnegateError> {
        parse_json(&self.execute(&Call::ServiceShow { extended })?)
    }

    /// `PUT /service/role/:role` with `{"cardinality":"N"}`.
    pub fn scale_role(&self, role: &str, cardinality: u32) -> Result<(), OnegateError> {
        self.execute(&Call::ServiceScale {
            role: role.to_string(),
            cardinality,
        })
        .map(drop)
    }

    /// `POST /vms/:id/action`.
    pub fn vm_action(&self, id: u64, action: &str, hard: bool) -> Result<(), OnegateError> {
        self.execute(&Call::VmAction {
            id,
            action: action.to_string(),
            hard,
        })
        .map(drop)
    }

    /// `GET /vrouter` as a generic JSON value.
    pub fn vrouter(&self, extended: bool) -> Result<serde_json::Value, OnegateError> {
        parse_json(&self.execute(&Call::VrouterShow { extended })?)
    }

    /// `GET /vnet/:id` as a generic JSON value.
    pub fn vnet(&self, id: u64, extended: bool) -> Result<serde_json::Value, OnegateError> {
        parse_json(&self.execute(&Call::VnetShow { id, extended })?)
    }
}

/// A TLS configuration on rustls with the ring provider, set explicitly so no
/// process-wide default is needed.
fn tls_builder() -> ureq::tls::TlsConfigBuilder {
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
}

/// The certificates of a PEM bundle; an error when it holds none.
fn pem_certificates(pem: &[u8], what: &str) -> Result<Vec<Certificate<'static>>, OnegateError> {
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(c) = item.map_err(map_ureq)? {
            certs.push(c.to_owned());
        }
    }
    if certs.is_empty() {
        return Err(OnegateError::InvalidArgument {
            what: what.to_string(),
            reason: "no PEM CERTIFICATE block found".to_string(),
        });
    }
    Ok(certs)
}

/// Where Linux distributions keep the system CA bundle (Debian/Ubuntu/Alpine,
/// RHEL/Fedora, openSUSE, Alpine/BSD), tried in order after `SSL_CERT_FILE`.
pub const SYSTEM_CA_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Largest CA bundle read (the Debian bundle is about 0.2 MB).
const MAX_CA_BUNDLE_BYTES: u64 = 4 << 20;

/// The trust anchors for a verified `https://` OneGate: the bundle named by
/// `SSL_CERT_FILE`, else the first of [`SYSTEM_CA_BUNDLES`] that exists. The
/// binary carries no root store of its own (it would add ~0.2 MB to a binary
/// meant for small edge images); a self-signed OneGate needs `--ca-cert` or the
/// explicit insecure mode anyway.
pub fn system_roots(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Vec<Certificate<'static>>, OnegateError> {
    let explicit = var("SSL_CERT_FILE").filter(|v| !v.is_empty());
    let candidates: Vec<std::path::PathBuf> = match explicit {
        Some(p) => vec![p.into()],
        None => SYSTEM_CA_BUNDLES.iter().map(Into::into).collect(),
    };
    for path in &candidates {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && candidates.len() > 1 => continue,
            Err(e) => {
                return Err(OnegateError::InvalidArgument {
                    what: "system CA bundle".to_string(),
                    reason: format!("{}: {e}", path.display()),
                })
            }
        };
        let mut pem = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(file, MAX_CA_BUNDLE_BYTES + 1), &mut pem)
            .map_err(|e| OnegateError::InvalidArgument {
                what: "system CA bundle".to_string(),
                reason: format!("{}: {e}", path.display()),
            })?;
        if pem.len() as u64 > MAX_CA_BUNDLE_BYTES {
            return Err(OnegateError::InvalidArgument {
                what: "system CA bundle".to_string(),
                reason: format!(
                    "{}: larger than {MAX_CA_BUNDLE_BYTES} bytes",
                    path.display()
                ),
            });
        }
        return pem_certificates(&pem, &format!("system CA bundle {}", path.display()));
    }
    Err(OnegateError::InvalidArgument {
        what: "system CA bundle".to_string(),
        reason: format!(
            "none found (looked in {}); set SSL_CERT_FILE, pass --ca-cert FILE, or opt out of verification explicitly",
            SYSTEM_CA_BUNDLES.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn system_roots_come_from_ssl_cert_file_or_the_distribution_bundle() {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/test-ca.pem");
        let roots = system_roots(|k| (k == "SSL_CERT_FILE").then(|| ca.into())).unwrap();
        assert_eq!(roots.len(), 1);

        let missing =
            system_roots(|k| (k == "SSL_CERT_FILE").then(|| "/nonexistent/ca.pem".into()))
                .unwrap_err()
                .to_string();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");

        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let e = system_roots(|k| (k == "SSL_CERT_FILE").then(|| not_pem.into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no PEM CERTIFICATE block"), "{e}");

        // Without SSL_CERT_FILE the distribution bundles are tried in order; on a
        // machine with none the error names every place it looked.
        match system_roots(|_| None) {
            Ok(roots) => assert!(!roots.is_empty()),
            Err(e) => assert!(e.to_string().contains(SYSTEM_CA_BUNDLES[0]), "{e}"),
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn status_classification() {
        assert_eq!(classify_status(200, b"x".to_vec(), None).unwrap(), b"x");
        assert_eq!(classify_status(204, Vec::new(), Some(5)).unwrap(), b"");
        let m = |s: u16| classify_status(s, b"text".to_vec(), None).unwrap_err();
        assert_eq!(
            m(400),
            OnegateError::BadRequest {
                message: "text".into()
            }
        );
        assert_eq!(
            m(401),
            OnegateError::Unauthorized {
                message: "text".into()
            }
        );
        assert_eq!(
            m(403),
            OnegateError::Forbidden {
                message: "text".into()
            }
        );
        assert_eq!(
            m(404),
            OnegateError::NotFound {
                message: "text".into()
            }
        );
        assert_eq!(
            m(500),
            OnegateError::Server {
                status: 500,
                message: "text".into(),
                retry_after: None
            }
        );
        assert_eq!(
            m(503),
            OnegateError::Server {
                status: 503,
                message: "text".into(),
                retry_after: None
            }
        );
        assert_eq!(
            m(302),
            OnegateError::UnexpectedStatus {
                status: 302,
                message: "text".into(),
                retry_after: None
            }
        );
        assert_eq!(m(409).status(), Some(409));
        assert!(m(503).is_transient() && !m(401).is_transient() && !m(404).is_transient());
        assert_eq!(m(403).client_message(), "text");
        let hinted = classify_status(503, Vec::new(), Some(7)).unwrap_err();
        assert_eq!(
            hinted.retry_after(),
            Some(std::time::Duration::from_secs(7))
        );
        let busy = classify_status(429, Vec::new(), Some(2)).unwrap_err();
        assert!(busy.is_transient() && busy.retry_after().is_some());
        assert_eq!(m(500).retry_after(), None);
    }

    #[test]
    fn proxy_selection() {
        let http = Endpoint::parse("http://onegate.example.invalid:5030").unwrap();
        let https = Endpoint::parse("https://onegate.example.invalid:5030").unwrap();
        assert_eq!(proxy_from_env(&http, vars(&[])), None);
        assert_eq!(
            proxy_from_env(&http, vars(&[("http_proxy", "http://p:1")])).as_deref(),
            Some("http://p:1")
        );
        assert_eq!(
            proxy_from_env(
                &http,
                vars(&[("HTTP_PROXY", "http://P:2"), ("ALL_PROXY", "http://a:3")])
            )
            .as_deref(),
            Some("http://P:2")
        );
        // http_proxy does not apply to https endpoints; all_proxy does.
        assert_eq!(
            proxy_from_env(&https, vars(&[("http_proxy", "http://p:1")])),
            None
        );
        assert_eq!(
            proxy_from_env(
                &https,
                vars(&[("http_proxy", "http://p:1"), ("all_proxy", "http://a:3")])
            )
            .as_deref(),
            Some("http://a:3")
        );
        for np in [
            "example.invalid",
            ".example.invalid",
            "*",
            "other, onegate.example.invalid:5030",
            "ONEGATE.example.invalid",
        ] {
            assert_eq!(
                proxy_from_env(
                    &http,
                    vars(&[("http_proxy", "http://p:1"), ("no_proxy", np)])
                ),
                None,
                "{np}"
            );
        }
        assert!(proxy_from_env(
            &http,
            vars(&[
                ("http_proxy", "http://p:1"),
                ("NO_PROXY", "gate.example.invalid")
            ])
        )
        .is_some());
        assert!(proxy_from_env(
            &http,
            vars(&[("http_proxy", "http://p:1"), ("no_proxy", "xample.invalid")])
        )
        .is_some());
        assert!(no_proxy_matches("::1", "[::1]"));
        assert!(no_proxy_matches("[::1]:5030", "[::1]"));
        assert!(!no_proxy_matches("", "x"));
    }

    #[test]
    fn config_from_vars() {
        let c = ClientConfig::from_vars(vars(&[
            ("ONEGATE_ENDPOINT", "http://169.254.16.9:5030/x"),
            ("VMID", "42"),
            ("TOKENTXT", "secret=="),
        ]))
        .unwrap();
        assert_eq!(c.endpoint.url("/vm"), "http://169.254.16.9:5030/vm");
        assert_eq!(c.vmid.as_deref(), Some("42"));
        assert!(c.token.is_some());
        assert!(!format!("{c:?}").contains("secret"));
        let c = ClientConfig::from_vars(vars(&[
            ("ONEGATE_ENDPOINT", "http://h:1"),
            ("VMID", ""),
            ("TOKENTXT", ""),
        ]))
        .unwrap();
        assert!(c.vmid.is_none() && c.token.is_none());
        assert!(matches!(
            ClientConfig::from_vars(vars(&[])),
            Err(OnegateError::InvalidEndpoint { .. })
        ));
        assert!(ClientConfig::from_vars(vars(&[
            ("ONEGATE_ENDPOINT", "http://h:1"),
            ("VMID", "4\n2")
        ]))
        .is_err());
    }
}
