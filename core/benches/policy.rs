//! Policy engine timings: cron parse + next, one autoscaler pass over two
//! elasticity and one scheduled policy (trivial evaluator), and lint of a role.
//!
//! `cargo bench -p stamen-core --bench policy`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use heapless::String;
use stamen_core::policy::lint::{lint_role, LintOptions, LintRole, RoleRef};
use stamen_core::policy::{
    Adjustment, AdjustmentType, Autoscaler, Bounds, Cron, ElasticityPolicy, ElasticityState,
    EvalError, Evaluator, Schedule, ScheduledPolicy, ScheduledState,
};

struct Flip(bool);

impl Evaluator<256> for Flip {
    fn evaluate(&mut self, expression: &str, trace: &mut String<256>) -> Result<bool, EvalError> {
        self.0 = !self.0;
        trace.clear();
        trace
            .push_str(expression)
            .map_err(|_| EvalError::Capacity)?;
        Ok(self.0)
    }
}

fn policies() -> [ElasticityPolicy<'static>; 2] {
    let change = |adjust| Adjustment {
        kind: AdjustmentType::Change,
        adjust,
        min_adjust_step: 0,
    };
    [
        ElasticityPolicy {
            expression: Some("FL_TRAINING_ACTIVE > 0.8 && CPU > 80"),
            adjustment: change(1),
            period: 0,
            period_number: 3,
            cooldown: Some(300),
        },
        ElasticityPolicy {
            expression: Some("FL_TRAINING_ACTIVE < 0.2"),
            adjustment: change(-1),
            period: 0,
            period_number: 10,
            cooldown: Some(600),
        },
    ]
}

fn bench(c: &mut Criterion) {
    c.bench_function("cron parse + next (0 8 * * mon-fri)", |b| {
        b.iter(|| {
            Cron::parse(black_box("0 8 * * mon-fri"))
                .and_then(|c| c.next_after(black_box(1_700_000_000)))
        })
    });
    let cron = Cron::parse("*/15 9-17 13 * fri").unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("cron next (either-match)", |b| {
        b.iter(|| cron.next_after(black_box(1_700_000_000)))
    });

    let mut role: Autoscaler<'_, 4, 256> = Autoscaler::new(
        Bounds {
            cardinality: 3,
            min_vms: Some(2),
            max_vms: Some(6),
        },
        None,
        300,
    );
    for p in policies() {
        let _ = role.add_elasticity(p, ElasticityState::default());
    }
    let sched = ScheduledPolicy {
        adjustment: Some(Adjustment {
            kind: AdjustmentType::Cardinality,
            adjust: 4,
            min_adjust_step: 0,
        }),
        schedule: Schedule::from_fields(None, Some("0 8 * * mon-fri")).unwrap_or(Schedule::At(0)),
        cooldown: None,
    };
    let _ = role.add_scheduled(sched, ScheduledState::default());
    let mut ev = Flip(false);
    let mut now = 1_700_000_000;
    c.bench_function("autoscaler pass (1 scheduled + 2 elasticity)", |b| {
        b.iter(|| {
            now += 30;
            role.scale(black_box(now), &mut ev)
        })
    });

    let p = policies();
    let lr = LintRole {
        name: Some("supernode"),
        cardinality: 2,
        min_vms: Some(1),
        max_vms: Some(6),
        cooldown: None,
        elasticity: &p,
        scheduled: &[],
    };
    let opts = LintOptions {
        min_fit_clients: Some(2),
        round_seconds: Some(120),
        extra_attributes: &[],
    };
    c.bench_function("lint role (2 policies)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            lint_role(RoleRef::Index(1), black_box(&lr), &opts, &mut |_| n += 1);
            n
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
