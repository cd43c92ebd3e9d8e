//! stamen side by side with the crates people use today, on the same inputs
//! in the same binary. Group names pair each stamen bench with its peer
//! (`…/stamen` vs `…/evalexpr`, `…/dotenvy`, `…/backon`); `scripts/bench`
//! turns criterion's medians into ratios. Every peer is checked to give the
//! same answer before it is timed (see also `tests/agree.rs`).
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not
//! wall-clock time: on a machine shared with other builds, time spent
//! descheduled would otherwise inflate whichever side was unlucky.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use stamen_bench::exprs::{evalexpr_context, stamen_resolver, values, CASES, VARS};
use stamen_bench::{context_sh, policy_fixture, vector_path};
use stamen_core::backoff::{Backoff, BackoffConfig, Decision, Jitter};
use stamen_core::context::{collect, Dialect, EdgeConfig};
use stamen_core::expr::Expr;
use stamen_core::form;
use stamen_core::status::{ClientStatus, FlStatus};

/// CPU time of the calling thread.
struct CpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Nanoseconds, scaled for display like criterion's wall-clock formatter.
struct Ns;

impl ValueFormatter for Ns {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e3, "µs"),
            _ => (1e6, "ms"),
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }

    fn scale_throughputs(&self, _: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
            Throughput::Elements(n) => *n as f64,
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = per * 1e9 / *v);
        "units/s"
    }

    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(thread_cpu_ns().saturating_sub(start))
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &Ns
    }
}

fn dotenvy_parse(text: &str) -> Vec<(String, String)> {
    dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("dotenvy accepts the generated context (checked in tests/agree.rs)")
}

fn context_parse(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("context_parse");
    for (label, size) in [("4KB", 4 * 1024), ("64KB", 64 * 1024)] {
        let text = context_sh(size).expect("vectors readable");
        let want = dotenvy_parse(&text).len();
        let mut scratch = vec![0u8; text.len()];
        {
            let got = collect::<4096, 8>(text.as_bytes(), Dialect::ContextSh, &mut scratch);
            assert!(got.errors().is_empty() && got.vars().len() == want);
        }
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("stamen", label), &text, |b, text| {
            b.iter(|| {
                let got = collect::<4096, 8>(
                    black_box(text.as_bytes()),
                    Dialect::ContextSh,
                    &mut scratch,
                );
                got.vars().len()
            })
        });
        g.bench_with_input(BenchmarkId::new("dotenvy", label), &text, |b, text| {
            b.iter(|| dotenvy_parse(black_box(text)).len())
        });
    }
    g.finish();
}

fn edge_config_build(c: &mut Criterion<CpuTime>) {
    let text = std::fs::read(vector_path("oneflow-role", "context.sh")).expect("vector");
    let mut scratch = vec![0u8; text.len()];
    let vars = collect::<256, 8>(&text, Dialect::ContextSh, &mut scratch);
    assert!(vars.errors().is_empty());
    let mut g = c.benchmark_group("edge_config_build");
    g.bench_function("stamen", |b| {
        b.iter(|| {
            let (cfg, errs) = EdgeConfig::build::<_, 8>(black_box(vars.vars()).iter().copied());
            (cfg.max_backoff_secs(), errs.len())
        })
    });
    g.finish();
}

fn backoff_next_delay(c: &mut Criterion<CpuTime>) {
    // Same schedule on both sides: 10 s, ×2, capped at 300 s, unlimited;
    // each side starts a new streak after 64 delays.
    let mut g = c.benchmark_group("backoff_next_delay");
    for (label, jitter) in [("none", Jitter::None), ("jitter", Jitter::Full)] {
        g.bench_function(BenchmarkId::new("stamen", label), |b| {
            let mut bo = Backoff::new(
                BackoffConfig::exponential_default(300).with_jitter(jitter),
                7,
            );
            let mut now = 0u64;
            b.iter(|| {
                let d = match bo.on_failure(black_box(now)) {
                    Decision::Retry { delay_ms, .. } => delay_ms,
                    _ => 0,
                };
                now += 1;
                if bo.failures() >= 64 {
                    bo.on_success(now);
                }
                d
            })
        });
        g.bench_function(BenchmarkId::new("backon", label), |b| {
            let mut builder = ExponentialBuilder::default()
                .with_min_delay(Duration::from_secs(10))
                .with_factor(2.0)
                .with_max_delay(Duration::from_secs(300))
                .without_max_times();
            if jitter != Jitter::None {
                builder = builder.with_jitter();
            }
            let mut it = black_box(builder).build();
            let mut n = 0u32;
            b.iter(|| {
                let d = it.next();
                n += 1;
                if n >= 64 {
                    n = 0;
                    it = black_box(builder).build();
                }
                d
            })
        });
    }
    g.finish();
}

