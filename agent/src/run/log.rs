//! One line per event on stderr, journald-friendly.
//!
//! Format without journald: `LEVEL message key=value key2="value 2"`.
//! Under systemd (`JOURNAL_STREAM` set) each line starts with the syslog
//! priority prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) so the
//! journal records the right priority, and the level word is dropped.
//!
//! Nothing secret is ever passed here: callers log addresses, paths, counts and
//! error kinds, never the OneGate token or request headers.

use std::fmt::{self, Display, Write as _};
use std::io::Write as _;
use std::str::FromStr;

/// Severity of a log line, ordered from most to least severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed and needs an operator.
    Error,
    /// Something failed and will be retried, or input was ignored.
    Warning,
    /// Normal lifecycle events.
    Info,
    /// Detail for troubleshooting (every probe, every datagram).
    Debug,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
    fn syslog(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warning => 4,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "ERROR" => Ok(Level::Error),
            "WARNING" | "WARN" => Ok(Level::Warning),
            "INFO" => Ok(Level::Info),
            "DEBUG" => Ok(Level::Debug),
            _ => Err(format!(
                "invalid log level {s:?}: allowed DEBUG, INFO, WARNING, ERROR"
            )),
        }
    }
}

impl Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// The logger: a level threshold and the output style. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    level: Level,
    journal: bool,
}

impl Log {
    /// A logger writing lines at `level` and above; `journal` selects the
    /// `<N>` prefix style (see [`Log::from_env`]).
    pub fn new(level: Level, journal: bool) -> Self {
        Log { level, journal }
    }

    /// A logger whose style follows `JOURNAL_STREAM`: systemd sets it to
    /// `<device>:<inode>` of the journal stream it connected to stdout and
    /// stderr. The prefix style is used only when stderr still is that
    /// stream (not when a child inherited the variable but not the stream).
    pub fn from_env(level: Level) -> Self {
        use std::os::unix::fs::MetadataExt;
        let journal = match (
            std::env::var("JOURNAL_STREAM"),
            std::fs::metadata("/proc/self/fd/2"),
        ) {
            (Ok(v), Ok(m)) => journal_stream_matches(&v, m.dev(), m.ino()),
            _ => false,
        };
        Log::new(level, journal)
    }

    /// Change the threshold (used on SIGHUP reload).
    pub fn set_level(&mut self, level: Level) {
        self.level = level;
    }

    /// The current threshold.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Whether a line at `level` would be written.
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    /// Write one event: `msg` then each `key=value`. Values with spaces,
    /// quotes, `=` or control characters are quoted and escaped so a line
    /// stays one line.
    pub fn event(&self, level: Level, msg: &str, kv: &[(&str, &dyn Display)]) {
        if !self.enabled(level) {
            return;
        }
        let line = self.format(level, msg, kv);
        // One write per line so concurrent writers (the child shares stderr)
        // do not interleave inside a line. A failed log write is not fatal.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn format(&self, level: Level, msg: &str, kv: &[(&str, &dyn Display)]) -> String {
        let mut line = String::with_capacity(96);
        if self.journal {
            let _ = write!(line, "<{}>", level.syslog());
        } else {
            line.push_str(level.word());
            line.push(' ');
        }
        push_clean(&mut line, msg);
        for (k, v) in kv {
            line.push(' ');
            line.push_str(k);
            line.push('=');
            push_value(&mut line, &v.to_string());
        }
        line.push('\n');
        line
    }

    /// [`Level::Error`] event.
    pub fn error(&self, msg: &str, kv: &[(&str, &dyn Display)]) {
        self.event(Level::Error, msg, kv)
    }
    /// [`Level::Warning`] event.
    pub fn warn(&self, msg: &str, kv: &[(&str, &dyn Display)]) {
        self.event(Level::Warning, msg, kv)
    }
    /// [`Level::Info`] event.
    pub fn info(&self, msg: &str, kv: &[(&str, &dyn Display)]) {
        self.event(Level::Info, msg, kv)
    }
    /// [`Level::Debug`] event.
    pub fn debug(&self, msg: &str, kv: &[(&str, &dyn Display)]) {
        self.event(Level::Debug, msg, kv)
    }
}

/// Whether `JOURNAL_STREAM`'s `<device>:<inode>` names the file with `dev`
/// and `ino`.
fn journal_stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    match value.split_once(':') {
        Some((d, i)) => d.parse() == Ok(dev) && i.parse() == Ok(ino),
        None => false,
    }
}

fn push_clean(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
}

fn push_value(out: &mut String, v: &str) {
    let needs_quotes = v.is_empty()
        || v.chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if !needs_quotes {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_format_quotes_values_that_need_it() {
        let log = Log::new(Level::Debug, false);
        let line = log.format(
            Level::Warning,
            "child exited",
            &[
                ("code", &1),
                ("argv", &"a b"),
                ("e", &""),
                ("q", &"x\"y\nz"),
            ],
        );
        assert_eq!(
            line,
            "WARNING child exited code=1 argv=\"a b\" e=\"\" q=\"x\\\"y\\nz\"\n"
        );
    }

    #[test]
    fn journal_format_uses_priority_prefix() {
        let log = Log::new(Level::Info, true);
        assert_eq!(log.format(Level::Error, "boom", &[]), "<3>boom\n");
        assert_eq!(log.format(Level::Info, "up", &[("a", &1)]), "<6>up a=1\n");
    }

    #[test]
    fn journal_stream_must_match_stderr() {
        assert!(journal_stream_matches("8:12345", 8, 12345));
        assert!(!journal_stream_matches("8:12345", 8, 12346));
        assert!(!journal_stream_matches("9:12345", 8, 12345));
        assert!(!journal_stream_matches("", 8, 12345));
        assert!(!journal_stream_matches("8", 8, 12345));
    }

    #[test]
    fn threshold() {
        let log = Log::new(Level::Warning, false);
        assert!(log.enabled(Level::Error));
        assert!(log.enabled(Level::Warning));
        assert!(!log.enabled(Level::Info));
        assert!(!log.enabled(Level::Debug));
    }

    #[test]
    fn level_parse() {
        assert_eq!("debug".parse::<Level>(), Ok(Level::Debug));
        assert_eq!("WARNING".parse::<Level>(), Ok(Level::Warning));
        assert!("verbose".parse::<Level>().is_err());
    }
}
