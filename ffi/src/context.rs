//! OpenNebula context: `context.sh` / one_env variables, the FL settings
//! (`stamen_edge_config`) and the OneGate token rule.
//!
//! Nothing is copied out of the caller's input: keys and escape-free values
//! point into `input`, values holding `'\''` are unescaped into `scratch`
//! (a scratch as long as the input always suffices). Every syntax and
//! settings error is reported through the optional diagnostics callback,
//! with line and column, before the function returns the first one's code.

use crate::result::stamen_result::{self, *};
use crate::stamen_str;
use crate::util::{out_write, SliceWriter};
use core::ffi::c_void;
use core::fmt::Write as _;
use stamen_core::context::{
    select_token, BackoffStrategy, ConfigError, ConfigErrorKind, Dialect, EdgeConfig, Host,
    Isolation, LogLevel, ParseError, ParseErrorKind, Parser, Pos, Scheme, TokenError, TokenSource,
    Var,
};

/// Which file format to accept (pass as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_dialect {
    /// `context.sh` exactly as oned writes it (`KEY='value'`).
    STAMEN_DIALECT_CONTEXT_SH = 0,
    /// Also one_env's `export KEY="value"` (lossy; see `stamen_var.lossy`)
    /// and plain `KEY=value`.
    STAMEN_DIALECT_LENIENT = 1,
}

fn dialect(d: u32) -> Result<Dialect, stamen_result> {
    match d {
        0 => Ok(Dialect::ContextSh),
        1 => Ok(Dialect::Lenient),
        _ => Err(STAMEN_RESULT_INVALID_ARGUMENT),
    }
}

/// Longest diagnostic message passed to a `stamen_diag_fn` (longer ones,
/// with very long values, are cut at a character boundary).
pub const STAMEN_DIAG_MESSAGE_MAX: usize = 1024;

/// One problem in a context file, passed to a `stamen_diag_fn`. The strings
/// are valid only during the callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_diag {
    /// The error class (a `STAMEN_RESULT_CONTEXT_*` code).
    pub code: stamen_result,
    /// 1 when `line`, `column` and `offset` are known.
    pub has_position: u8,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// 0-based byte offset in the input.
    pub offset: usize,
    /// The variable concerned (empty for syntax errors).
    pub key: stamen_str,
    /// What is wrong and what is allowed, e.g. `FL_EDGE_BACKOFF: invalid
    /// value "linear" (allowed: exponential, fixed)`. Without the position:
    /// print `file:line:column: message` yourself.
    pub message: stamen_str,
}

/// Receives each diagnostic in input order. May be NULL where documented.
pub type stamen_diag_fn = Option<unsafe extern "C" fn(user: *mut c_void, diag: *const stamen_diag)>;

/// One variable, passed to a `stamen_var_fn`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_var {
    /// The name (points into `input`).
    pub key: stamen_str,
    /// The value with `'\''` resolved (points into `input` or `scratch`).
    pub value: stamen_str,
    /// 1-based line of the name.
    pub line: u32,
    /// 1-based column of the name.
    pub column: u32,
    /// 1 for a one_env `export KEY="..."` value, which may have been
    /// corrupted by one-context (no escaping); prefer context.sh.
    pub lossy: u8,
}

/// Receives each variable in file order; return 0 to go on, anything else
/// to stop (the call then returns `STAMEN_RESULT_ABORTED`).
pub type stamen_var_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, var: *const stamen_var) -> i32>;

enum Item<'a> {
    Var(Var<'a>, bool),
    Err(ParseError),
}

/// The parser, with escaped values unescaped into successive pieces of the
/// scratch buffer.
struct Vars<'a> {
    parser: Parser<'a>,
    rest: &'a mut [u8],
}

impl<'a> Vars<'a> {
    fn new(input: &'a [u8], d: Dialect, scratch: &'a mut [u8]) -> Self {
        Vars {
            parser: Parser::new(input, d),
            rest: scratch,
        }
    }
}

impl<'a> Iterator for Vars<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let entry = match self.parser.next()? {
            Ok(e) => e,
            Err(e) => return Some(Item::Err(e)),
        };
        let too_small = ParseError {
            kind: ParseErrorKind::ScratchTooSmall,
            pos: entry.key_pos(),
        };
        let value: &'a str = match entry.borrowed() {
            Some(v) => v,
            None => {
                let n = entry.unescaped_len();
                if n > self.rest.len() {
                    return Some(Item::Err(too_small));
                }
                let all = core::mem::take(&mut self.rest);
                let Some((head, tail)) = all.split_at_mut_checked(n) else {
                    return Some(Item::Err(too_small));
                };
                self.rest = tail;
                match entry.value_into(head) {
                    Ok(v) => v,
                    Err(_) => return Some(Item::Err(too_small)),
                }
            }
        };
        Some(Item::Var(
            Var {
                key: entry.key(),
                value,
                pos: Some(entry.key_pos()),
            },
            entry.is_lossy(),
        ))
    }
}

