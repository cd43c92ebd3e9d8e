//! Pure request building: endpoint, token, and the wire form of every
//! OneGate call (method, path, body bytes, content type). No I/O here, so the
//! exact bytes are unit-tested against the reference vectors.

use super::error::OnegateError;
use std::fmt;

/// Scheme of a OneGate endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (the usual `http://169.254.16.9:5030`).
    Http,
    /// HTTPS (certificates verified unless the client opts out).
    Https,
}

/// The scheme, host and port of `ONEGATE_ENDPOINT`. Any path, query or
/// fragment in the configured value is ignored, like the official client
/// does (requests always go to `/vm`, `/service` ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    /// `host[:port]`, IPv6 hosts in brackets.
    authority: String,
}

impl Endpoint {
    /// Parses an endpoint such as `http://169.254.16.9:5030` or
    /// `https://onegate.example:5030/some/prefix` (the path is dropped).
    pub fn parse(value: &str) -> Result<Self, OnegateError> {
        let bad = |reason: &str| OnegateError::InvalidEndpoint {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if value.is_empty() {
            return Err(bad(
                "empty; expected http://HOST[:PORT] or https://HOST[:PORT]",
            ));
        }
        let uri: ureq::http::Uri = value
            .parse()
            .map_err(|_| bad("not a URL; expected http://HOST[:PORT] or https://HOST[:PORT]"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(_) => return Err(bad("scheme must be http or https")),
            None => return Err(bad("missing scheme; expected http://HOST[:PORT]")),
        };
        let auth = uri
            .authority()
            .ok_or_else(|| bad("missing host; expected http://HOST[:PORT]"))?;
        if auth.as_str().contains('@') {
            return Err(bad(
                "user info (user:password@) is not allowed in the endpoint",
            ));
        }
        if auth.host().is_empty() {
            return Err(bad("missing host"));
        }
        if auth.as_str().ends_with(':') {
            return Err(bad("empty port"));
        }
        Ok(Self {
            scheme,
            authority: auth.as_str().to_string(),
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host (IPv6 hosts keep their brackets).
    pub fn host(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((h, p))
                if !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() =>
            {
                // `[::1]:5030` → `[::1]`; a bare `[::1]` has no ':' after ']'.
                if h.starts_with('[') && !h.ends_with(']') {
                    &self.authority
                } else {
                    h
                }
            }
            _ => &self.authority,
        }
    }

    /// `scheme://host[:port]` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}{path}", self.authority)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url(""))
    }
}

/// The OneGate token (`X-ONEGATE-TOKEN`). A secret: `Debug` prints
/// `Token(<redacted>)`, there is no `Display`, and the value is only handed
/// to the HTTP layer.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token. Rejects values with control characters (they would
    /// break the header); the error does not echo the value.
    pub fn new(value: impl Into<String>) -> Result<Self, OnegateError> {
        let value = value.into();
        if value.bytes().any(|b| b.is_ascii_control()) || !value.is_ascii() {
            return Err(OnegateError::InvalidArgument {
                what: "token".to_string(),
                reason: "contains control or non-ASCII characters (value not shown)".to_string(),
            });
        }
        Ok(Self(value))
    }

    /// The secret itself, for the header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the token in `text` by `<redacted>`.
    pub(crate) fn scrub(&self, text: String) -> String {
        if self.0.len() >= 4 && text.contains(self.0.as_str()) {
            text.replace(self.0.as_str(), "<redacted>")
        } else {
            text
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// HTTP method of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (idempotent, retried once after a dropped connection).
    Get,
    /// PUT (idempotent, retried once after a dropped connection).
    Put,
    /// POST (never retried).
    Post,
}

impl Method {
    /// Whether the Ruby client (Net::HTTP) retries it after a dropped connection.
    pub fn is_idempotent(self) -> bool {
        matches!(self, Self::Get | Self::Put)
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Post => "POST",
        }
    }
}

/// `application/x-www-form-urlencoded`.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// `application/json`.
pub const JSON: &str = "application/json";

/// Which VM a per-VM call targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmRef {
    /// This VM (`/vm`).
    Current,
    /// Another VM of the same service (`/vms/:id`).
    Id(u64),
}

impl VmRef {
    fn path(self) -> String {
        match self {
            Self::Current => "/vm".to_string(),
            Self::Id(id) => format!("/vms/{id}"),
        }
    }
}

/// VM actions OneGate accepts on `POST /vms/:id/action` (the official
/// client's list, including the 4.x compatibility names).
pub const VM_ACTIONS: &[&str] = &[
    "resume",
    "stop",
    "suspend",
    "terminate",
    "reboot",
    "poweroff",
    "resched",
    "unresched",
    "hold",
    "release",
    "delete",
    "shutdown",
];

/// One OneGate API call, described as data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// `GET /vm` or `GET /vms/:id`.
    VmShow(VmRef),
    /// `PUT /vm` (or `/vms/:id`) with `data=<K=V\nK2=V2>&type=1`.
    VmUpdate {
        /// Target VM.
        vm: VmRef,
        /// `KEY=VALUE` lines, sent byte for byte (a literal `\n` stays two
        /// characters, a real newline is `%0A`), like the official client.
        data: String,
    },
    /// `PUT /vm` (or `/vms/:id`) with a body already form-encoded by
    /// `stamen_core::form` (`update_body`, `status_body`, `UpdateBody` ...).
    VmUpdateForm {
        /// Target VM.
        vm: VmRef,
        /// `data=…&type=…`, sent as is.
        body: Vec<u8>,
    },
    /// `PUT /vm` (or `/vms/:id`) with `data=KEY&type=2`: erase one attribute.
    VmErase {
        /// Target VM.
        vm: VmRef,
        /// Attribute name.
        key: String,
    },
    /// `GET /service`; with `extended`, the body `extended=true` (form) like
    /// the official client, which yields full VM documents.
    ServiceShow {
        /// Ask for full VM documents.
        extended: bool,
    },
    /// `PUT /service/role/:role` with `{"cardinality":"N"}` as `application/json`.
    ServiceScale {
        /// Role name.
        role: String,
        /// New cardinality.
        cardinality: u32,
    },
    /// `POST /vms/:id/action` with `{"action":{"perform":A[,"params":true]}}`.
    VmAction {
        /// Target VM id.
        id: u64,
        /// One of [`VM_ACTIONS`].
        action: String,
        /// `--hard`.
        hard: bool,
    },
    /// `GET /vrouter` (body `extended=true` when extended).
    VrouterShow {
        /// Extended document.
        extended: bool,
    },
    /// `GET /vnet/:id` (body `extended=true` when extended).
    VnetShow {
        /// Virtual network id.
        id: u64,
        /// Extended document.
        extended: bool,
    },
}

/// The wire form of a [`Call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    /// Method.
    pub method: Method,
    /// Path (always absolute, never with a query).
    pub path: String,
    /// Body and its content type, if any.
    pub body: Option<(&'static str, Vec<u8>)>,
}

impl Call {
    /// Checks the arguments and builds the exact request.
    pub fn to_wire(&self) -> Result<WireRequest, OnegateError> {
        let extended_body = |extended: bool| extended.then(|| (FORM, b"extended=true".to_vec()));
        Ok(match self {
            Call::VmShow(vm) => WireRequest {
                method: Method::Get,
                path: vm.path(),
                body: None,
            },
            Call::VmUpdate { vm, data } => WireRequest {
                method: Method::Put,
                path: vm.path(),
                body: Some((FORM, form_body(data, 1).into_bytes())),
            },
            Call::VmUpdateForm { vm, body } => {
                if !body.starts_with(b"data=")
                    || !body.is_ascii()
                    || body.iter().any(|b| b.is_ascii_whitespace())
                {
                    return Err(OnegateError::InvalidArgument {
                        what: "form body".to_string(),
                        reason: "expected an encoded data=...&type=N body (ASCII, no whitespace)"
                            .to_string(),
                    });
                }
                WireRequest {
                    method: Method::Put,
                    path: vm.path(),
                    body: Some((FORM, body.clone())),
                }
            }
            Call::VmErase { vm, key } => WireRequest {
                method: Method::Put,
                path: vm.path(),
                body: Some((FORM, form_body(key, 2).into_bytes())),
            },
            Call::ServiceShow { extended } => WireRequest {
                method: Method::Get,
                path: "/service".to_string(),
                body: extended_body(*extended),
            },
            Call::ServiceScale { role, cardinality } => {
                if role.is_empty() {
                    return Err(OnegateError::InvalidArgument {
                        what: "role".to_string(),
                        reason: "empty role name".to_string(),
                    });
                }
                let mut path = String::from("/service/role/");
                percent_encode_into(&mut path, role, false);
                WireRequest {
                    method: Method::Put,
                    path,
                    body: Some((
                        JSON,
                        format!("{{\"cardinality\":\"{cardinality}\"}}").into_bytes(),
                    )),
                }
            }
            Call::VmAction { id, action, hard } => {
                if !VM_ACTIONS.contains(&action.as_str()) {
                    return Err(OnegateError::InvalidArgument {
                        what: "VM action".to_string(),
                        reason: format!("{action:?} is not one of {}", VM_ACTIONS.join(", ")),
                    });
                }
                let params = if *hard { ",\"params\":true" } else { "" };
                WireRequest {
                    method: Method::Post,
                    path: format!("/vms/{id}/action"),
                    body: Some((
                        JSON,
                        format!("{{\"action\":{{\"perform\":\"{action}\"{params}}}}}").into_bytes(),
                    )),
                }
            }
            Call::VrouterShow { extended } => WireRequest {
                method: Method::Get,
                path: "/vrouter".to_string(),
                body: extended_body(*extended),
            },
            Call::VnetShow { id, extended } => WireRequest {
                method: Method::Get,
                path: format!("/vnet/{id}"),
                body: extended_body(*extended),
            },
        })
    }
}

/// `data=<urlencoded>&type=<n>`: the one place the form body is encoded,
/// with `stamen-core`'s encoder (`form::encode_component`, the rules of
/// SPEC §5, byte-identical to the official client). `data` is sent verbatim
/// for both kinds, like the official client (no key check on erase: the
/// server answers).
pub fn form_body(data: &str, kind: u8) -> String {
    let mut encoded = vec![0u8; stamen_core::form::encoded_len(data.as_bytes())];
    // The buffer has exactly the encoded length, so this cannot fail.
    let n = stamen_core::form::encode_component(data.as_bytes(), &mut encoded).unwrap_or(0);
    encoded.truncate(n);
    let mut out = String::with_capacity(n + 12);
    out.push_str("data=");
    out.push_str(&String::from_utf8_lossy(&encoded));
    out.push_str("&type=");
    out.push(char::from(b'0' + kind % 10));
    out
}

/// Percent-encodes `s` into `out` keeping `*-._0-9A-Za-z` (UTF-8 bytes
/// otherwise, upper-case hex). With `space_plus`, a space becomes `+`
/// (form encoding); without, `%20` (path segments such as role names).
pub fn percent_encode_into(out: &mut String, s: &str, space_plus: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(b))
            }
            b' ' if space_plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ignores_path_and_keeps_port() {
        let e = Endpoint::parse("http://127.0.0.1:34111/onegate/api").unwrap();
        assert_eq!(e.url("/vm"), "http://127.0.0.1:34111/vm");
        assert_eq!(e.host(), "127.0.0.1");
        let e = Endpoint::parse("https://[::1]:5030").unwrap();
        assert_eq!(e.scheme(), Scheme::Https);
        assert_eq!(e.host(), "[::1]");
        assert_eq!(e.url("/service"), "https://[::1]:5030/service");
        let e = Endpoint::parse("http://onegate").unwrap();
        assert_eq!(e.host(), "onegate");
    }

    #[test]
    fn endpoint_rejects_bad_values() {
        for bad in [
            "",
            "169.254.16.9:5030",
            "ftp://x",
            "http://",
            "http://u:p@h:1",
            "not a url",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(
                matches!(err, OnegateError::InvalidEndpoint { .. }),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn token_debug_is_redacted_and_control_chars_rejected() {
        let t = Token::new("dO0R8Lm5mSxW5cUo6ZQ1Yw==").unwrap();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("dO0R8"), "{dbg}");
        assert_eq!(dbg, "Token(<redacted>)");
        let err = Token::new("abc\r\nX-Evil: 1").unwrap_err();
        assert!(!err.to_string().contains("Evil"));
        assert_eq!(
            t.scrub("got dO0R8Lm5mSxW5cUo6ZQ1Yw== back".into()),
            "got <redacted> back"
        );
    }

    #[test]
    fn form_encoding_matches_ruby_vectors() {
        assert_eq!(form_body("A=1\\nB=2", 1), "data=A%3D1%5CnB%3D2&type=1");
        assert_eq!(form_body("A=1\nB=2", 1), "data=A%3D1%0AB%3D2&type=1");
        assert_eq!(
            form_body("MSG=hello world & co; 100%=\"ok\"/\u{e9}", 1),
            "data=MSG%3Dhello+world+%26+co%3B+100%25%3D%22ok%22%2F%C3%A9&type=1"
        );
        assert_eq!(form_body("NOPE", 2), "data=NOPE&type=2");
        assert_eq!(form_body("*-._~", 1), "data=*-._%7E&type=1");
    }

    #[test]
    fn wire_forms() {
        let w = Call::ServiceScale {
            role: "x".into(),
            cardinality: 3,
        }
        .to_wire()
        .unwrap();
        assert_eq!(
            (w.method, w.path.as_str()),
            (Method::Put, "/service/role/x")
        );
        assert_eq!(w.body, Some((JSON, b"{\"cardinality\":\"3\"}".to_vec())));
        let w = Call::VmAction {
            id: 43,
            action: "terminate".into(),
            hard: true,
        }
        .to_wire()
        .unwrap();
        assert_eq!(
            w.body.unwrap().1,
            b"{\"action\":{\"perform\":\"terminate\",\"params\":true}}"
        );
        let w = Call::VmAction {
            id: 43,
            action: "reboot".into(),
            hard: false,
        }
        .to_wire()
        .unwrap();
        assert_eq!(w.path, "/vms/43/action");
        assert_eq!(w.body.unwrap().1, b"{\"action\":{\"perform\":\"reboot\"}}");
        assert!(Call::VmAction {
            id: 1,
            action: "explode".into(),
            hard: false
        }
        .to_wire()
        .is_err());
        let w = Call::ServiceShow { extended: true }.to_wire().unwrap();
        assert_eq!(
            (w.method, w.body),
            (Method::Get, Some((FORM, b"extended=true".to_vec())))
        );
        let w = Call::ServiceScale {
            role: "a/b c".into(),
            cardinality: 0,
        }
        .to_wire()
        .unwrap();
        assert_eq!(w.path, "/service/role/a%2Fb%20c");
        assert!(Call::ServiceScale {
            role: String::new(),
            cardinality: 1
        }
        .to_wire()
        .is_err());
        assert!(Method::Put.is_idempotent() && !Method::Post.is_idempotent());
        let w = Call::VmUpdateForm {
            vm: VmRef::Id(43),
            body: b"data=A%3D1&type=1".to_vec(),
        }
        .to_wire()
        .unwrap();
        assert_eq!((w.method, w.path.as_str()), (Method::Put, "/vms/43"));
        assert_eq!(w.body, Some((FORM, b"data=A%3D1&type=1".to_vec())));
        assert!(Call::VmUpdateForm {
            vm: VmRef::Current,
            body: b"A=1\n".to_vec()
        }
        .to_wire()
        .is_err());
    }
}
