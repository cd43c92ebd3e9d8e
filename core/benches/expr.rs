//! Expression engine timings: parse + evaluate over 10 VMs, and evaluate a
//! pre-parsed expression (with and without the trace).
//!
//! `cargo bench -p stamen-core --bench expr`

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use stamen_core::expr::{Expr, Lookup, Section, VmResolver, VmView};

const EXPR: &str = "FL_CLIENT_STATUS > 1.5 && FL_TRAINING_ACTIVE < 0.5 || CPU > 80";

struct Vm {
    user: [(&'static str, &'static str); 3],
    monitoring: [(&'static str, &'static str); 2],
}

impl VmView for Vm {
    fn is_running(&self) -> bool {
        true
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        let table: &[(&str, &str)] = match section {
            Section::UserTemplate => &self.user,
            Section::Monitoring => &self.monitoring,
            _ => return Lookup::Missing,
        };
        table
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(Lookup::Missing, |(_, v)| Lookup::Text(v))
    }
}

fn vms() -> Vec<Vm> {
    (0..10)
        .map(|i| Vm {
            user: [
                ("FL_CLIENT_STATUS", if i % 3 == 0 { "1" } else { "2" }),
                ("FL_TRAINING_ACTIVE", if i % 2 == 0 { "0" } else { "1" }),
                ("FL_ROUND", "17"),
            ],
            monitoring: [("CPU", "73.25"), ("MEMORY", "1048576")],
        })
        .collect()
}

/// A `fmt::Write` into a fixed array, reset per iteration.
struct Fixed {
    buf: [u8; 256],
    len: usize,
}

impl core::fmt::Write for Fixed {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let vms = vms();
    c.bench_function("parse+eval 10 VMs", |b| {
        b.iter(|| {
            let e = Expr::<'_, 16>::parse(black_box(EXPR)).unwrap();
            e.eval(&mut VmResolver::new(black_box(&vms))).unwrap()
        })
    });
    let e = Expr::<'_, 16>::parse(EXPR).unwrap();
    c.bench_function("eval pre-parsed 10 VMs", |b| {
        b.iter(|| {
            black_box(&e)
                .eval(&mut VmResolver::new(black_box(&vms)))
                .unwrap()
        })
    });
    c.bench_function("eval pre-parsed 10 VMs + trace", |b| {
        b.iter(|| {
            let mut t = Fixed {
                buf: [0; 256],
                len: 0,
            };
            black_box(&e)
                .eval_traced(&mut VmResolver::new(black_box(&vms)), &mut t)
                .unwrap();
            t.len
        })
    });
    let mut fixed = |name: &str| -> Result<Option<f64>, ()> {
        Ok(match name {
            "FL_CLIENT_STATUS" => Some(1.67),
            "FL_TRAINING_ACTIVE" => Some(0.5),
            "CPU" => Some(73.25),
            _ => None,
        })
    };
    c.bench_function("eval pre-parsed, constant resolver", |b| {
        b.iter(|| black_box(&e).eval(&mut fixed).unwrap())
    });
    c.bench_function("parse only", |b| {
        b.iter(|| {
            Expr::<'_, 16>::parse(black_box(EXPR))
                .unwrap()
                .nodes()
                .len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