/// Collects diagnostics: calls the callback and remembers the first code.
struct Diags {
    f: stamen_diag_fn,
    user: *mut c_void,
    first: Option<stamen_result>,
}

impl Diags {
    fn report(
        &mut self,
        code: stamen_result,
        pos: Option<Pos>,
        key: &str,
        msg: &dyn core::fmt::Display,
    ) {
        self.first.get_or_insert(code);
        let Some(f) = self.f else { return };
        let mut buf = [0u8; STAMEN_DIAG_MESSAGE_MAX];
        let mut w = SliceWriter::new(&mut buf);
        // A message that does not fit is cut: what fitted is whole `str`
        // pieces, so still UTF-8.
        let _ = write!(w, "{msg}");
        let p = pos.unwrap_or(Pos {
            line: 0,
            column: 0,
            offset: 0,
        });
        let d = stamen_diag {
            code,
            has_position: u8::from(pos.is_some()),
            line: p.line,
            column: p.column,
            offset: p.offset,
            key: stamen_str::from_str(key),
            message: stamen_str::from_str(w.as_str()),
        };
        // SAFETY: the caller passed a valid callback; `d` lives across the call.
        unsafe { f(self.user, &d) };
    }

    fn parse(&mut self, e: &ParseError) {
        let code = match e.kind {
            ParseErrorKind::ScratchTooSmall => STAMEN_RESULT_CONTEXT_SCRATCH_TOO_SMALL,
            _ => STAMEN_RESULT_CONTEXT_SYNTAX,
        };
        self.report(code, Some(e.pos), "", &e.kind);
    }

    fn config(&mut self, e: &ConfigError<'_>) {
        let code = match e.kind {
            ConfigErrorKind::InvalidChoice { .. } => STAMEN_RESULT_CONTEXT_INVALID_CHOICE,
            ConfigErrorKind::InvalidInteger { .. } => STAMEN_RESULT_CONTEXT_INVALID_INTEGER,
            ConfigErrorKind::InvalidAddress { .. } => STAMEN_RESULT_CONTEXT_INVALID_ADDRESS,
            ConfigErrorKind::InvalidNodeConfig(_) => STAMEN_RESULT_CONTEXT_INVALID_NODE_CONFIG,
            _ => STAMEN_RESULT_CONTEXT_MISSING,
        };
        self.report(code, e.pos, e.key, e);
    }
}

/// Calls `var_fn` for every variable of `input` in file order (a repeated
/// key appears each time; the last one is what a shell sees) and `diag_fn`
/// (may be NULL) for every syntax error.
///
/// Returns `STAMEN_RESULT_OK`, the code of the first error
/// (`STAMEN_RESULT_CONTEXT_SYNTAX`, `..._SCRATCH_TOO_SMALL`) after the whole
/// input was read, or `STAMEN_RESULT_ABORTED` when `var_fn` stopped.
/// `dialect` is a `stamen_dialect`. Strings passed to `var_fn` point into
/// `input` and `scratch` and stay valid as long as those buffers do.
///
/// # Safety
/// `input` has `input_len` readable bytes, `scratch` `scratch_len` writable
/// bytes (not overlapping `input`); the callbacks are valid functions.
#[no_mangle]
pub unsafe extern "C" fn stamen_context_vars(
    input: *const u8,
    input_len: usize,
    dialect: u32,
    scratch: *mut u8,
    scratch_len: usize,
    var_fn: stamen_var_fn,
    diag_fn: stamen_diag_fn,
    user: *mut c_void,
) -> stamen_result {
    ffi_boundary! {{
        let input = try_slice!(input, input_len);
        let scratch = try_slice_mut!(scratch, scratch_len);
        let d = tri!(self::dialect(dialect));
        let var_fn = try_callback!(var_fn);
        let mut diags = Diags { f: diag_fn, user, first: None };
        for item in Vars::new(input, d, scratch) {
            match item {
                Item::Err(e) => diags.parse(&e),
                Item::Var(v, lossy) => {
                    let p = v.pos.unwrap_or(Pos { line: 0, column: 0, offset: 0 });
                    let cv = stamen_var {
                        key: stamen_str::from_str(v.key),
                        value: stamen_str::from_str(v.value),
                        line: p.line,
                        column: p.column,
                        lossy: u8::from(lossy),
                    };
                    // SAFETY: valid callback per the contract.
                    if unsafe { var_fn(user, &cv) } != 0 {
                        return STAMEN_RESULT_ABORTED;
                    }
                }
            }
        }
        diags.first.unwrap_or(STAMEN_RESULT_OK)
    }}
}

