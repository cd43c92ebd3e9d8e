//! Proof that backoff, the status tracker, the form encoders and the IPC
//! codec never touch the heap: a global allocator counts every allocation
//! made by the measuring thread while the core code runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use stamen_core::backoff::{Backoff, BackoffConfig, Jitter};
use stamen_core::form::{self, UpdateBody};
use stamen_core::ipc::{self, Report};
use stamen_core::status::{ClientStatus, FlStatus, StatusTracker, TrackerConfig};

struct Counting;

// Per thread, so tests running in parallel do not count each other.
thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-locals may already be gone during thread exit.
    if MEASURING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards every call unchanged to the system allocator; the only
// addition is a counter that does not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|a| a.set(0));
    MEASURING.with(|m| m.set(true));
    let r = f();
    MEASURING.with(|m| m.set(false));
    (r, ALLOCATIONS.with(Cell::get))
}

#[test]
fn counter_detects_allocations() {
    // Guard against a counter that can never fire.
    let (v, n) = count(|| std::hint::black_box(vec![1u8, 2, 3]));
    drop(v);
    assert!(n >= 1);
}

#[test]
fn core_paths_do_not_allocate() {
    let ((), n) = count(|| {
        for jitter in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            let mut b = Backoff::new(
                BackoffConfig::exponential_default(300).with_jitter(jitter),
                5,
            );
            for i in 0..100 {
                b.hint_retry_after(i);
                std::hint::black_box(b.on_failure(i * 1000));
            }
            b.on_success(1);
            std::hint::black_box(BackoffConfig::fixed_default().envelope_ms(u32::MAX));
        }

        let mut t = StatusTracker::new(TrackerConfig::default(), 9);
        let mut now = 0;
        for r in 0..50u64 {
            t.update(now, FlStatus::new(ClientStatus::Training, r));
            if let Some(p) = t.poll(now) {
                if r % 3 == 0 {
                    t.publish_failed(now);
                } else {
                    t.published(now, &p.status);
                }
            }
            now += 1_500;
            std::hint::black_box(t.poll_at());
        }

        let mut buf = [0u8; 256];
        std::hint::black_box(form::update_body("MSG=hello world & é", &mut buf)).unwrap();
        std::hint::black_box(form::erase_body("A", &mut buf)).unwrap();
        std::hint::black_box(form::status_body(&FlStatus::INITIAL, &mut buf)).unwrap();
        std::hint::black_box(form::start_body(42, "0.1.0", &mut buf)).unwrap();
        let mut b = UpdateBody::new(&mut buf);
        b.attr("K", "v").unwrap();
        let _ = b.attr("BAD", "a\nb");
        std::hint::black_box(b.finish()).unwrap();
        let _ = form::update_body("x", &mut [0u8; 2]);

        let mut out = [0u8; ipc::MAX_ENCODED_LEN];
        let r = Report {
            status: ClientStatus::Training,
            round: Some(u64::MAX),
        };
        let len = ipc::encode(&r, &mut out).unwrap();
        std::hint::black_box(ipc::decode(&out[..len])).unwrap();
        for bad in [
            &b"stamen/2 status=1"[..],
            b"stamen/1 status=9",
            b"\xff",
            b"stamen/1 status=1 round=01",
        ] {
            std::hint::black_box(ipc::decode(bad)).unwrap_err();
        }
    });
    assert_eq!(n, 0, "core allocated {n} times");
}
