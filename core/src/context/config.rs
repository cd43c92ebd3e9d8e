//! [`EdgeConfig`]: the typed FL settings of a SuperNode VM (SPEC §2), built
//! from any source of `(key, value, position)` triples.

use super::addr::{AddrError, OnegateEndpoint, SuperlinkAddr};
use super::node_config::{NodeConfig, NodeConfigError};
use super::parser::Pos;
use core::fmt;

/// One variable: name, (unescaped) value and where the name was written
/// (`None` for variables from the process environment). `Debug` prints
/// `<redacted>` for the value of a secret key ([`is_secret_key`](super::is_secret_key)).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Var<'a> {
    /// Variable name.
    pub key: &'a str,
    /// Value, escapes resolved.
    pub value: &'a str,
    /// Position of the name in its file, if it came from a file.
    pub pos: Option<Pos>,
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if super::is_secret_key(self.key) {
            &"<redacted>"
        } else {
            &self.value
        };
        f.debug_struct("Var")
            .field("key", &self.key)
            .field("value", value)
            .field("pos", &self.pos)
            .finish()
    }
}

/// Discovery retry strategy (`FL_EDGE_BACKOFF`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BackoffStrategy {
    /// `exponential` (default): 10 s doubling up to `FL_EDGE_MAX_BACKOFF`.
    #[default]
    Exponential,
    /// `fixed`: the legacy 10 s interval.
    Fixed,
}

/// How the SuperNode runs ClientApps (`FL_ISOLATION`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Isolation {
    /// `subprocess` (default).
    #[default]
    Subprocess,
    /// `process`.
    Process,
}

/// SuperNode log level (`FL_LOG_LEVEL`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LogLevel {
    /// `DEBUG`.
    Debug,
    /// `INFO` (default).
    #[default]
    Info,
    /// `WARNING`.
    Warning,
    /// `ERROR`.
    Error,
}

impl BackoffStrategy {
    /// The context spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            BackoffStrategy::Exponential => "exponential",
            BackoffStrategy::Fixed => "fixed",
        }
    }
}

impl Isolation {
    /// The context (and Flower `--isolation`) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Isolation::Subprocess => "subprocess",
            Isolation::Process => "process",
        }
    }
}

impl LogLevel {
    /// The context spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// Why a variable is invalid. Each variant knows what is allowed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigErrorKind {
    /// The value is not one of a fixed set of words (compared ignoring ASCII case).
    InvalidChoice {
        /// The allowed words.
        allowed: &'static str,
    },
    /// The value is not a decimal integer in `min..=max`.
    InvalidInteger {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// The value is not a valid address or URL.
    InvalidAddress {
        /// What is wrong.
        error: AddrError,
        /// What is allowed.
        allowed: &'static str,
    },
    /// `FL_NODE_CONFIG` does not parse.
    InvalidNodeConfig(NodeConfigError),
    /// A required variable is absent or empty.
    Missing {
        /// Why it is required.
        because: &'static str,
    },
}

/// An invalid or missing variable: key as written, bad value, position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConfigError<'a> {
    /// The variable name as written (e.g. `ONEAPP_FL_EDGE_BACKOFF`).
    pub key: &'a str,
    /// The offending value (empty for [`ConfigErrorKind::Missing`]).
    pub value: &'a str,
    /// Where the key was written, if it came from a file.
    pub pos: Option<Pos>,
    /// What is wrong and what is allowed.
    pub kind: ConfigErrorKind,
}

impl fmt::Display for ConfigError<'_> {
    /// `KEY: message (allowed: …)`; prefix `FILE:LINE:COL: ` yourself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = Quoted(self.value);
        match self.kind {
            ConfigErrorKind::InvalidChoice { allowed } => {
                write!(
                    f,
                    "{}: invalid value \"{}\" (allowed: {})",
                    self.key, v, allowed
                )
            }
            ConfigErrorKind::InvalidInteger { min, max } => write!(
                f,
                "{}: invalid value \"{}\" (allowed: an integer from {} to {})",
                self.key, v, min, max
            ),
            ConfigErrorKind::InvalidAddress { error, allowed } => write!(
                f,
                "{}: invalid value \"{}\": {} (allowed: {})",
                self.key, v, error, allowed
            ),
            ConfigErrorKind::InvalidNodeConfig(e) => write!(
                f,
                "{}: invalid value \"{}\": {} (allowed: {})",
                self.key,
                v,
                e,
                NodeConfig::ALLOWED
            ),
            ConfigErrorKind::Missing { because } => {
                write!(f, "{}: missing ({})", self.key, because)
            }
        }
    }
}

impl core::error::Error for ConfigError<'_> {}