/// The value of `key` as a shell sourcing `input` would see it (the last
/// assignment wins), pointing into `input` or `scratch`.
///
/// Returns `STAMEN_RESULT_NOT_FOUND` when the key is not assigned, and the
/// first error's code (reported through `diag_fn`, which may be NULL) when
/// the input has syntax errors: a file with errors is not half-read.
///
/// # Safety
/// As for `stamen_context_vars`; `key` has `key_len` readable bytes and
/// `value` points to a writable `stamen_str`.
#[no_mangle]
pub unsafe extern "C" fn stamen_context_get(
    input: *const u8,
    input_len: usize,
    dialect: u32,
    key: *const core::ffi::c_char,
    key_len: usize,
    scratch: *mut u8,
    scratch_len: usize,
    diag_fn: stamen_diag_fn,
    user: *mut c_void,
    value: *mut stamen_str,
) -> stamen_result {
    ffi_boundary! {{
        let input = try_slice!(input, input_len);
        let key = try_str!(key, key_len);
        let scratch = try_slice_mut!(scratch, scratch_len);
        let value = try_out!(value);
        let d = tri!(self::dialect(dialect));
        let mut diags = Diags { f: diag_fn, user, first: None };
        let mut found = None;
        for item in Vars::new(input, d, scratch) {
            match item {
                Item::Err(e) => diags.parse(&e),
                Item::Var(v, _) if v.key == key => found = Some(v.value),
                Item::Var(..) => {}
            }
        }
        if let Some(e) = diags.first {
            return e;
        }
        let Some(v) = found else { return STAMEN_RESULT_NOT_FOUND };
        out_write(value, stamen_str::from_str(v));
        STAMEN_RESULT_OK
    }}
}

/// `FL_EDGE_BACKOFF` (pass as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_backoff_strategy {
    /// `exponential` (default): 10 s doubling up to `FL_EDGE_MAX_BACKOFF`.
    STAMEN_BACKOFF_EXPONENTIAL = 0,
    /// `fixed`: the legacy 10 s interval, 30 attempts.
    STAMEN_BACKOFF_FIXED = 1,
}

/// `FL_ISOLATION`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_isolation {
    /// `subprocess` (default).
    STAMEN_ISOLATION_SUBPROCESS = 0,
    /// `process`.
    STAMEN_ISOLATION_PROCESS = 1,
}

/// `FL_LOG_LEVEL`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_log_level {
    /// `DEBUG`.
    STAMEN_LOG_DEBUG = 0,
    /// `INFO` (default).
    STAMEN_LOG_INFO = 1,
    /// `WARNING`.
    STAMEN_LOG_WARNING = 2,
    /// `ERROR`.
    STAMEN_LOG_ERROR = 3,
}

/// Room for a host name in `stamen_edge_config` (a DNS name has at most
/// 253 bytes, an IPv6 address 45).
pub const STAMEN_HOST_MAX: usize = 256;

