//! `stamen backoff`: show the retry schedule a backoff configuration produces.
//!
//! It drives the same [`Backoff`] state machine the agent uses, failing every
//! attempt instantly, and prints one line per retry: the attempt that is due,
//! its delay and the cumulative wait since the first failure. With
//! `--context FILE` the strategy and cap come from an OpenNebula `context.sh`
//! (`FL_EDGE_BACKOFF`, `FL_EDGE_MAX_BACKOFF`, also with the `ONEAPP_` prefix),
//! read by [`crate::ctxfile`] and validated by core's `EdgeConfig` exactly as
//! the agent reads them.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::ctxfile;
use clap::ValueEnum;
use serde::Serialize;
use stamen_core::backoff::{
    Backoff, BackoffConfig, Decision, GiveUpReason, Jitter, Multiplier, Strategy,
    DEFAULT_FIXED_INTERVAL_MS, DEFAULT_FIXED_MAX_ATTEMPTS, DEFAULT_INITIAL_MS,
    DEFAULT_MAX_BACKOFF_SECS,
};
use stamen_core::context::{BackoffStrategy, Pos};

/// Command line of `stamen backoff`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Print the retry delays a backoff configuration produces",
    long_about = "Print the retry delays a backoff configuration produces.\n\n\
        Each line is: the attempt due next (the first try is attempt 1), its delay in ms, \
        and the cumulative wait in ms since the first failure (attempts are assumed to fail \
        instantly). --max-attempts N allows N attempts in total, i.e. N-1 retries."
)]
pub struct Args {
    /// Take the strategy and cap from an OpenNebula context.sh
    /// (FL_EDGE_BACKOFF, FL_EDGE_MAX_BACKOFF).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["strategy", "initial", "max", "multiplier"])]
    pub context: Option<PathBuf>,
    /// Envelope strategy [default: exponential].
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// First delay (exponential) or the interval (fixed), in ms [default: 10000].
    #[arg(long, value_name = "MS")]
    pub initial: Option<u64>,
    /// Cap of the exponential envelope, in ms [default: 300000].
    #[arg(long, value_name = "MS")]
    pub max: Option<u64>,
    /// Growth per retry of the exponential envelope, e.g. 2 or 1.6 [default: 2].
    #[arg(long, value_name = "N")]
    pub multiplier: Option<Multiplier>,
    /// How each delay is drawn from the envelope [default: equal].
    #[arg(long, value_enum)]
    pub jitter: Option<JitterArg>,
    /// Attempts in total (retries + 1); 0 = unlimited [default: 30 for fixed,
    /// unlimited for exponential].
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Give up when a retry would start this many ms after the first failure;
    /// 0 = unlimited [default: unlimited].
    #[arg(long, value_name = "MS")]
    pub max_elapsed: Option<u64>,
    /// PRNG seed for the jitter [default: derived from the clock, printed].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Number of failures to simulate.
    #[arg(short = 'n', value_name = "K", default_value_t = 10)]
    pub count: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--strategy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// initial × multiplier^(retry−1), capped at --max.
    Exponential,
    /// The same interval (--initial) every time.
    Fixed,
}

/// `--jitter` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JitterArg {
    /// Exactly the envelope.
    None,
    /// Uniform in [0, envelope].
    Full,
    /// Uniform in [envelope/2, envelope].
    Equal,
    /// min(cap, uniform[initial, 3 × previous delay]).
    Decorrelated,
}

impl From<JitterArg> for Jitter {
    fn from(j: JitterArg) -> Jitter {
        match j {
            JitterArg::None => Jitter::None,
            JitterArg::Full => Jitter::Full,
            JitterArg::Equal => Jitter::Equal,
            JitterArg::Decorrelated => Jitter::Decorrelated,
        }
    }
}

