//! `stamen context check|vars`: validate the OpenNebula context and show it.

use crate::ctxfile::{self, LoadedContext, SECRET_KEYS};
use clap::{Args as ClapArgs, Subcommand};
use stamen_core::context::{EdgeConfig, NodeConfig};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when the context has errors.
pub const EXIT_INVALID: u8 = 2;
/// Exit status when the context cannot be read.
pub const EXIT_IO: u8 = 1;

/// `stamen context`.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: ContextCommand,
}

/// The `context` subcommands.
#[derive(Subcommand, Debug)]
pub enum ContextCommand {
    /// Validate the context and print the effective FL config (token
    /// redacted). Exit 0 when valid, 2 listing every error.
    Check {
        /// Context file (default: search the guest's usual places, then the
        /// environment). A file named one_env or using `export` lines is
        /// read leniently.
        file: Option<PathBuf>,
    },
    /// Print every variable with its exact value.
    Vars {
        /// Context file (default: as for `check`).
        file: Option<PathBuf>,
        /// One JSON object instead of KEY='value' lines.
        #[arg(long)]
        json: bool,
        /// Print ONEGATE_TOKEN / TOKENTXT instead of `<redacted>`.
        #[arg(long)]
        show_secrets: bool,
    },
}

/// Runs the command on the real process, stdout and stderr.
pub fn run(args: &Args) -> ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = run_with(args, &mut stdout.lock(), &mut stderr.lock());
    ExitCode::from(code)
}

/// Runs the command writing to `out` / `err`; returns the exit status.
pub fn run_with(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let file = match &args.command {
        ContextCommand::Check { file } | ContextCommand::Vars { file, .. } => file.as_deref(),
    };
    let ctx = match ctxfile::load(file) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_IO;
        }
    };
    for w in &ctx.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    let result = match &args.command {
        ContextCommand::Check { .. } => check(&ctx, out, err),
        ContextCommand::Vars {
            json, show_secrets, ..
        } => vars(&ctx, *json, *show_secrets, out, err),
    };
    result.unwrap_or(EXIT_IO)
}

fn check(ctx: &LoadedContext, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    for w in ctx.unknown_fl_warnings() {
        writeln!(err, "warning: {w}")?;
    }
    let errors = ctx.errors();
    if !errors.is_empty() {
        for e in &errors {
            writeln!(err, "{e}")?;
        }
        writeln!(
            err,
            "{}: {} error{}",
            ctx.source_name(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        )?;
        return Ok(EXIT_INVALID);
    }
    let (cfg, _) = ctx.edge_config();
    print_config(ctx, &cfg, out)?;
    Ok(0)
}

fn print_config(
    ctx: &LoadedContext,
    cfg: &EdgeConfig<'_>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let row = |out: &mut dyn Write, k: &str, v: &str| writeln!(out, "{k:<22}{v}");
    writeln!(out, "# {} ({})", ctx.source_name(), ctx.format.as_str())?;
    row(
        out,
        "VMID",
        &opt(cfg.vmid().map(|v| v.to_string()), "(unset)"),
    )?;
    row(
        out,
        "ONEGATE_ENDPOINT",
        &opt(cfg.onegate_endpoint().map(|e| e.to_string()), "(unset)"),
    )?;
    let token = match (&ctx.token, &ctx.token_origin) {
        (Some(t), Some(o)) => {
            let from = match &o.path {
                Some(p) => p.display().to_string(),
                None => o.source.as_str().to_owned(),
            };
            format!("{t} (from {from})")
        }
        _ => "(none)".to_owned(),
    };
    row(out, "ONEGATE_TOKEN", &token)?;
    row(
        out,
        "FL_SUPERLINK_ADDRESS",
        &opt(
            cfg.superlink().map(|a| a.to_string()),
            "(empty: discover via OneGate)",
        ),
    )?;
    row(out, "FL_EDGE_BACKOFF", cfg.backoff().as_str())?;
    row(
        out,
        "FL_EDGE_MAX_BACKOFF",
        &cfg.max_backoff_secs().to_string(),
    )?;
    row(out, "FL_MAX_RETRIES", &unlimited(cfg.max_retries()))?;
    row(
        out,
        "FL_MAX_WAIT_TIME",
        &unlimited(cfg.max_wait_time_secs()),
    )?;
    let nc: NodeConfig<'_> = cfg.node_config();
    row(
        out,
        "FL_NODE_CONFIG",
        &if nc.is_empty() {
            "(empty: partition-id from OneGate)".to_owned()
        } else {
            nc.as_str().trim().to_owned()
        },
    )?;
    row(out, "FL_ISOLATION", cfg.isolation().as_str())?;
    row(out, "FL_LOG_LEVEL", cfg.log_level().as_str())?;
    row(
        out,
        "FL_TLS_ENABLED",
        if cfg.tls_enabled() { "YES" } else { "NO" },
    )?;
    row(
        out,
        "FL_MIN_FIT_CLIENTS",
        &opt(cfg.min_fit_clients().map(|v| v.to_string()), "(unset)"),
    )?;
    Ok(())
}

fn opt(v: Option<String>, none: &str) -> String {
    v.unwrap_or_else(|| none.to_owned())
}

fn unlimited(n: u32) -> String {
    if n == 0 {
        "0 (unlimited)".to_owned()
    } else {
        n.to_string()
    }
}

/// oned's quoting: `'value'` with `'` written `'\''`.
fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

fn vars(
    ctx: &LoadedContext,
    json: bool,
    show_secrets: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<u8> {
    // Shell semantics: the last assignment of a key wins.
    let mut map: BTreeMap<&str, &str> = BTreeMap::new();
    for v in &ctx.vars {
        let value = if !show_secrets && SECRET_KEYS.contains(&v.key.as_str()) {
            "<redacted>"
        } else {
            v.value.as_str()
        };
        map.insert(&v.key, value);
    }
    if json {
        let obj: serde_json::Map<String, serde_json::Value> = map
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(obj))
            .map_err(std::io::Error::other)?;
        writeln!(out, "{text}")?;
    } else {
        for (k, v) in &map {
            writeln!(out, "{k}={}", shell_quote(v))?;
        }
    }
    if ctx.parse_errors.is_empty() {
        return Ok(0);
    }
    for e in &ctx.parse_errors {
        writeln!(
            err,
            "{}:{}:{}: {}",
            ctx.source_name(),
            e.pos.line,
            e.pos.column,
            e.kind
        )?;
    }
    Ok(EXIT_INVALID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxfile::Format;

    #[test]
    fn shell_quote_is_oneds_rule() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn format_names() {
        assert_eq!(Format::OneEnv.as_str(), "one_env");
    }
}
