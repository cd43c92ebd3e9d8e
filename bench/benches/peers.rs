//! stamen side by side with the crates people use today, on the same inputs
//! in the same binary. Group names pair each stamen bench with its peer
//! (`…/stamen` vs `…/evalexpr`, `…/dotenvy`, `…/backon`); `scripts/bench`
//! turns criterion's medians into ratios. Every peer is checked to give the
//! same answer before it is timed (see also `tests/agree.rs`).

use std::hint::black_box;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use stamen_bench::exprs::{evalexpr_context, stamen_resolver, values, CASES};
use stamen_bench::{context_sh, vector_path};
use stamen_core::backoff::{Backoff, BackoffConfig, Decision, Jitter};
use stamen_core::context::{collect, Dialect, EdgeConfig};
use stamen_core::expr::{Expr, Lookup, Section, VmResolver, VmView};
use stamen_core::form;
use stamen_core::policy::{
    Adjustment, AdjustmentType, Autoscaler, Bounds, ElasticityPolicy, ElasticityState, EvalError,
    Evaluator,
};
use stamen_core::status::{ClientStatus, FlStatus};

fn dotenvy_parse(text: &str) -> Vec<(String, String)> {
    dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("dotenvy accepts the generated context (checked in tests/agree.rs)")
}

fn context_parse(c: &mut Criterion) {
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

fn edge_config_build(c: &mut Criterion) {
    let text = std::fs::read(vector_path("oneflow-role", "context.sh")).expect("vector");
    let mut scratch = vec![0u8; text.len()];
    let vars = collect::<256, 8>(&text, Dialect::ContextSh, &mut scratch);
    assert!(vars.errors().is_empty());
    c.bench_function("edge_config_build/stamen", |b| {
        b.iter(|| {
            let (cfg, errs) = EdgeConfig::build::<_, 8>(black_box(vars.vars()).iter().copied());
            (cfg.max_backoff_secs(), errs.len())
        })
    });
}

fn backoff_next_delay(c: &mut Criterion) {
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

fn status_encode(c: &mut Criterion) {
    let s = FlStatus::new(ClientStatus::Training, 123_456);
    c.bench_function("status_encode/stamen", |b| {
        let mut buf = [0u8; 128];
        b.iter(|| form::status_body(black_box(&s), &mut buf))
    });
}

fn expression(c: &mut Criterion) {
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

/// A RUNNING VM whose USER_TEMPLATE holds the FL attributes.
struct Vm {
    user: Vec<(&'static str, String)>,
}

impl VmView for Vm {
    fn is_running(&self) -> bool {
        true
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        match section {
            Section::UserTemplate => self
                .user
                .iter()
                .find(|(k, _)| *k == name)
                .map_or(Lookup::Missing, |(_, v)| Lookup::Text(v)),
            _ => Lookup::Missing,
        }
    }
}

/// What OneFlow does per policy: parse, average over the VMs, trace.
struct VmsEval<'v> {
    vms: &'v [Vm],
}

impl Evaluator<256> for VmsEval<'_> {
    fn evaluate(
        &mut self,
        expression: &str,
        trace: &mut heapless::String<256>,
    ) -> Result<bool, EvalError> {
        trace.clear();
        let e = Expr::<'_, 64>::parse(expression).map_err(|_| EvalError::Capacity)?;
        e.eval_traced(&mut VmResolver::new(self.vms), trace)
            .map_err(|_| EvalError::Capacity)
    }
}

fn policy_pass(c: &mut Criterion) {
    // 100 RUNNING VMs; 10 elasticity policies that all evaluate false, so a
    // pass evaluates every one (the first true one would end the pass).
    let vms: Vec<Vm> = (0..100u32)
        .map(|i| Vm {
            user: vec![
                ("FL_CLIENT_STATUS", (1 + i % 3).to_string()),
                ("FL_TRAINING_ACTIVE", (i % 2).to_string()),
                ("FL_ROUND_NUMBER", (i / 10).to_string()),
                ("CPU", format!("{}.{}", 20 + i % 50, i % 10)),
                ("MEMORY", (1_000_000 + i * 1_000).to_string()),
            ],
        })
        .collect();
    let exprs: Vec<String> = (0..10)
        .map(|i| match i % 5 {
            0 => format!("CPU > {}", 90 + i),
            1 => format!("FL_CLIENT_STATUS == {}", 5 + i),
            2 => format!("FL_TRAINING_ACTIVE > 1 && CPU > {}", 50 + i),
            3 => format!("(MEMORY < {} || CPU > 99) && FL_ROUND_NUMBER > 0", 1000 + i),
            _ => format!("FL_ROUND_NUMBER > {}", 100 + i),
        })
        .collect();
    let mut scaler: Autoscaler<'_, 16, 256> = Autoscaler::new(
        Bounds {
            cardinality: 4,
            min_vms: Some(2),
            max_vms: Some(10),
        },
        None,
        300,
    );
    for e in &exprs {
        scaler
            .add_elasticity(
                ElasticityPolicy {
                    expression: Some(e),
                    adjustment: Adjustment {
                        kind: AdjustmentType::Change,
                        adjust: 1,
                        min_adjust_step: 0,
                    },
                    period: 0,
                    period_number: 1,
                    cooldown: None,
                },
                ElasticityState::default(),
            )
            .expect("capacity 16");
    }
    let mut eval = VmsEval { vms: &vms };
    let first = scaler.scale(1, &mut eval).expect("evaluates");
    assert_eq!(first.diff, 0, "no policy may trigger: {first:?}");
    c.bench_function("policy_pass_10x100/stamen", |b| {
        let mut now = 1i64;
        b.iter(|| {
            now += 1;
            scaler.scale(black_box(now), &mut eval).map(|d| d.diff)
        })
    });
}

criterion_group!(
    benches,
    context_parse,
    edge_config_build,
    backoff_next_delay,
    status_encode,
    expression,
    policy_pass
);
criterion_main!(benches);