/// Writes a value for a double-quoted message: `"`, `\\` and control
/// characters are escaped, everything else (including `'`) is kept.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A fixed-capacity list of [`ConfigError`]s. When full, further errors are
/// counted in [`ConfigErrors::dropped`], never silently lost.
#[derive(Clone, Debug, Default)]
pub struct ConfigErrors<'a, const N: usize> {
    list: heapless::Vec<ConfigError<'a>, N>,
    dropped: usize,
}

impl<'a, const N: usize> ConfigErrors<'a, N> {
    /// An empty list.
    pub fn new() -> Self {
        ConfigErrors {
            list: heapless::Vec::new(),
            dropped: 0,
        }
    }

    fn push(&mut self, e: ConfigError<'a>) {
        if self.list.push(e).is_err() {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// The stored errors, in input order.
    pub fn iter(&self) -> core::slice::Iter<'_, ConfigError<'a>> {
        self.list.iter()
    }

    /// The stored errors as a slice.
    pub fn as_slice(&self) -> &[ConfigError<'a>] {
        &self.list
    }

    /// Number of stored errors.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there is no error at all (stored or dropped).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.dropped == 0
    }

    /// Errors that did not fit in the list.
    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

/// The validated FL settings of an edge VM. Defaults follow SPEC §2; for
/// each `FL_X` the first non-empty of `ONEAPP_FL_X`, `FL_X` is used (an
/// empty value means "unset → default"; for repeated keys the last wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeConfig<'a> {
    superlink: Option<SuperlinkAddr<'a>>,
    backoff: BackoffStrategy,
    max_backoff_secs: u32,
    max_retries: u32,
    max_wait_time_secs: u32,
    node_config: NodeConfig<'a>,
    isolation: Isolation,
    log_level: LogLevel,
    tls_enabled: bool,
    min_fit_clients: Option<u32>,
    vmid: Option<u32>,
    onegate_endpoint: Option<OnegateEndpoint<'a>>,
}

impl Default for EdgeConfig<'_> {
    fn default() -> Self {
        EdgeConfig {
            superlink: None,
            backoff: BackoffStrategy::Exponential,
            max_backoff_secs: EdgeConfig::DEFAULT_MAX_BACKOFF_SECS,
            max_retries: 0,
            max_wait_time_secs: 0,
            node_config: NodeConfig::EMPTY,
            isolation: Isolation::Subprocess,
            log_level: LogLevel::Info,
            tls_enabled: true,
            min_fit_clients: None,
            vmid: None,
            onegate_endpoint: None,
        }
    }
}

/// A value with the precedence of the key that set it (0 = unset).
#[derive(Clone, Copy)]
struct Slot<T> {
    prio: u8,
    value: Option<T>,
}

impl<T: Copy> Slot<T> {
    const EMPTY: Self = Slot {
        prio: 0,
        value: None,
    };

    fn offer(&mut self, prio: u8, value: T) {
        if prio >= self.prio {
            self.prio = prio;
            self.value = Some(value);
        }
    }
}

fn choice<T: Copy>(v: &str, options: &[(&str, T)]) -> Option<T> {
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(v))
        .map(|&(_, t)| t)
}

fn integer(v: &str, min: u32) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u32 = 0;
    for b in v.bytes() {
        n = n
            .checked_mul(10)?
            .checked_add(u32::from(b.saturating_sub(b'0')))?;
    }
    if n < min {
        None
    } else {
        Some(n)
    }
}

impl<'a> EdgeConfig<'a> {
    /// Default cap of the exponential backoff, seconds.
    pub const DEFAULT_MAX_BACKOFF_SECS: u32 = 300;
    /// Allowed words of `FL_EDGE_BACKOFF`.
    pub const BACKOFF_ALLOWED: &'static str = "exponential, fixed";
    /// Allowed words of `FL_ISOLATION`.
    pub const ISOLATION_ALLOWED: &'static str = "subprocess, process";
    /// Allowed words of `FL_LOG_LEVEL`.
    pub const LOG_LEVEL_ALLOWED: &'static str = "DEBUG, INFO, WARNING, ERROR";
    /// Allowed words of `FL_TLS_ENABLED`.
    pub const TLS_ALLOWED: &'static str = "YES, NO";