/// The validated FL settings of an edge VM (SPEC §2). Strings point into
/// the `input` / `scratch` buffers given to `stamen_edge_config_parse`.
/// Enum fields hold the values of the named enums.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_edge_config {
    /// `FL_SUPERLINK_ADDRESS` as written (`host:port`, safe as one
    /// command-line argument); empty means "discover through OneGate".
    pub superlink: stamen_str,
    /// Its host, ready for `getaddrinfo` (an IPv6 address without brackets);
    /// `superlink_host_len` bytes, not NUL-terminated.
    pub superlink_host: [u8; STAMEN_HOST_MAX],
    /// Length of `superlink_host` (0 when `superlink` is empty).
    pub superlink_host_len: usize,
    /// Its port (0 when `superlink` is empty).
    pub superlink_port: u16,
    /// `FL_EDGE_BACKOFF`: a `stamen_backoff_strategy`.
    pub backoff: u32,
    /// `FL_EDGE_MAX_BACKOFF`, seconds (> 0; default 300).
    pub max_backoff_secs: u32,
    /// `FL_MAX_RETRIES` (0 = unlimited).
    pub max_retries: u32,
    /// `FL_MAX_WAIT_TIME`, seconds (0 = unlimited).
    pub max_wait_time_secs: u32,
    /// `FL_NODE_CONFIG` as written (validated); empty → derive the partition.
    pub node_config: stamen_str,
    /// `FL_ISOLATION`: a `stamen_isolation`.
    pub isolation: u32,
    /// `FL_LOG_LEVEL`: a `stamen_log_level`.
    pub log_level: u32,
    /// `FL_TLS_ENABLED` (1 = YES, the default).
    pub tls_enabled: u8,
    /// 1 when `FL_MIN_FIT_CLIENTS` is set.
    pub has_min_fit_clients: u8,
    /// `FL_MIN_FIT_CLIENTS` (≥ 1) when set.
    pub min_fit_clients: u32,
    /// 1 when `VMID` is set.
    pub has_vmid: u8,
    /// `VMID` when set.
    pub vmid: u32,
    /// `ONEGATE_ENDPOINT` as written; empty when unset.
    pub onegate_endpoint: stamen_str,
    /// Its host, ready for `getaddrinfo` (an IPv6 address without brackets).
    pub onegate_host: [u8; STAMEN_HOST_MAX],
    /// Length of `onegate_host` (0 when unset).
    pub onegate_host_len: usize,
    /// Its port (the scheme's default when not written; 0 when unset).
    pub onegate_port: u16,
    /// 1 when `ONEGATE_ENDPOINT` is `https://`.
    pub onegate_https: u8,
}

/// Parses `input` and builds the FL settings: `ONEAPP_FL_X` wins over
/// `FL_X`, empty values mean the default, `VMID` and `ONEGATE_ENDPOINT` are
/// required when `TOKEN=YES`.
///
/// Every syntax error and every invalid value is passed to `diag_fn` (may
/// be NULL) with its position, key, bad value and what is allowed; the call
/// then returns the first one's code and does not write `config`.
///
/// # Safety
/// As for `stamen_context_vars`; `config` points to a writable
/// `stamen_edge_config`.
#[no_mangle]
pub unsafe extern "C" fn stamen_edge_config_parse(
    input: *const u8,
    input_len: usize,
    dialect: u32,
    scratch: *mut u8,
    scratch_len: usize,
    diag_fn: stamen_diag_fn,
    user: *mut c_void,
    config: *mut stamen_edge_config,
) -> stamen_result {
    ffi_boundary! {{
        let input = try_slice!(input, input_len);
        let scratch = try_slice_mut!(scratch, scratch_len);
        let config = try_out!(config);
        let d = tri!(self::dialect(dialect));
        let mut diags = Diags { f: diag_fn, user, first: None };
        let vars = Vars::new(input, d, scratch).filter_map(|item| match item {
            Item::Var(v, _) => Some(v),
            Item::Err(e) => {
                diags.parse(&e);
                None
            }
        });
        let (cfg, errors) = EdgeConfig::build::<_, 32>(vars);
        for e in errors.iter() {
            diags.config(e);
        }
        if errors.dropped() > 0 {
            let n = errors.dropped();
            diags.report(STAMEN_RESULT_CONTEXT_SYNTAX, None, "", &format_args!("{n} more errors not shown"));
        }
        if let Some(e) = diags.first {
            return e;
        }
        out_write(config, edge_config(&cfg));
        STAMEN_RESULT_OK
    }}
}

/// The host as `getaddrinfo` wants it (IPv6 without brackets).
fn host_text(h: Option<Host<'_>>) -> ([u8; STAMEN_HOST_MAX], usize) {
    let mut buf = [0u8; STAMEN_HOST_MAX];
    let mut w = SliceWriter::new(&mut buf);
    // Validated hosts are at most 253 bytes: writing cannot fail.
    let _ = match h {
        Some(Host::Ipv4(a)) => write!(w, "{a}"),
        Some(Host::Ipv6(a)) => write!(w, "{a}"),
        Some(Host::Dns(d)) => w.write_str(d),
        _ => Ok(()),
    };
    let n = w.len();
    (buf, n)
}

