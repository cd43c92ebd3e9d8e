//! Errors of the OneGate client.
//!
//! Our own code classifies every outcome (ureq is configured so that non-2xx
//! statuses are not errors): each HTTP status class the OneGate server uses
//! and each transport failure has its own variant, so callers can tell a
//! retryable condition from a configuration mistake.

use std::fmt;

/// Everything that can go wrong when talking to OneGate.
///
/// No variant ever holds the token: the token lives in
/// [`Token`](super::Token), whose `Debug` is redacted, and server texts are
/// scrubbed of it before they are stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnegateError {
    /// `ONEGATE_ENDPOINT` (or the configured endpoint) is missing or is not an
    /// `http://` / `https://` URL with a host.
    InvalidEndpoint {
        /// The offending value (endpoints are not secret).
        value: String,
        /// What is wrong with it and what is allowed.
        reason: String,
    },
    /// A request argument is not acceptable (bad VM id, unknown action, a
    /// header value with control characters, an unreadable CA file ...).
    InvalidArgument {
        /// Which argument.
        what: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// HTTP 400: unknown route, or a VM outside this VM's service.
    BadRequest {
        /// The server's text.
        message: String,
    },
    /// HTTP 401: missing or bad token / VMID.
    Unauthorized {
        /// The server's text.
        message: String,
    },
    /// HTTP 403: restricted attribute or action not allowed.
    Forbidden {
        /// The server's text.
        message: String,
    },
    /// HTTP 404: unknown VM, service, vnet ...
    NotFound {
        /// The server's text.
        message: String,
    },
    /// HTTP 5xx: server-side failure (template errors are 500).
    Server {
        /// The status code (500..=599).
        status: u16,
        /// The server's text.
        message: String,
        /// `Retry-After` in seconds, when the server sent one (delta form).
        retry_after: Option<u64>,
    },
    /// Any other non-2xx status (other 4xx such as 429, 3xx: redirects are
    /// not followed).
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The server's text.
        message: String,
        /// `Retry-After` in seconds, when the server sent one (delta form).
        retry_after: Option<u64>,
    },
    /// The TCP (or proxy) connection could not be established: refused,
    /// unreachable, name not resolved.
    Connect {
        /// What the operating system / resolver said.
        detail: String,
    },
    /// The connection was closed or reset before a complete response arrived
    /// (the Ruby client reports this as `end of file reached`).
    ConnectionClosed {
        /// What was observed.
        detail: String,
    },
    /// A configured timeout expired.
    Timeout {
        /// Which phase timed out (`connect`, `recv_response`, `global` ...).
        phase: String,
    },
    /// TLS handshake or certificate verification failed.
    Tls {
        /// The TLS library's explanation.
        detail: String,
    },
    /// The response body is larger than the configured bound.
    TooLarge {
        /// The bound in bytes.
        limit: u64,
    },
    /// The response body is not the JSON document we expected.
    BadJson {
        /// The parser's explanation (line/column included).
        detail: String,
    },
    /// Any other HTTP-level failure (malformed response, bad proxy URL ...).
    Http {
        /// Explanation.
        detail: String,
    },
}

impl OnegateError {
    /// The text the Ruby `onegate` client prints after `ERROR: `: the server's
    /// body for status errors, `end of file reached` for a dropped connection,
    /// our own explanation otherwise.
    pub fn client_message(&self) -> String {
        match self {
            Self::BadRequest { message }
            | Self::Unauthorized { message }
            | Self::Forbidden { message }
            | Self::NotFound { message }
            | Self::Server { message, .. }
            | Self::UnexpectedStatus { message, .. } => message.clone(),
            Self::ConnectionClosed { .. } => "end of file reached".to_string(),
            other => other.to_string(),
        }
    }

    /// The server's text inside a status error, for in-place scrubbing.
    pub(crate) fn message_mut(&mut self) -> Option<&mut String> {
        match self {
            Self::BadRequest { message }
            | Self::Unauthorized { message }
            | Self::Forbidden { message }
            | Self::NotFound { message }
            | Self::Server { message, .. }
            | Self::UnexpectedStatus { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered with a non-2xx status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::BadRequest { .. } => Some(400),
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::Server { status, .. } | Self::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's `Retry-After` hint (SPEC §3 raises the next backoff
    /// delay to it), for 5xx and other unexpected statuses such as 429.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Server { retry_after, .. } | Self::UnexpectedStatus { retry_after, .. } => {
                retry_after.map(std::time::Duration::from_secs)
            }
            _ => None,
        }
    }

    /// True when retrying later may succeed without changing anything on our
    /// side: transport failures, timeouts, 5xx and 429. Configuration and
    /// permission problems (400/401/403/404, bad endpoint, bad JSON, TLS
    /// verification) are not transient.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::ConnectionClosed { .. }
                | Self::Timeout { .. }
                | Self::Server { .. }
                | Self::UnexpectedStatus { status: 429, .. }
        )
    }
}

impl fmt::Display for OnegateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEndpoint { value, reason } => {
                write!(f, "invalid OneGate endpoint {value:?}: {reason}")
            }
            Self::InvalidArgument { what, reason } => write!(f, "invalid {what}: {reason}"),
            Self::BadRequest { message } => write!(f, "OneGate 400 Bad Request: {message}"),
            Self::Unauthorized { message } => write!(f, "OneGate 401 Unauthorized: {message}"),
            Self::Forbidden { message } => write!(f, "OneGate 403 Forbidden: {message}"),
            Self::NotFound { message } => write!(f, "OneGate 404 Not Found: {message}"),
            Self::Server {
                status, message, ..
            } => {
                write!(f, "OneGate server error {status}: {message}")
            }
            Self::UnexpectedStatus {
                status, message, ..
            } => {
                write!(f, "OneGate unexpected status {status}: {message}")
            }
            Self::Connect { detail } => write!(f, "cannot connect to OneGate: {detail}"),
            Self::ConnectionClosed { detail } => {
                write!(
                    f,
                    "OneGate closed the connection before answering: {detail}"
                )
            }
            Self::Timeout { phase } => write!(f, "OneGate request timed out ({phase})"),
            Self::Tls { detail } => write!(f, "TLS error talking to OneGate: {detail}"),
            Self::TooLarge { limit } => {
                write!(f, "OneGate response larger than the {limit}-byte limit")
            }
            Self::BadJson { detail } => write!(f, "OneGate returned invalid JSON: {detail}"),
            Self::Http { detail } => write!(f, "HTTP error talking to OneGate: {detail}"),
        }
    }
}

impl std::error::Error for OnegateError {}
