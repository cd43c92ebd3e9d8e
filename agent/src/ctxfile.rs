//! Finding and reading the OpenNebula context, and resolving the OneGate
//! token. Used by `stamen context`, `stamen run` and `stamen onegate`.
//!
//! Search order (first existing file wins):
//! 1. `/var/run/one-context/context.sh.local`, `.network`, `.online`
//! 2. the CONTEXT CD-ROM: `/mnt/context.sh`, `/media/context/context.sh`,
//!    `/mnt/context/context.sh`
//! 3. `/run/one-context/one_env` (lossy: read leniently, with a warning)
//! 4. the process environment (with a warning)
//!
//! Files are read with a size bound ([`DEFAULT_MAX_BYTES`]). The token rule
//! is SPEC §2: `ONEGATE_TOKEN` in the context, else `TOKENTXT` in the
//! environment (or one_env's `export TOKENTXT=`), else `token.txt` next to the
//! context file. The token is held in a [`Secret`], which never prints.

use stamen_core::context::{
    select_token, ConfigErrors, Dialect, EdgeConfig, ParseError, ParseErrorKind, Parser, Pos,
    TokenSource, Var,
};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest context file read (1 MiB); a bigger file is an error.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// Largest token.txt read.
pub const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// Capacity of the error lists handed to core.
pub const MAX_ERRORS: usize = 64;
/// Capacity of the variable table handed to core.
pub const MAX_VARS: usize = 4096;

/// Keys whose values are secrets (redacted unless asked otherwise).
pub use stamen_core::context::SECRET_KEYS;

/// A secret string (the OneGate token). `Debug` and `Display` print
/// `<redacted>`; use [`Secret::expose`] only where the value must be sent.
/// The bytes are overwritten when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret value. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// The format a context was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// oned's `context.sh` (strict).
    ContextSh,
    /// one-context's `one_env` (lenient, lossy).
    OneEnv,
    /// The process environment.
    Environment,
}

impl Format {
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::ContextSh => "context.sh",
            Format::OneEnv => "one_env",
            Format::Environment => "environment",
        }
    }
}

/// One context variable with its exact value and position. `Debug` redacts
/// the value of [`SECRET_KEYS`].
#[derive(Clone, PartialEq, Eq)]
pub struct ContextVar {
    /// Name.
    pub key: String,
    /// Exact value (escapes resolved).
    pub value: String,
    /// Position of the name in the file (`None` for the environment).
    pub pos: Option<Pos>,
    /// The value may be corrupted (one_env).
    pub lossy: bool,
}

impl fmt::Debug for ContextVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if SECRET_KEYS.contains(&self.key.as_str()) {
            &"<redacted>"
        } else {
            &self.value
        };
        f.debug_struct("ContextVar")
            .field("key", &self.key)
            .field("value", value)
            .field("pos", &self.pos)
            .field("lossy", &self.lossy)
            .finish()
    }
}

/// Where the token came from, with the file for `token.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenOrigin {
    /// Which rule matched.
    pub source: TokenSource,
    /// `token.txt` path when `source` is [`TokenSource::File`].
    pub path: Option<PathBuf>,
}

/// A loaded context: variables, problems found, and the token.
#[derive(Debug)]
pub struct LoadedContext {
    /// The file read (`None` for the process environment).
    pub path: Option<PathBuf>,
    /// How it was read.
    pub format: Format,
    /// Variables in file order (repeats kept; see [`LoadedContext::get`]).
    pub vars: Vec<ContextVar>,
    /// Syntax errors of the file.
    pub parse_errors: Vec<ParseError>,
    /// Parse errors beyond the list's capacity.
    pub dropped_parse_errors: usize,
    /// Non-fatal problems (lossy source, fallback to the environment).
    pub warnings: Vec<String>,
    /// The OneGate token, if any.
    pub token: Option<Secret>,
    /// Where the token came from.
    pub token_origin: Option<TokenOrigin>,
    /// An unusable token: where, and why (never the token itself).
    pub token_error: Option<String>,
}