/// Why `stamen backoff` failed.
#[derive(Debug)]
pub enum Error {
    /// A flag that does not apply to the chosen strategy.
    Usage(String),
    /// The context file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The context file has errors; one formatted line each
    /// (`FILE:LINE:COL: message`).
    Context(Vec<String>),
    /// Writing the output failed.
    Output(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Read { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Context(lines) => f.write_str(&lines.join("\n")),
            Error::Output(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The context variables that set the backoff, as read from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextBackoff {
    /// FL_EDGE_BACKOFF.
    pub strategy: BackoffStrategy,
    /// FL_EDGE_MAX_BACKOFF, seconds.
    pub max_backoff_secs: u32,
}

/// Map the context's backoff settings to a [`BackoffConfig`]: exponential →
/// 10 s ×2 capped at FL_EDGE_MAX_BACKOFF, unlimited; fixed → 10 s, 30
/// attempts (FL_EDGE_MAX_BACKOFF ignored). Both with equal jitter.
pub fn config_from_context(strategy: BackoffStrategy, max_backoff_secs: u32) -> BackoffConfig {
    match strategy {
        BackoffStrategy::Fixed => BackoffConfig::fixed_default(),
        _ => BackoffConfig::exponential_default(u64::from(max_backoff_secs)),
    }
}

/// Read a context file (context.sh, or one_env read leniently) and return
/// its backoff settings. Every syntax and validation error is returned, one
/// line each as `FILE:LINE:COL: KEY: message (allowed: …)`, in file order.
/// The OneGate token is not resolved: this command never talks to OneGate.
pub fn read_context(path: &Path) -> Result<ContextBackoff, Error> {
    let bytes = ctxfile::read_bounded(path, ctxfile::DEFAULT_MAX_BYTES).map_err(|e| match e {
        ctxfile::LoadError::Io { path, error } => Error::Read {
            path,
            source: error,
        },
        other => Error::Context(vec![other.to_string()]),
    })?;
    let format = ctxfile::sniff_format(path, &bytes);
    let ctx = ctxfile::parse_bytes(&bytes, format);
    let file = path.display();
    let at = |pos: Option<Pos>| match pos {
        Some(p) => format!("{file}:{}:{}: ", p.line, p.column),
        None => format!("{file}: "),
    };
    // (position, message); problems without a position come last.
    let mut found: Vec<(Option<Pos>, String)> = ctx
        .parse_errors
        .iter()
        .map(|e| (Some(e.pos), format!("{}{}", at(Some(e.pos)), e.kind)))
        .collect();
    if ctx.dropped_parse_errors > 0 {
        let n = ctx.dropped_parse_errors;
        found.push((
            None,
            format!("{}{n} more syntax errors not listed", at(None)),
        ));
    }
    let (cfg, errors) = ctx.edge_config();
    for e in errors.iter() {
        found.push((e.pos, format!("{}{e}", at(e.pos))));
    }
    if errors.dropped() > 0 {
        let n = errors.dropped();
        found.push((None, format!("{}{n} more errors not listed", at(None))));
    }
    if !found.is_empty() {
        found.sort_by_key(|(pos, _)| pos.map_or((u32::MAX, u32::MAX), |p| (p.line, p.column)));
        return Err(Error::Context(found.into_iter().map(|(_, m)| m).collect()));
    }
    Ok(ContextBackoff {
        strategy: cfg.backoff(),
        max_backoff_secs: cfg.max_backoff_secs(),
    })
}

/// Build the configuration the flags describe.
pub fn config_from_args(args: &Args) -> Result<BackoffConfig, Error> {
    let mut cfg = if let Some(path) = &args.context {
        let c = read_context(path)?;
        config_from_context(c.strategy, c.max_backoff_secs)
    } else {
        match args.strategy.unwrap_or(StrategyArg::Exponential) {
            StrategyArg::Exponential => BackoffConfig::exponential(
                args.initial.unwrap_or(DEFAULT_INITIAL_MS),
                args.multiplier.unwrap_or(Multiplier::TWO),
                args.max
                    .unwrap_or(DEFAULT_MAX_BACKOFF_SECS.saturating_mul(1000)),
            ),
            StrategyArg::Fixed => {
                if args.max.is_some() || args.multiplier.is_some() {
                    return Err(Error::Usage(
                        "--max and --multiplier apply only to --strategy exponential \
                         (fixed uses --initial as its interval)"
                            .into(),
                    ));
                }
                BackoffConfig::fixed(args.initial.unwrap_or(DEFAULT_FIXED_INTERVAL_MS))
                    .with_max_attempts(DEFAULT_FIXED_MAX_ATTEMPTS)
            }
        }
    };
    if let Some(j) = args.jitter {
        cfg = cfg.with_jitter(j.into());
    }
    if let Some(n) = args.max_attempts {
        cfg = cfg.with_max_attempts(n);
    }
    if let Some(ms) = args.max_elapsed {
        cfg = cfg.with_max_elapsed_ms(ms);
    }
    Ok(cfg)
}

/// One simulated retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The attempt due after this delay (the first try is attempt 1).
    pub attempt: u32,
    /// The delay before it, ms.
    pub delay_ms: u64,
    /// Sum of the delays so far, ms.
    pub cumulative_ms: u64,
}

/// How a simulation ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum GaveUp {
    /// The limit of attempts was reached.
    MaxAttempts {
        /// Attempts made.
        attempts: u32,
    },
    /// The next retry would pass the elapsed-time limit.
    MaxElapsed {
        /// Time from the first failure to the last one, ms.
        elapsed_ms: u64,
    },
}

/// Simulate `count` instantly failing attempts starting at time 0.
pub fn simulate(cfg: BackoffConfig, seed: u64, count: u32) -> (Vec<Row>, Option<GaveUp>) {
    let mut b = Backoff::new(cfg, seed);
    let mut now = 0u64;
    let mut rows = Vec::new();
    for _ in 0..count {
        match b.on_failure(now) {
            Decision::Retry {
                at_ms,
                delay_ms,
                attempt,
            } => {
                now = at_ms;
                rows.push(Row {
                    attempt,
                    delay_ms,
                    cumulative_ms: at_ms,
                });
            }
            Decision::GiveUp { reason } => {
                let g = match reason {
                    GiveUpReason::MaxElapsed { elapsed_ms } => GaveUp::MaxElapsed { elapsed_ms },
                    GiveUpReason::MaxAttempts { attempts } => GaveUp::MaxAttempts { attempts },
                    // Future reasons: report the attempts made.
                    _ => GaveUp::MaxAttempts {
                        attempts: b.failures(),
                    },
                };
                return (rows, Some(g));
            }
            // A future decision kind: stop rather than guess.
            _ => break,
        }
    }
    (rows, None)
}

#[derive(Serialize)]
struct JsonConfig {
    strategy: &'static str,
    initial_ms: u64,
    multiplier: Option<String>,
    cap_ms: u64,
    jitter: &'static str,
    max_attempts: Option<u32>,
    max_elapsed_ms: Option<u64>,
}

#[derive(Serialize)]
struct JsonOut {
    config: JsonConfig,
    seed: u64,
    retries: Vec<Row>,
    gave_up: Option<GaveUp>,
}

fn describe(cfg: &BackoffConfig) -> JsonConfig {
    let (strategy, initial_ms, multiplier) = match cfg.strategy() {
        Strategy::Exponential {
            initial_ms,
            multiplier,
            ..
        } => ("exponential", initial_ms, Some(multiplier.to_string())),
        Strategy::Fixed { interval_ms } => ("fixed", interval_ms, None),
        _ => ("unknown", cfg.base_ms(), None),
    };
    JsonConfig {
        strategy,
        initial_ms,
        multiplier,
        cap_ms: cfg.cap_ms(),
        jitter: cfg.jitter().as_str(),
        max_attempts: cfg.max_attempts().map(|n| n.get()),
        max_elapsed_ms: cfg.max_elapsed_ms().map(|n| n.get()),
    }
}

fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Fold the 128-bit count; the low bits change fastest.
    (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id())
}

/// Run the command, writing the schedule to `out`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Error> {
    let cfg = config_from_args(args)?;
    let seed = args.seed.unwrap_or_else(clock_seed);
    let (rows, gave_up) = simulate(cfg, seed, args.count);
    let d = describe(&cfg);
    if args.json {
        let doc = JsonOut {
            config: d,
            seed,
            retries: rows,
            gave_up,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)
            .map_err(|e| Error::Output(io::Error::other(e)))?;
        writeln!(out).map_err(Error::Output)?;
        return Ok(());
    }
    let w = |o: &mut dyn Write, s: String| writeln!(o, "{s}").map_err(Error::Output);
    let limit = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
    let shape = match &d.multiplier {
        Some(m) => format!(
            "exponential initial={}ms multiplier={m} cap={}ms",
            d.initial_ms, d.cap_ms
        ),
        None => format!("{} interval={}ms", d.strategy, d.initial_ms),
    };
    w(
        out,
        format!(
            "# {shape} jitter={} max-attempts={} max-elapsed={} seed={seed}",
            d.jitter,
            limit(d.max_attempts.map(|n| n.to_string())),
            limit(d.max_elapsed_ms.map(|n| format!("{n}ms"))),
        ),
    )?;
    w(
        out,
        format!(
            "# {:>7} {:>12} {:>15}",
            "attempt", "delay_ms", "cumulative_ms"
        ),
    )?;
    for r in &rows {
        w(
            out,
            format!(
                "  {:>7} {:>12} {:>15}",
                r.attempt, r.delay_ms, r.cumulative_ms
            ),
        )?;
    }
    match gave_up {
        Some(GaveUp::MaxAttempts { attempts }) => w(
            out,
            format!("# gave up: attempt {attempts} failed and max-attempts is {attempts}"),
        )?,
        Some(GaveUp::MaxElapsed { elapsed_ms }) => w(
            out,
            format!("# gave up: failure at {elapsed_ms}ms; the next retry would pass max-elapsed"),
        )?,
        None => {}
    }
    Ok(())
}

/// Entry point used by `main`: runs, prints errors to stderr, returns the
/// exit status (0 ok, 2 usage or context errors, 1 I/O errors).
pub fn main(args: Args) -> ExitCode {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    match run(&args, &mut lock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e {
                Error::Usage(_) | Error::Context(_) => 2,
                Error::Read { .. } | Error::Output(_) => 1,
            };
            match &e {
                Error::Context(lines) => {
                    eprintln!("stamen backoff: invalid context:");
                    for l in lines {
                        eprintln!("{l}");
                    }
                }
                other => eprintln!("stamen backoff: {other}"),
            }
            ExitCode::from(code)
        }
    }
}
