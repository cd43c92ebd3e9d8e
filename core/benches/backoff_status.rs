//! Hot paths of the agent loop: the next backoff delay, a tracker step, the
//! status body encoder and the IPC codec.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use stamen_core::backoff::{Backoff, BackoffConfig, Jitter};
use stamen_core::form;
use stamen_core::ipc::{self, Report};
use stamen_core::status::{ClientStatus, FlStatus, StatusTracker, TrackerConfig};

fn backoff_next_delay(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff_next_delay");
    for jitter in [Jitter::None, Jitter::Equal, Jitter::Decorrelated] {
        g.bench_function(jitter.as_str(), |b| {
            let mut bo = Backoff::new(
                BackoffConfig::exponential_default(300).with_jitter(jitter),
                1,
            );
            let mut now = 0u64;
            b.iter(|| {
                let d = bo.on_failure(black_box(now));
                now += 1;
                if bo.failures() > 64 {
                    bo.on_success(now);
                }
                d
            });
        });
    }
    g.bench_function("envelope_u32_max", |b| {
        let cfg = BackoffConfig::exponential_default(300);
        b.iter(|| black_box(&cfg).envelope_ms(black_box(u32::MAX)));
    });
    g.finish();
}

fn status_encode(c: &mut Criterion) {
    let s = FlStatus::new(ClientStatus::Training, 123_456);
    c.bench_function("status_body_encode", |b| {
        let mut buf = [0u8; 128];
        b.iter(|| form::status_body(black_box(&s), &mut buf))
    });
    c.bench_function("tracker_update_poll_publish", |b| {
        let mut t = StatusTracker::new(TrackerConfig::default(), 3);
        let mut now = 0u64;
        b.iter(|| {
            now += 2_500;
            t.update(now, FlStatus::new(ClientStatus::Training, now));
            if let Some(p) = t.poll(now) {
                t.published(now, &p.status);
            }
        })
    });
    let r = Report {
        status: ClientStatus::Training,
        round: Some(42),
    };
    c.bench_function("ipc_encode", |b| {
        let mut buf = [0u8; ipc::MAX_ENCODED_LEN];
        b.iter(|| ipc::encode(black_box(&r), &mut buf))
    });
    c.bench_function("ipc_decode", |b| {
        b.iter(|| ipc::decode(black_box(b"stamen/1 status=2 round=42\n")))
    });
}

criterion_group!(benches, backoff_next_delay, status_encode);
criterion_main!(benches);
