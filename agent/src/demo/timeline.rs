//! The demo's live timeline: `[ 3.2s] gate      autoscaler: …`, one line per
//! event, the source in a fixed-width column. Colour only when asked (the
//! caller decides: a TTY and no `NO_COLOR`).

use std::io::Write;
use std::time::Instant;

/// How a line is emphasised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tone {
    /// Ordinary progress.
    Plain,
    /// Something retried or degraded (a WARNING from an agent).
    Warn,
    /// A failure.
    Error,
    /// A milestone reached.
    Good,
    /// Background detail.
    Dim,
}

/// Writes timeline lines to stdout.
#[derive(Debug, Clone)]
pub struct Timeline {
    start: Instant,
    color: bool,
}

const PALETTE: [&str; 6] = ["32", "34", "96", "95", "92", "94"];

impl Timeline {
    /// A timeline whose clock starts now.
    pub fn new(color: bool) -> Timeline {
        Timeline {
            start: Instant::now(),
            color,
        }
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether colour is on.
    pub fn color(&self) -> bool {
        self.color
    }

    fn source_color(src: &str) -> &'static str {
        match src {
            "gate" => "36",
            "superlink" => "35",
            "demo" => "1",
            _ => {
                let n: usize = src
                    .rsplit('-')
                    .next()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                PALETTE.get(n % PALETTE.len()).copied().unwrap_or("0")
            }
        }
    }

    /// Formats one line (without the final newline).
    pub fn format(&self, secs: f64, src: &str, tone: Tone, text: &str) -> String {
        let stamp = format!("[{secs:>4.1}s]");
        if !self.color {
            return format!("{stamp} {src:<10}{text}");
        }
        let body = match tone {
            Tone::Plain => text.to_string(),
            Tone::Warn => format!("\x1b[33m{text}\x1b[0m"),
            Tone::Error => format!("\x1b[1;31m{text}\x1b[0m"),
            Tone::Good => format!("\x1b[1;32m{text}\x1b[0m"),
            Tone::Dim => format!("\x1b[2m{text}\x1b[0m"),
        };
        format!(
            "\x1b[2m{stamp}\x1b[0m \x1b[{}m{src:<10}\x1b[0m{body}",
            Self::source_color(src)
        )
    }

    /// Prints one line now.
    pub fn line(&self, src: &str, tone: Tone, text: &str) {
        let l = self.format(self.elapsed(), src, tone, text);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{l}");
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_format_aligns_the_source() {
        let t = Timeline::new(false);
        assert_eq!(
            t.format(3.24, "gate", Tone::Good, "autoscaler: x"),
            "[ 3.2s] gate      autoscaler: x"
        );
        assert_eq!(
            t.format(12.0, "node-101", Tone::Plain, "y"),
            "[12.0s] node-101  y"
        );
    }

    #[test]
    fn colour_only_when_on() {
        let t = Timeline::new(true);
        let l = t.format(1.0, "node-102", Tone::Warn, "retrying");
        assert!(l.contains("\x1b["), "{l:?}");
        assert!(l.contains("retrying"));
        assert!(!Timeline::new(false)
            .format(1.0, "node-102", Tone::Warn, "retrying")
            .contains('\x1b'));
    }
}
