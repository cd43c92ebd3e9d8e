//! Network addresses from the context: the SuperLink `host:port` (it reaches
//! a command line, so it is validated strictly) and the OneGate endpoint URL.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// What is wrong with an address.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrError {
    /// The address is empty.
    Empty,
    /// The address is longer than 261 bytes (a 253-byte name, `:` and a port).
    TooLong,
    /// The address contains whitespace or a control character.
    Whitespace,
    /// The address contains a character a shell or URL would interpret
    /// (`;`, `&`, `|`, `$`, a quote, `/`, `@`, …).
    ForbiddenChar(char),
    /// There is no `:port` after the host.
    MissingPort,
    /// The port is not a decimal number.
    InvalidPort,
    /// The port is 0.
    PortZero,
    /// The port is above 65535.
    PortOutOfRange,
    /// The host looks like an IPv4 address (only digits and dots) but is not one.
    InvalidIpv4,
    /// The text between `[` and `]` is not an IPv6 address (zones `%x` are refused).
    InvalidIpv6,
    /// An IPv6 address without brackets (`::1:8000`): write `[::1]:8000`.
    UnbracketedIpv6,
    /// The host is not a valid DNS name (labels of 1–63 letters, digits and
    /// `-`, not starting or ending with `-`, 253 bytes at most).
    InvalidHostname,
    /// ONEGATE_ENDPOINT: the scheme is not `http://` or `https://`.
    InvalidScheme,
}

impl AddrError {
    /// One-line description.
    pub const fn message(self) -> &'static str {
        match self {
            AddrError::Empty => "empty address",
            AddrError::TooLong => "address too long",
            AddrError::Whitespace => "whitespace or control character in address",
            AddrError::ForbiddenChar(_) => "forbidden character in address",
            AddrError::MissingPort => "missing port",
            AddrError::InvalidPort => "port is not a decimal number",
            AddrError::PortZero => "port 0 is not allowed",
            AddrError::PortOutOfRange => "port out of range",
            AddrError::InvalidIpv4 => "invalid IPv4 address",
            AddrError::InvalidIpv6 => "invalid IPv6 address",
            AddrError::UnbracketedIpv6 => "IPv6 address must be in brackets",
            AddrError::InvalidHostname => "invalid host name",
            AddrError::InvalidScheme => "scheme must be http:// or https://",
        }
    }
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::ForbiddenChar(c) => write!(f, "forbidden character {:?} in address", c),
            other => f.write_str(other.message()),
        }
    }
}

impl core::error::Error for AddrError {}

/// The host part of an address.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
    /// A DNS name, borrowed from the input.
    Dns(&'a str),
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(a) => write!(f, "{}", a),
            Host::Ipv6(a) => write!(f, "[{}]", a),
            Host::Dns(d) => f.write_str(d),
        }
    }
}

/// A validated SuperLink address: `IPv4:port`, `[IPv6]:port` or
/// `dns-name:port`, port 1–65535. A checked view over the input text, which
/// is safe to put on a command line as one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SuperlinkAddr<'a> {
    text: &'a str,
    host: Host<'a>,
    port: u16,
}

impl<'a> SuperlinkAddr<'a> {
    /// What [`SuperlinkAddr::parse`] accepts, for error messages.
    pub const ALLOWED: &'static str = "IPv4:port, [IPv6]:port or dns-name:port with port 1-65535";

    /// Validates `text`.
    pub fn parse(text: &'a str) -> Result<Self, AddrError> {
        let (host, port) = parse_host_port(text)?;
        match port {
            Some(port) => Ok(SuperlinkAddr { text, host, port }),
            None => Err(AddrError::MissingPort),
        }
    }