fn status_encode(c: &mut Criterion<CpuTime>) {
    let s = FlStatus::new(ClientStatus::Training, 123_456);
    let mut g = c.benchmark_group("status_encode");
    g.bench_function("stamen", |b| {
        let mut buf = [0u8; 128];
        b.iter(|| form::status_body(black_box(&s), &mut buf))
    });
    g.finish();
}

fn expression(c: &mut Criterion<CpuTime>) {
    let vals = values();
    let ctx = evalexpr_context();
    let mut g = c.benchmark_group("expr_parse");
    for case in CASES {
        g.bench_function(BenchmarkId::new("stamen", case.name), |b| {
            b.iter(|| Expr::<'_, 64>::parse(black_box(case.expr)).is_ok())
        });
        g.bench_function(BenchmarkId::new("evalexpr", case.name), |b| {
            b.iter(|| evalexpr::build_operator_tree(black_box(case.expr)).is_ok())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("expr_eval_preparsed");
    for case in CASES {
        let ours = Expr::<'_, 64>::parse(case.expr).expect("valid");
        let theirs = evalexpr::build_operator_tree(case.expr).expect("valid");
        assert_eq!(ours.eval(&mut stamen_resolver(&vals)), Ok(case.expected));
        assert_eq!(
            theirs.eval_boolean_with_context(&ctx).ok(),
            Some(case.expected)
        );
        g.bench_function(BenchmarkId::new("stamen", case.name), |b| {
            let mut r = stamen_resolver(&vals);
            b.iter(|| black_box(&ours).eval(&mut r))
        });
        g.bench_function(BenchmarkId::new("evalexpr", case.name), |b| {
            b.iter(|| black_box(&theirs).eval_boolean_with_context(&ctx).ok())
        });
        // Not a like-for-like row: how much of stamen's time is the HashMap
        // lookup (a linear scan of the 13 (name, value) pairs instead).
        g.bench_function(BenchmarkId::new("stamen-scan", case.name), |b| {
            let mut r = |name: &str| -> Result<Option<f64>, Infallible> {
                Ok(VARS.iter().find(|(k, _)| *k == name).map(|&(_, v)| v))
            };
            b.iter(|| black_box(&ours).eval(&mut r))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("expr_parse_eval");
    for case in CASES {
        g.bench_function(BenchmarkId::new("stamen", case.name), |b| {
            let mut r = stamen_resolver(&vals);
            b.iter(|| {
                Expr::<'_, 64>::parse(black_box(case.expr))
                    .ok()
                    .map(|e| e.eval(&mut r))
            })
        });
        g.bench_function(BenchmarkId::new("evalexpr", case.name), |b| {
            b.iter(|| evalexpr::eval_boolean_with_context(black_box(case.expr), &ctx).ok())
        });
    }
    g.finish();
}

fn policy_pass(c: &mut Criterion<CpuTime>) {
    let vms = policy_fixture::vms(100);
    let exprs = policy_fixture::expressions(10);
    let mut scaler = policy_fixture::autoscaler(&exprs);
    let mut eval = policy_fixture::VmsEval { vms: &vms };
    // Every pass must evaluate all 10 policies (checked in tests/agree.rs too).
    let first = scaler.scale(1, &mut eval).expect("evaluates");
    assert_eq!(first.diff, 0, "no policy may trigger: {first:?}");
    assert!(scaler
        .elasticity
        .iter()
        .all(|e| e.state.last_eval == Some(1)));
    // Time keeps moving across criterion's calls of the closure (warm-up,
    // then samples): a pass at an earlier time than the last evaluation
    // would skip every policy.
    let mut now = 1i64;
    let mut g = c.benchmark_group("policy_pass_10x100");
    g.bench_function("stamen", |b| {
        b.iter(|| {
            now += 1;
            let d = scaler.scale(black_box(now), &mut eval);
            assert!(d.is_ok());
            d
        })
    });
    g.finish();
    assert!(scaler
        .elasticity
        .iter()
        .all(|e| e.state.last_eval > Some(1)));
}

criterion_group!(
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets =
    context_parse,
    edge_config_build,
    backoff_next_delay,
    status_encode,
    expression,
    policy_pass
);
criterion_main!(benches);
