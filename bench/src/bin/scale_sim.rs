//! Discovery storm simulation, no network: N edge nodes lose their SuperLink
//! at t = 0, each retries discovery with its own stamen-core `Backoff`
//! (seeded per node), and the SuperLink is back at `--back-at` seconds. Every
//! discovery attempt is 2 OneGate requests (`GET /service`, then
//! `GET /vms/:id`, SPEC §5). Prints, per jitter mode, the OneGate request
//! rate over time, its peak (busiest second) and mean (t = 0 until the last
//! node is back), as Markdown.
//!
//! `cargo run -p stamen-bench --release --bin scale_sim -- [--nodes N] [--back-at S] [--spread-ms MS]`

use std::process::ExitCode;

use stamen_bench::scale::{simulate, Run, Scenario, REQUESTS_PER_ATTEMPT};
use stamen_core::backoff::{BackoffConfig, Jitter};

struct Args {
    nodes: u32,
    back_at_s: u64,
    spread_ms: u64,
    max_backoff_s: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        nodes: 10_000,
        back_at_s: 120,
        spread_ms: 0,
        max_backoff_s: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag}: missing value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v:?}: {e}"));
        match flag.as_str() {
            "--nodes" => a.nodes = u32::try_from(num(&value)?).map_err(|e| e.to_string())?,
            "--back-at" => a.back_at_s = num(&value)?,
            "--spread-ms" => a.spread_ms = num(&value)?,
            "--max-backoff" => a.max_backoff_s = num(&value)?,
            _ => {
                return Err(format!(
                "unknown option {flag} (allowed: --nodes, --back-at, --spread-ms, --max-backoff)"
            ))
            }
        }
    }
    if a.nodes == 0 || a.max_backoff_s == 0 {
        return Err("--nodes and --max-backoff must be > 0".into());
    }
    Ok(a)
}

fn window_rate(run: &Run, from: usize, to: usize) -> f64 {
    let sum: u64 = (from..to)
        .map(|s| run.per_second.get(s).copied().unwrap_or(0))
        .sum();
    sum as f64 / (to - from) as f64
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scale_sim: {e}");
            return ExitCode::from(2);
        }
    };
    let sc = Scenario {
        nodes: args.nodes,
        back_at_s: args.back_at_s,
        spread_ms: args.spread_ms,
    };
    let exp = BackoffConfig::exponential_default(args.max_backoff_s);
    let mut runs: Vec<Run> = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ]
    .into_iter()
    .map(|j| {
        simulate(
            &sc,
            &format!("exponential, {}", j.as_str()),
            exp.with_jitter(j),
        )
    })
    .collect();
    runs.push(simulate(
        &sc,
        "fixed 10 s (legacy), none",
        BackoffConfig::fixed(10_000).with_jitter(Jitter::None),
    ));

    println!(
        "{} nodes lose the SuperLink at t = 0 (first attempts spread over {} ms); \
         it is back at t = {} s. Exponential: 10 s, ×2, cap {} s. \
         One discovery attempt = {} OneGate requests.\n",
        args.nodes, args.spread_ms, args.back_at_s, args.max_backoff_s, REQUESTS_PER_ATTEMPT
    );
    println!("| jitter | peak req/s (busiest second) | peak req/s from t = 1 s (retries only) | mean req/s (t=0 → last node back) | last node back at | requests in all |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        let peak = r.per_second.iter().copied().max().unwrap_or(0);
        let peak_retry = r.per_second.iter().skip(1).copied().max().unwrap_or(0);
        let total: u64 = r.per_second.iter().sum();
        let span_s = (r.last_back_ms / 1000 + 1) as f64;
        println!(
            "| {} | {} | {} | {:.1} | {:.1} s | {}{} |",
            r.label,
            peak,
            peak_retry,
            total as f64 / span_s,
            r.last_back_ms as f64 / 1000.0,
            total,
            if r.gave_up > 0 {
                format!(" ({} gave up)", r.gave_up)
            } else {
                String::new()
            }
        );
    }
    let horizon = runs.iter().map(|r| r.per_second.len()).max().unwrap_or(0);
    println!("\nRequests per second to OneGate, averaged over each window:\n");
    print!("| window (s) |");
    for r in &runs {
        print!(" {} |", r.label);
    }
    print!("\n|---|");
    for _ in &runs {
        print!("---:|");
    }
    println!();
    let mut edges = vec![0usize, 1];
    let mut t = 10;
    while t < horizon {
        edges.push(t);
        t += if t < 200 { 10 } else { 50 };
    }
    edges.push(horizon);
    for w in edges.windows(2) {
        let (from, to) = (w[0], w[1]);
        if from >= to {
            continue;
        }
        print!("| {from}–{to} |");
        for r in &runs {
            print!(" {:.1} |", window_rate(r, from, to));
        }
        println!();
    }
    ExitCode::SUCCESS
}