    /// The address exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The port (never 0).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for SuperlinkAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

fn parse_port(p: &str) -> Result<u16, AddrError> {
    if p.is_empty() {
        return Err(AddrError::MissingPort);
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::InvalidPort);
    }
    // Digits only: strip leading zeros so that very long inputs still classify.
    let trimmed = p.trim_start_matches('0');
    if trimmed.is_empty() {
        return Err(AddrError::PortZero);
    }
    if trimmed.len() > 5 {
        return Err(AddrError::PortOutOfRange);
    }
    let mut v: u32 = 0;
    for b in trimmed.bytes() {
        v = v
            .saturating_mul(10)
            .saturating_add(u32::from(b.saturating_sub(b'0')));
    }
    u16::try_from(v).map_err(|_| AddrError::PortOutOfRange)
}

fn valid_dns(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

fn parse_host(host: &str) -> Result<Host<'_>, AddrError> {
    if host.is_empty() {
        return Err(AddrError::InvalidHostname);
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host
            .parse::<Ipv4Addr>()
            .map(Host::Ipv4)
            .map_err(|_| AddrError::InvalidIpv4);
    }
    if valid_dns(host) {
        Ok(Host::Dns(host))
    } else {
        Err(AddrError::InvalidHostname)
    }
}

/// Splits and validates `host[:port]`. Shared by [`SuperlinkAddr`] and [`OnegateEndpoint`].
fn parse_host_port(text: &str) -> Result<(Host<'_>, Option<u16>), AddrError> {
    if text.is_empty() {
        return Err(AddrError::Empty);
    }
    if text.len() > 261 {
        return Err(AddrError::TooLong);
    }
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            return Err(AddrError::Whitespace);
        }
        if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')) {
            return Err(AddrError::ForbiddenChar(c));
        }
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = match rest.split_once(']') {
            Some(x) => x,
            None => return Err(AddrError::InvalidIpv6),
        };
        let ip = inside
            .parse::<Ipv6Addr>()
            .map_err(|_| AddrError::InvalidIpv6)?;
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(parse_port(p)?),
                None => return Err(AddrError::InvalidIpv6),
            },
        };
        return Ok((Host::Ipv6(ip), port));
    }
    if text.contains('[') || text.contains(']') {
        return Err(AddrError::ForbiddenChar(if text.contains('[') {
            '['
        } else {
            ']'
        }));
    }
    match text.bytes().filter(|&b| b == b':').count() {
        0 => Ok((parse_host(text)?, None)),
        1 => {
            let (h, p) = text.split_once(':').unwrap_or((text, ""));
            let host = parse_host(h)?;
            Ok((host, Some(parse_port(p)?)))
        }
        _ => Err(AddrError::UnbracketedIpv6),
    }
}

/// URL scheme of the OneGate endpoint.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http://` (default port 80).
    Http,
    /// `https://` (default port 443).
    Https,
}

/// A validated `ONEGATE_ENDPOINT`: only scheme, host and port are used; any
/// path is ignored (as the OneGate client does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OnegateEndpoint<'a> {
    text: &'a str,
    scheme: Scheme,
    host: Host<'a>,
    port: u16,
}

impl<'a> OnegateEndpoint<'a> {
    /// What [`OnegateEndpoint::parse`] accepts, for error messages.
    pub const ALLOWED: &'static str = "http://host[:port][/path] or https://host[:port][/path]";

    /// Validates `text` (e.g. `http://169.254.16.9:5030`).
    pub fn parse(text: &'a str) -> Result<Self, AddrError> {
        if text.is_empty() {
            return Err(AddrError::Empty);
        }
        let lower_starts = |p: &str| {
            text.get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
        };
        let (scheme, rest) = if lower_starts("http://") {
            (Scheme::Http, text.get(7..).unwrap_or(""))
        } else if lower_starts("https://") {
            (Scheme::Https, text.get(8..).unwrap_or(""))
        } else {
            return Err(AddrError::InvalidScheme);
        };
        let authority = match rest.find(['/', '?', '#']) {
            Some(i) => rest.get(..i).unwrap_or(rest),
            None => rest,
        };
        let (host, port) = parse_host_port(authority)?;
        let port = port.unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        Ok(OnegateEndpoint {
            text,
            scheme,
            host,
            port,
        })
    }

    /// The URL as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The port (explicit, or 80/443 from the scheme).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for OnegateEndpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}