    /// The FL settings read by [`EdgeConfig::build`] (each also accepted
    /// with the `ONEAPP_` prefix).
    pub const FL_SETTINGS: &'static [&'static str] = &[
        "FL_SUPERLINK_ADDRESS",
        "FL_EDGE_BACKOFF",
        "FL_EDGE_MAX_BACKOFF",
        "FL_MAX_RETRIES",
        "FL_MAX_WAIT_TIME",
        "FL_NODE_CONFIG",
        "FL_ISOLATION",
        "FL_LOG_LEVEL",
        "FL_TLS_ENABLED",
        "FL_MIN_FIT_CLIENTS",
    ];

    /// True for a `FL_*` / `ONEAPP_FL_*` name that is not one of
    /// [`EdgeConfig::FL_SETTINGS`] (a typo, or a setting for another role):
    /// [`EdgeConfig::build`] ignores it, so callers should warn.
    pub fn is_unknown_fl_key(key: &str) -> bool {
        let name = key.strip_prefix("ONEAPP_").unwrap_or(key);
        name.starts_with("FL_") && !Self::FL_SETTINGS.contains(&name)
    }

    /// Builds the config from `vars`, collecting every error (up to `N`,
    /// the rest counted). Invalid values leave the default in place.
    /// Variables other than the FL ones, `VMID`, `ONEGATE_ENDPOINT` and
    /// `TOKEN` are ignored.
    pub fn build<I, const N: usize>(vars: I) -> (EdgeConfig<'a>, ConfigErrors<'a, N>)
    where
        I: IntoIterator<Item = Var<'a>>,
    {
        let mut errors = ConfigErrors::<'a, N>::new();
        let mut superlink = Slot::EMPTY;
        let mut backoff = Slot::EMPTY;
        let mut max_backoff = Slot::EMPTY;
        let mut max_retries = Slot::EMPTY;
        let mut max_wait = Slot::EMPTY;
        let mut node_config = Slot::EMPTY;
        let mut isolation = Slot::EMPTY;
        let mut log_level = Slot::EMPTY;
        let mut tls = Slot::EMPTY;
        let mut min_fit = Slot::EMPTY;
        let mut vmid: Slot<u32> = Slot::EMPTY;
        let mut vmid_seen = false;
        let mut endpoint = Slot::EMPTY;
        let mut endpoint_seen = false;
        let mut token_yes: Option<Var<'a>> = None;

        for var in vars {
            let Var { key, value, pos } = var;
            let mut err = |kind| {
                errors.push(ConfigError {
                    key,
                    value,
                    pos,
                    kind,
                })
            };
            match key {
                "VMID" => {
                    vmid_seen |= !value.is_empty();
                    if value.is_empty() {
                        continue;
                    }
                    match integer(value, 0) {
                        Some(n) => vmid.offer(1, n),
                        None => err(ConfigErrorKind::InvalidInteger {
                            min: 0,
                            max: u64::from(u32::MAX),
                        }),
                    }
                    continue;
                }
                "ONEGATE_ENDPOINT" => {
                    endpoint_seen |= !value.is_empty();
                    if value.is_empty() {
                        continue;
                    }
                    match OnegateEndpoint::parse(value) {
                        Ok(e) => endpoint.offer(1, e),
                        Err(error) => err(ConfigErrorKind::InvalidAddress {
                            error,
                            allowed: OnegateEndpoint::ALLOWED,
                        }),
                    }
                    continue;
                }
                "TOKEN" => {
                    token_yes = if value.eq_ignore_ascii_case("YES") {
                        Some(var)
                    } else {
                        None
                    };
                    continue;
                }
                _ => {}
            }
            let (prio, name) = match key.strip_prefix("ONEAPP_FL_") {
                Some(rest) => (2u8, rest),
                None => match key.strip_prefix("FL_") {
                    Some(rest) => (1u8, rest),
                    None => continue,
                },
            };
            if value.is_empty() {
                continue;
            }
            match name {
                "SUPERLINK_ADDRESS" => match SuperlinkAddr::parse(value) {
                    Ok(a) => superlink.offer(prio, a),
                    Err(error) => err(ConfigErrorKind::InvalidAddress {
                        error,
                        allowed: SuperlinkAddr::ALLOWED,
                    }),
                },
                "EDGE_BACKOFF" => match choice(
                    value,
                    &[
                        ("exponential", BackoffStrategy::Exponential),
                        ("fixed", BackoffStrategy::Fixed),
                    ],
                ) {
                    Some(v) => backoff.offer(prio, v),
                    None => err(ConfigErrorKind::InvalidChoice {
                        allowed: Self::BACKOFF_ALLOWED,
                    }),
                },
                "EDGE_MAX_BACKOFF" | "MAX_RETRIES" | "MAX_WAIT_TIME" | "MIN_FIT_CLIENTS" => {
                    let min = if matches!(name, "EDGE_MAX_BACKOFF" | "MIN_FIT_CLIENTS") {
                        1
                    } else {
                        0
                    };
                    let slot = match name {
                        "EDGE_MAX_BACKOFF" => &mut max_backoff,
                        "MAX_RETRIES" => &mut max_retries,
                        "MAX_WAIT_TIME" => &mut max_wait,
                        _ => &mut min_fit,
                    };
                    match integer(value, min) {
                        Some(n) => slot.offer(prio, n),
                        None => err(ConfigErrorKind::InvalidInteger {
                            min: u64::from(min),
                            max: u64::from(u32::MAX),
                        }),
                    }
                }
                "NODE_CONFIG" => match NodeConfig::parse(value) {
                    Ok(c) => node_config.offer(prio, c),
                    Err(e) => err(ConfigErrorKind::InvalidNodeConfig(e)),
                },
                "ISOLATION" => match choice(
                    value,
                    &[
                        ("subprocess", Isolation::Subprocess),
                        ("process", Isolation::Process),
                    ],
                ) {
                    Some(v) => isolation.offer(prio, v),
                    None => err(ConfigErrorKind::InvalidChoice {
                        allowed: Self::ISOLATION_ALLOWED,
                    }),
                },
                "LOG_LEVEL" => match choice(
                    value,
                    &[
                        ("DEBUG", LogLevel::Debug),
                        ("INFO", LogLevel::Info),
                        ("WARNING", LogLevel::Warning),
                        ("ERROR", LogLevel::Error),
                    ],
                ) {
                    Some(v) => log_level.offer(prio, v),
                    None => err(ConfigErrorKind::InvalidChoice {
                        allowed: Self::LOG_LEVEL_ALLOWED,
                    }),
                },
                "TLS_ENABLED" => match choice(value, &[("YES", true), ("NO", false)]) {
                    Some(v) => tls.offer(prio, v),
                    None => err(ConfigErrorKind::InvalidChoice {
                        allowed: Self::TLS_ALLOWED,
                    }),
                },
                _ => {}
            }
        }

        if let Some(t) = token_yes {
            for (seen, key) in [(vmid_seen, "VMID"), (endpoint_seen, "ONEGATE_ENDPOINT")] {
                if !seen {
                    errors.push(ConfigError {
                        key,
                        value: "",
                        pos: t.pos,
                        kind: ConfigErrorKind::Missing {
                            because: "OpenNebula sets it whenever TOKEN=YES",
                        },
                    });
                }
            }
        }

        let config = EdgeConfig {
            superlink: superlink.value,
            backoff: backoff.value.unwrap_or_default(),
            max_backoff_secs: max_backoff.value.unwrap_or(Self::DEFAULT_MAX_BACKOFF_SECS),
            max_retries: max_retries.value.unwrap_or(0),
            max_wait_time_secs: max_wait.value.unwrap_or(0),
            node_config: node_config.value.unwrap_or(NodeConfig::EMPTY),
            isolation: isolation.value.unwrap_or_default(),
            log_level: log_level.value.unwrap_or_default(),
            tls_enabled: tls.value.unwrap_or(true),
            min_fit_clients: min_fit.value,
            vmid: vmid.value,
            onegate_endpoint: endpoint.value,
        };
        (config, errors)
    }

    /// Like [`EdgeConfig::build`], but an error list means failure.
    pub fn from_vars<I, const N: usize>(vars: I) -> Result<EdgeConfig<'a>, ConfigErrors<'a, N>>
    where
        I: IntoIterator<Item = Var<'a>>,
    {
        let (config, errors) = Self::build::<I, N>(vars);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// `FL_SUPERLINK_ADDRESS`; `None` means "discover via OneGate".
    pub fn superlink(&self) -> Option<SuperlinkAddr<'a>> {
        self.superlink
    }

    /// `FL_EDGE_BACKOFF`.
    pub fn backoff(&self) -> BackoffStrategy {
        self.backoff
    }

    /// `FL_EDGE_MAX_BACKOFF` in seconds (> 0).
    pub fn max_backoff_secs(&self) -> u32 {
        self.max_backoff_secs
    }

    /// `FL_MAX_RETRIES` (0 = unlimited).
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// `FL_MAX_WAIT_TIME` in seconds (0 = unlimited).
    pub fn max_wait_time_secs(&self) -> u32 {
        self.max_wait_time_secs
    }

    /// `FL_NODE_CONFIG` (empty → derive the partition, SPEC §5).
    pub fn node_config(&self) -> NodeConfig<'a> {
        self.node_config
    }

    /// `FL_ISOLATION`.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// `FL_LOG_LEVEL`.
    pub fn log_level(&self) -> LogLevel {
        self.log_level
    }

    /// `FL_TLS_ENABLED`.
    pub fn tls_enabled(&self) -> bool {
        self.tls_enabled
    }

    /// `FL_MIN_FIT_CLIENTS` (≥ 1) if set.
    pub fn min_fit_clients(&self) -> Option<u32> {
        self.min_fit_clients
    }

    /// `VMID` if set.
    pub fn vmid(&self) -> Option<u32> {
        self.vmid
    }

    /// `ONEGATE_ENDPOINT` if set.
    pub fn onegate_endpoint(&self) -> Option<OnegateEndpoint<'a>> {
        self.onegate_endpoint
    }
}