/// Why no context could be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// Reading a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file is bigger than the bound.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound in bytes.
        limit: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, error } => write!(f, "{}: {}", path.display(), error),
            LoadError::TooLarge { path, limit } => write!(
                f,
                "{}: file larger than {} bytes (allowed: a context file up to {} bytes)",
                path.display(),
                limit,
                limit
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// Where to look for the context, in order.
#[derive(Clone, Debug)]
pub struct Locator {
    /// Candidate files and their formats, tried in order.
    pub candidates: Vec<(PathBuf, Format)>,
    /// Fall back to the process environment when no file exists.
    pub use_environment: bool,
    /// Size bound for context files.
    pub max_bytes: u64,
}

impl Default for Locator {
    /// The guest search order of the module docs.
    fn default() -> Self {
        let f = |p: &str, fmt: Format| (PathBuf::from(p), fmt);
        Locator {
            candidates: vec![
                f("/var/run/one-context/context.sh.local", Format::ContextSh),
                f("/var/run/one-context/context.sh.network", Format::ContextSh),
                f("/var/run/one-context/context.sh.online", Format::ContextSh),
                f("/mnt/context.sh", Format::ContextSh),
                f("/media/context/context.sh", Format::ContextSh),
                f("/mnt/context/context.sh", Format::ContextSh),
                f("/run/one-context/one_env", Format::OneEnv),
            ],
            use_environment: true,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Reads at most `limit` bytes; more is [`LoadError::TooLarge`].
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let io = |error| LoadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(buf)
}

/// Guesses the format of an explicitly named file: `one_env` by name or when
/// its first assignment starts with `export `; otherwise `context.sh`.
pub fn sniff_format(path: &Path, bytes: &[u8]) -> Format {
    if path.file_name().is_some_and(|n| n == "one_env") {
        return Format::OneEnv;
    }
    let first = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii_start())
        .find(|l| !l.is_empty() && !l.starts_with(b"#"));
    match first {
        Some(l) if l.starts_with(b"export ") || l.starts_with(b"export\t") => Format::OneEnv,
        _ => Format::ContextSh,
    }
}

/// Looks up an environment variable (injectable for tests).
pub type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// The real process environment.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Loads the context: `explicit` file if given, else the default search.
pub fn load(explicit: Option<&Path>) -> Result<LoadedContext, LoadError> {
    match explicit {
        Some(p) => load_file(p, None, DEFAULT_MAX_BYTES, &process_env),
        None => load_with(&Locator::default(), &process_env),
    }
}

/// Loads the first existing candidate of `locator`, else the environment.
pub fn load_with(locator: &Locator, env: EnvLookup<'_>) -> Result<LoadedContext, LoadError> {
    for (path, format) in &locator.candidates {
        if path.is_file() {
            return load_file(path, Some(*format), locator.max_bytes, env);
        }
    }
    if locator.use_environment {
        let mut ctx = from_environment(std::env::vars_os(), env);
        ctx.warnings.insert(
            0,
            format!(
                "no context file found (searched {}); using the process environment",
                locator
                    .candidates
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return Ok(ctx);
    }
    Err(LoadError::Io {
        path: locator
            .candidates
            .first()
            .map(|(p, _)| p.clone())
            .unwrap_or_default(),
        error: std::io::Error::new(std::io::ErrorKind::NotFound, "no context file found"),
    })
}

/// Loads one file. `format` `None` sniffs it ([`sniff_format`]).
pub fn load_file(
    path: &Path,
    format: Option<Format>,
    max_bytes: u64,
    env: EnvLookup<'_>,
) -> Result<LoadedContext, LoadError> {
    let bytes = read_bounded(path, max_bytes)?;
    let format = format.unwrap_or_else(|| sniff_format(path, &bytes));
    let mut ctx = parse_bytes(&bytes, format);
    ctx.path = Some(path.to_path_buf());
    if format == Format::OneEnv {
        ctx.warnings.insert(
            0,
            format!(
                "{}: reading one_env, which is lossy (values holding \", $, ` or \\ may be corrupted, and continuation lines that look like KEY= become variables); prefer context.sh",
                path.display()
            ),
        );
    }
    let lossy: Vec<String> = ctx
        .vars
        .iter()
        .filter(|v| v.lossy)
        .map(|v| {
            format!(
                "{}{}: value holds \", $, ` or \\ and may be corrupted in one_env",
                ctx.prefix(v.pos),
                v.key
            )
        })
        .collect();
    ctx.warnings.extend(lossy);
    resolve_token(&mut ctx, env);
    Ok(ctx)
}

/// Parses context bytes (no token resolution, no path).
pub fn parse_bytes(bytes: &[u8], format: Format) -> LoadedContext {
    let dialect = match format {
        Format::ContextSh => Dialect::ContextSh,
        _ => Dialect::Lenient,
    };
    // Streamed straight into owned values: the core's fixed-capacity
    // `collect` table (MAX_VARS slots) would sit on the stack, and a stack
    // page once touched stays resident for the daemon's whole life.
    let mut vars: Vec<ContextVar> = Vec::new();
    let mut parse_errors: Vec<ParseError> = Vec::new();
    let mut dropped_parse_errors = 0usize;
    let mut push_err = |e: ParseError| {
        if parse_errors.len() < MAX_ERRORS {
            parse_errors.push(e);
        } else {
            dropped_parse_errors = dropped_parse_errors.saturating_add(1);
        }
    };
    let mut buf: Vec<u8> = Vec::new();
    for item in Parser::new(bytes, dialect) {
        let entry = match item {
            Ok(entry) => entry,
            Err(e) => {
                push_err(e);
                continue;
            }
        };
        if vars.len() >= MAX_VARS {
            push_err(ParseError {
                kind: ParseErrorKind::TooManyVariables,
                pos: entry.key_pos(),
            });
            continue;
        }
        let value = match entry.borrowed() {
            Some(v) => v.to_owned(),
            None => {
                buf.resize(entry.unescaped_len(), 0);
                match entry.value_into(&mut buf) {
                    Ok(v) => v.to_owned(),
                    Err(_) => {
                        push_err(ParseError {
                            kind: ParseErrorKind::ScratchTooSmall,
                            pos: entry.key_pos(),
                        });
                        continue;
                    }
                }
            }
        };
        vars.push(ContextVar {
            key: entry.key().to_owned(),
            value,
            pos: Some(entry.key_pos()),
            lossy: entry.is_lossy(),
        });
    }
    LoadedContext {
        path: None,
        format,
        vars,
        parse_errors,
        dropped_parse_errors,
        warnings: Vec::new(),
        token: None,
        token_origin: None,
        token_error: None,
    }
}

/// Builds a context from environment variables (non-UTF-8 ones are skipped
/// with a warning).
pub fn from_environment(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    env: EnvLookup<'_>,
) -> LoadedContext {
    let mut ctx = LoadedContext {
        path: None,
        format: Format::Environment,
        vars: Vec::new(),
        parse_errors: Vec::new(),
        dropped_parse_errors: 0,
        warnings: Vec::new(),
        token: None,
        token_origin: None,
        token_error: None,
    };
    for (k, v) in vars {
        match (k.into_string(), v.into_string()) {
            (Ok(key), Ok(value)) => ctx.vars.push(ContextVar {
                key,
                value,
                pos: None,
                lossy: false,
            }),
            (Ok(key), Err(_)) => ctx
                .warnings
                .push(format!("{key}: value is not UTF-8; ignored")),
            (Err(k), _) => ctx.warnings.push(format!(
                "{}: name is not UTF-8; ignored",
                k.to_string_lossy()
            )),
        }
    }
    ctx.vars.sort_by(|a, b| a.key.cmp(&b.key));
    resolve_token(&mut ctx, env);
    ctx
}

fn resolve_token(ctx: &mut LoadedContext, env: EnvLookup<'_>) {
    let context_token = ctx.get("ONEGATE_TOKEN").map(str::to_owned);
    let mut env_token = env("TOKENTXT");
    if env_token.as_deref().is_none_or(|t| t.trim().is_empty()) && ctx.format == Format::OneEnv {
        env_token = ctx.get("TOKENTXT").map(str::to_owned);
    }
    let have_earlier = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
    let mut file_token = None;
    let mut token_path = None;
    if !have_earlier(&context_token) && !have_earlier(&env_token) {
        if let Some(dir) = ctx.path.as_deref().and_then(Path::parent) {
            let p = dir.join("token.txt");
            if p.is_file() {
                match read_bounded(&p, MAX_TOKEN_BYTES) {
                    Ok(b) => match String::from_utf8(b) {
                        Ok(s) => file_token = Some(s),
                        Err(_) => {
                            ctx.token_error = Some(format!(
                                "{}: token is not UTF-8 (allowed: one base64 line)",
                                p.display()
                            ))
                        }
                    },
                    Err(e) => ctx.token_error = Some(e.to_string()),
                }
                token_path = Some(p);
            }
        }
    }
    match select_token(
        context_token.as_deref(),
        env_token.as_deref(),
        file_token.as_deref(),
    ) {
        Ok(Some((token, source))) => {
            ctx.token = Some(Secret::new(token.to_owned()));
            ctx.token_origin = Some(TokenOrigin {
                source,
                path: if source == TokenSource::File {
                    token_path
                } else {
                    None
                },
            });
        }
        Ok(None) => {}
        Err((source, error)) => {
            let where_ = match source {
                TokenSource::Context => {
                    format!("{}ONEGATE_TOKEN", ctx.location_prefix("ONEGATE_TOKEN"))
                }
                TokenSource::Environment => "<environment>: TOKENTXT".to_owned(),
                _ => token_path
                    .as_deref()
                    .map(|p| format!("{}: token", p.display()))
                    .unwrap_or_else(|| "token.txt: token".to_owned()),
            };
            ctx.token_error = Some(format!("{where_}: {error}"));
        }
    }
    if let Some(t) = file_token {
        drop(Secret::new(t));
    }
}

impl LoadedContext {
    /// The value of `key` as a shell sourcing the file sees it (last wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|v| v.key == key)
            .map(|v| v.value.as_str())
    }

    /// Human-readable name of the source (`/path` or `<environment>`).
    pub fn source_name(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "<environment>".to_owned(),
        }
    }

    /// `FILE:LINE:COL: ` for the last assignment of `key` (or `FILE: `).
    fn location_prefix(&self, key: &str) -> String {
        let pos = self
            .vars
            .iter()
            .rev()
            .find(|v| v.key == key)
            .and_then(|v| v.pos);
        self.prefix(pos)
    }

    fn prefix(&self, pos: Option<Pos>) -> String {
        match pos {
            Some(p) => format!("{}:{}:{}: ", self.source_name(), p.line, p.column),
            None => format!("{}: ", self.source_name()),
        }
    }

    /// The variables as core sees them.
    pub fn core_vars(&self) -> Vec<Var<'_>> {
        self.vars
            .iter()
            .map(|v| Var {
                key: &v.key,
                value: &v.value,
                pos: v.pos,
            })
            .collect()
    }

    /// The typed edge config (defaults where invalid) and its errors.
    pub fn edge_config(&self) -> (EdgeConfig<'_>, ConfigErrors<'_, MAX_ERRORS>) {
        EdgeConfig::build::<_, MAX_ERRORS>(self.core_vars())
    }

    /// Every problem, one line each, as `FILE:LINE:COL: KEY: message
    /// (allowed: …)`: syntax errors, invalid values, an unusable or (with
    /// `TOKEN=YES`) missing token.
    pub fn errors(&self) -> Vec<String> {
        // (position, message): sorted by position so the list reads like the
        // file; problems without a position come last.
        let mut out: Vec<(Option<Pos>, String)> = self
            .parse_errors
            .iter()
            .map(|e| {
                (
                    Some(e.pos),
                    format!("{}{}", self.prefix(Some(e.pos)), e.kind),
                )
            })
            .collect();
        if self.dropped_parse_errors > 0 {
            out.push((
                None,
                format!(
                    "{}{} more syntax errors not listed",
                    self.prefix(None),
                    self.dropped_parse_errors
                ),
            ));
        }
        let (_, errors) = self.edge_config();
        for e in errors.iter() {
            out.push((e.pos, format!("{}{}", self.prefix(e.pos), e)));
        }
        if errors.dropped() > 0 {
            out.push((
                None,
                format!(
                    "{}{} more errors not listed",
                    self.prefix(None),
                    errors.dropped()
                ),
            ));
        }
        let token_yes = self
            .get("TOKEN")
            .is_some_and(|t| t.eq_ignore_ascii_case("YES"));
        if let Some(t) = &self.token_error {
            out.push((self.pos_of("ONEGATE_TOKEN"), t.clone()));
        } else if self.token.is_none() && token_yes {
            out.push((
                self.pos_of("TOKEN"),
                format!(
                    "{}ONEGATE_TOKEN: missing (allowed: ONEGATE_TOKEN in the context, the TOKENTXT environment variable or token.txt next to the context file)",
                    self.location_prefix("TOKEN")
                ),
            ));
        }
        out.sort_by_key(|(pos, _)| pos.map_or((u32::MAX, u32::MAX), |p| (p.line, p.column)));
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// Warnings for `FL_*` / `ONEAPP_FL_*` variables the edge config does
    /// not read (typos, or settings meant for another role).
    pub fn unknown_fl_warnings(&self) -> Vec<String> {
        self.vars
            .iter()
            .filter(|v| EdgeConfig::is_unknown_fl_key(&v.key))
            .map(|v| {
                format!(
                    "{}{}: not an edge setting; ignored (known: {}, each also as ONEAPP_FL_…)",
                    self.prefix(v.pos),
                    v.key,
                    EdgeConfig::FL_SETTINGS.join(", ")
                )
            })
            .collect()
    }

    fn pos_of(&self, key: &str) -> Option<Pos> {
        self.vars
            .iter()
            .rev()
            .find(|v| v.key == key)
            .and_then(|v| v.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const CTX: &str = "# Context variables generated by OpenNebula\nTOKEN='YES'\nVMID='7'\nONEGATE_ENDPOINT='http://169.254.16.9:5030'\n";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn locator(dir: &Path) -> Locator {
        Locator {
            candidates: vec![
                (dir.join("context.sh.local"), Format::ContextSh),
                (dir.join("context.sh.network"), Format::ContextSh),
                (dir.join("context.sh.online"), Format::ContextSh),
                (dir.join("cdrom/context.sh"), Format::ContextSh),
                (dir.join("one_env"), Format::OneEnv),
            ],
            use_environment: false,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    #[test]
    fn default_search_order_is_the_guest_one() {
        let l = Locator::default();
        let paths: Vec<String> = l
            .candidates
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(paths[0], "/var/run/one-context/context.sh.local");
        assert_eq!(paths[1], "/var/run/one-context/context.sh.network");
        assert_eq!(paths[2], "/var/run/one-context/context.sh.online");
        assert!(paths[3..6].iter().all(|p| p.ends_with("context.sh")));
        assert_eq!(
            l.candidates.last().unwrap(),
            &(PathBuf::from("/run/one-context/one_env"), Format::OneEnv)
        );
        assert!(l.use_environment);
        assert_eq!(l.max_bytes, 1 << 20);
    }

    #[test]
    fn first_existing_candidate_wins() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "one_env", "export VMID=\"1\"\n");
        let ctx = load_with(&locator(d.path()), &no_env).unwrap();
        assert_eq!(ctx.format, Format::OneEnv);
        assert!(ctx.warnings[0].contains("lossy"));
        std::fs::create_dir(d.path().join("cdrom")).unwrap();
        write(&d.path().join("cdrom"), "context.sh", "VMID='2'\n");
        let ctx = load_with(&locator(d.path()), &no_env).unwrap();
        assert_eq!(ctx.get("VMID"), Some("2"));
        write(d.path(), "context.sh.online", "VMID='3'\n");
        write(d.path(), "context.sh.network", "VMID='4'\n");
        let ctx = load_with(&locator(d.path()), &no_env).unwrap();
        assert_eq!(ctx.get("VMID"), Some("4"));
        assert_eq!(ctx.format, Format::ContextSh);
        assert!(ctx.warnings.is_empty());
        write(d.path(), "context.sh.local", "VMID='5'\n");
        let ctx = load_with(&locator(d.path()), &no_env).unwrap();
        assert_eq!(ctx.get("VMID"), Some("5"));
        assert_eq!(
            ctx.path.as_deref(),
            Some(d.path().join("context.sh.local").as_path())
        );
    }

    #[test]
    fn nothing_found_without_environment_fallback_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = load_with(&locator(d.path()), &no_env).unwrap_err();
        assert!(e.to_string().contains("no context file found"));
    }

    #[test]
    fn environment_source() {
        let vars = vec![
            (OsString::from("VMID"), OsString::from("9")),
            (OsString::from("ONEGATE_TOKEN"), OsString::from("ZW52")),
        ];
        let ctx = from_environment(vars, &no_env);
        assert_eq!(ctx.format, Format::Environment);
        assert_eq!(ctx.get("VMID"), Some("9"));
        assert_eq!(ctx.token.as_ref().unwrap().expose(), "ZW52");
        assert_eq!(
            ctx.token_origin.as_ref().unwrap().source,
            TokenSource::Context
        );
        assert_eq!(ctx.source_name(), "<environment>");
        let (cfg, errs) = ctx.edge_config();
        assert!(errs.is_empty());
        assert_eq!(cfg.vmid(), Some(9));
    }

    #[test]
    fn token_precedence() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "context.sh", CTX);
        write(d.path(), "token.txt", "ZmlsZQ==\n");
        // token.txt next to the file.
        let ctx = load_file(&p, None, DEFAULT_MAX_BYTES, &no_env).unwrap();
        assert_eq!(ctx.token.as_ref().unwrap().expose(), "ZmlsZQ==");
        let origin = ctx.token_origin.clone().unwrap();
        assert_eq!(origin.source, TokenSource::File);
        assert_eq!(
            origin.path.as_deref(),
            Some(d.path().join("token.txt").as_path())
        );
        assert!(ctx.errors().is_empty(), "{:?}", ctx.errors());
        // TOKENTXT beats token.txt.
        let env = |k: &str| (k == "TOKENTXT").then(|| "ZW52".to_owned());
        let ctx = load_file(&p, None, DEFAULT_MAX_BYTES, &env).unwrap();
        assert_eq!(ctx.token.as_ref().unwrap().expose(), "ZW52");
        assert_eq!(
            ctx.token_origin.as_ref().unwrap().source,
            TokenSource::Environment
        );
        // ONEGATE_TOKEN in the context beats both.
        let p2 = write(
            d.path(),
            "context2.sh",
            &format!("{CTX}ONEGATE_TOKEN='Y3R4'\n"),
        );
        let ctx = load_file(&p2, None, DEFAULT_MAX_BYTES, &env).unwrap();
        assert_eq!(ctx.token.as_ref().unwrap().expose(), "Y3R4");
        assert_eq!(
            ctx.token_origin.as_ref().unwrap().source,
            TokenSource::Context
        );
    }

    #[test]
    fn missing_token_with_token_yes_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "context.sh", CTX);
        let ctx = load_file(&p, None, DEFAULT_MAX_BYTES, &no_env).unwrap();
        assert!(ctx.token.is_none());
        let errs = ctx.errors();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].ends_with(":2:1: ONEGATE_TOKEN: missing (allowed: ONEGATE_TOKEN in the context, the TOKENTXT environment variable or token.txt next to the context file)"), "{}", errs[0]);
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "context.sh",
            &format!("{CTX}ONEGATE_TOKEN='aHVudGVyMg=='\n"),
        );
        let ctx = load_file(&p, None, DEFAULT_MAX_BYTES, &no_env).unwrap();
        let dbg = format!("{:?}", ctx.token);
        assert!(!dbg.contains("aHVudGVyMg"), "{dbg}");
        // Nor anywhere in the whole loaded context.
        let dbg = format!("{ctx:?}");
        assert!(!dbg.contains("aHVudGVyMg"), "{dbg}");
        assert!(dbg.contains("ONEGATE_TOKEN"));
    }

    #[test]
    fn bad_token_error_does_not_leak_it() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "context.sh", CTX);
        write(d.path(), "token.txt", "sec ret\n");
        let ctx = load_file(&p, None, DEFAULT_MAX_BYTES, &no_env).unwrap();
        let errs = ctx.errors().join("\n");
        assert!(
            errs.contains("token.txt: token: token holds a non-base64 character"),
            "{errs}"
        );
        assert!(!errs.contains("sec ret"));
    }

    #[test]
    fn size_bound() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "context.sh", "A='0123456789'\n");
        assert!(load_file(&p, None, 15, &no_env).is_ok());
        let e = load_file(&p, None, 14, &no_env).unwrap_err();
        assert!(matches!(e, LoadError::TooLarge { limit: 14, .. }));
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_format(Path::new("x/one_env"), b""), Format::OneEnv);
        assert_eq!(
            sniff_format(Path::new("ctx"), b"# c\n\nexport A=\"1\"\n"),
            Format::OneEnv
        );
        assert_eq!(
            sniff_format(Path::new("ctx"), b"# c\nA='1'\n"),
            Format::ContextSh
        );
    }
}