fn edge_config(cfg: &EdgeConfig<'_>) -> stamen_edge_config {
    let superlink = cfg.superlink();
    let endpoint = cfg.onegate_endpoint();
    let (superlink_host, superlink_host_len) = host_text(superlink.map(|a| a.host()));
    let (onegate_host, onegate_host_len) = host_text(endpoint.map(|e| e.host()));
    stamen_edge_config {
        superlink_host,
        superlink_host_len,
        onegate_host,
        onegate_host_len,
        superlink: superlink.map_or(stamen_str::empty(), |a| stamen_str::from_str(a.as_str())),
        superlink_port: superlink.map_or(0, |a| a.port()),
        backoff: match cfg.backoff() {
            BackoffStrategy::Fixed => stamen_backoff_strategy::STAMEN_BACKOFF_FIXED as u32,
            _ => stamen_backoff_strategy::STAMEN_BACKOFF_EXPONENTIAL as u32,
        },
        max_backoff_secs: cfg.max_backoff_secs(),
        max_retries: cfg.max_retries(),
        max_wait_time_secs: cfg.max_wait_time_secs(),
        node_config: stamen_str::from_str(cfg.node_config().as_str()),
        isolation: match cfg.isolation() {
            Isolation::Process => stamen_isolation::STAMEN_ISOLATION_PROCESS as u32,
            _ => stamen_isolation::STAMEN_ISOLATION_SUBPROCESS as u32,
        },
        log_level: match cfg.log_level() {
            LogLevel::Debug => stamen_log_level::STAMEN_LOG_DEBUG as u32,
            LogLevel::Warning => stamen_log_level::STAMEN_LOG_WARNING as u32,
            LogLevel::Error => stamen_log_level::STAMEN_LOG_ERROR as u32,
            _ => stamen_log_level::STAMEN_LOG_INFO as u32,
        },
        tls_enabled: u8::from(cfg.tls_enabled()),
        has_min_fit_clients: u8::from(cfg.min_fit_clients().is_some()),
        min_fit_clients: cfg.min_fit_clients().unwrap_or(0),
        has_vmid: u8::from(cfg.vmid().is_some()),
        vmid: cfg.vmid().unwrap_or(0),
        onegate_endpoint: endpoint
            .map_or(stamen_str::empty(), |e| stamen_str::from_str(e.as_str())),
        onegate_port: endpoint.map_or(0, |e| e.port()),
        onegate_https: u8::from(matches!(endpoint.map(|e| e.scheme()), Some(Scheme::Https))),
    }
}

/// Where the OneGate token came from.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_token_source {
    /// `ONEGATE_TOKEN` in the context.
    STAMEN_TOKEN_CONTEXT = 0,
    /// The `TOKENTXT` environment variable.
    STAMEN_TOKEN_ENVIRONMENT = 1,
    /// `token.txt` next to context.sh.
    STAMEN_TOKEN_FILE = 2,
}

/// The OneGate token by the rule of SPEC §2: `ONEGATE_TOKEN` from the
/// context, else `TOKENTXT` from the environment, else the content of
/// `token.txt`. Pass an empty string (length 0) for a candidate you do not
/// have; surrounding whitespace is ignored. `token` points into the
/// winning candidate; `source` receives a `stamen_token_source`.
///
/// Returns `STAMEN_RESULT_NOT_FOUND` when every candidate is empty, and
/// `STAMEN_RESULT_TOKEN_MULTIPLE_LINES` / `..._NOT_BASE64` for a bad token
/// (the token itself never appears in any message).
///
/// # Safety
/// Each candidate has its length in readable bytes; `token` and `source`
/// are writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_select_token(
    context: *const core::ffi::c_char,
    context_len: usize,
    env: *const core::ffi::c_char,
    env_len: usize,
    file: *const core::ffi::c_char,
    file_len: usize,
    token: *mut stamen_str,
    source: *mut u32,
) -> stamen_result {
    ffi_boundary! {{
        let context = try_str!(context, context_len);
        let env = try_str!(env, env_len);
        let file = try_str!(file, file_len);
        let token = try_out!(token);
        let source = try_out!(source);
        match select_token(Some(context), Some(env), Some(file)) {
            Ok(None) => STAMEN_RESULT_NOT_FOUND,
            Ok(Some((t, s))) => {
                let s = match s {
                    TokenSource::Context => stamen_token_source::STAMEN_TOKEN_CONTEXT,
                    TokenSource::Environment => stamen_token_source::STAMEN_TOKEN_ENVIRONMENT,
                    _ => stamen_token_source::STAMEN_TOKEN_FILE,
                };
                out_write(token, stamen_str::from_str(t));
                out_write(source, s as u32);
                STAMEN_RESULT_OK
            }
            Err((_, TokenError::MultipleLines)) => STAMEN_RESULT_TOKEN_MULTIPLE_LINES,
            Err(_) => STAMEN_RESULT_TOKEN_NOT_BASE64,
        }
    }}
}
