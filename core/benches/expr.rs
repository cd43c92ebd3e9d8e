//! Expression engine timings: parse + evaluate over 10 VMs, and evaluate a
//! pre-parsed expression (with and without the trace).
//!
//! `cargo bench -p stamen-core --bench expr` runs every benchmark twice: with
//! wall-clock time (criterion's default) and with the thread's CPU time
//! (`cpu/…`), which stays meaningful on a busy shared machine.
#![allow(unsafe_code)]

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
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

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e3, "µs")
        } else {
            (1e6, "ms")
        };
        for v in values.iter_mut() {
            *v /= div;
        }
        unit
    }

    fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
        for v in values.iter_mut() {
            *v = 1e9 / *v;
        }
        "elem/s"
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
        &NsFormatter
    }
}

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
    bench_all(c, "");
}

fn bench_all<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str) {
    let vms = vms();
    c.bench_function(&format!("{prefix}parse+eval 10 VMs"), |b| {
        b.iter(|| {
            let e = Expr::<'_, 16>::parse(black_box(EXPR)).unwrap();
            e.eval(&mut VmResolver::new(black_box(&vms))).unwrap()
        })
    });
    let e = Expr::<'_, 16>::parse(EXPR).unwrap();
    c.bench_function(&format!("{prefix}eval pre-parsed 10 VMs"), |b| {
        b.iter(|| {
            black_box(&e)
                .eval(&mut VmResolver::new(black_box(&vms)))
                .unwrap()
        })
    });
    c.bench_function(&format!("{prefix}eval pre-parsed 10 VMs + trace"), |b| {
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
    c.bench_function(
        &format!("{prefix}eval pre-parsed, constant resolver"),
        |b| b.iter(|| black_box(&e).eval(&mut fixed).unwrap()),
    );
    c.bench_function(&format!("{prefix}str_to_f 73.25"), |b| {
        b.iter(|| stamen_core::expr::str_to_f(black_box("73.25")))
    });
    c.bench_function(&format!("{prefix}average of CPU over 10 VMs"), |b| {
        b.iter(|| stamen_core::expr::average(black_box(&vms), black_box("CPU")).unwrap())
    });
    c.bench_function(&format!("{prefix}parse only"), |b| {
        b.iter(|| {
            Expr::<'_, 16>::parse(black_box(EXPR))
                .unwrap()
                .nodes()
                .len()
        })
    });
}

criterion_group!(benches, bench);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_cpu
}

fn bench_cpu(c: &mut Criterion<CpuTime>) {
    bench_all(c, "cpu/");
}

criterion_main!(benches, cpu_benches);
