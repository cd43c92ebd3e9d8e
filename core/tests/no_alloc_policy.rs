//! The policy engine, cron, start-time parsing and lint never touch the heap:
//! a counting global allocator must see zero allocations while they run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use heapless::String;
use stamen_core::policy::lint::{lint_role, LintOptions, LintRole, LintScheduled, RoleRef};
use stamen_core::policy::time::parse_iso8601;
use stamen_core::policy::{
    new_cardinality, Adjustment, AdjustmentType, Autoscaler, Bounds, Cron, ElasticityPolicy,
    ElasticityState, EvalError, Evaluator, Schedule, ScheduledPolicy, ScheduledState,
};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls made on a
// thread that enabled counting.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
            }
        });
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

struct Always(bool);

impl Evaluator<64> for Always {
    fn evaluate(&mut self, expression: &str, trace: &mut String<64>) -> Result<bool, EvalError> {
        trace.clear();
        trace
            .push_str(expression)
            .map_err(|_| EvalError::Capacity)?;
        Ok(self.0)
    }
}

#[test]
fn policy_code_does_not_allocate() {
    let mut sink = 0i64;
    let n = allocations(|| {
        // Cardinality.
        let bounds = Bounds {
            cardinality: 4,
            min_vms: Some(1),
            max_vms: Some(10),
        };
        for kind in ["CHANGE", "cardinality", "Percentage_Change", "other"] {
            let adj = Adjustment {
                kind: AdjustmentType::from_name(Some(kind)),
                adjust: -33,
                min_adjust_step: 2,
            };
            sink += new_cardinality(&bounds, &adj).unwrap_or(0);
        }
        // Cron and ISO-8601.
        for spec in [
            "*/15 9-17 * jan-jun mon-fri",
            "0 24 * * *",
            "@weekly",
            "0 0 13 * fri",
            "*/0 * * * *",
        ] {
            if let Ok(c) = Cron::parse(spec) {
                sink += c.next_after(1_700_000_000).unwrap_or(0);
            }
        }
        sink += parse_iso8601("2024-02-29T12:30:00+02:00").unwrap_or(0);
        // The engine, several ticks.
        let mut role: Autoscaler<'_, 4, 64> = Autoscaler::new(bounds, None, 300);
        let up = ElasticityPolicy {
            expression: Some("CPU > 80"),
            adjustment: Adjustment {
                kind: AdjustmentType::Change,
                adjust: 1,
                min_adjust_step: 0,
            },
            period: 60,
            period_number: 2,
            cooldown: Some(120),
        };
        let _ = role.add_elasticity(up, ElasticityState::default());
        let sched = ScheduledPolicy {
            adjustment: Some(Adjustment {
                kind: AdjustmentType::Cardinality,
                adjust: 6,
                min_adjust_step: 0,
            }),
            schedule: Schedule::from_fields(None, Some("0 * * * *")).unwrap_or(Schedule::At(0)),
            cooldown: None,
        };
        let _ = role.add_scheduled(sched, ScheduledState::default());
        let mut ev = Always(true);
        for t in (0..20).map(|i| 1_700_000_000 + i * 60) {
            if let Ok(tick) = role.tick(t, true, &mut ev) {
                sink += tick.decision.diff;
            }
        }
        // Lint, with findings.
        let bad = [ElasticityPolicy {
            expression: Some("FL_CLIENT_STATUS == \"TRAINING\" && X > 1 || CPU >> 2"),
            adjustment: Adjustment {
                kind: AdjustmentType::Change,
                adjust: -1,
                min_adjust_step: 0,
            },
            period: 0,
            period_number: 3,
            cooldown: Some(10),
        }];
        let scheduled = [LintScheduled {
            adjustment: None,
            schedule: Schedule::from_fields(None, Some("61 * * * *")),
            cooldown: None,
        }];
        let lr = LintRole {
            name: Some("supernode"),
            cardinality: 2,
            min_vms: Some(1),
            max_vms: None,
            cooldown: None,
            elasticity: &bad,
            scheduled: &scheduled,
        };
        let opts = LintOptions {
            min_fit_clients: Some(2),
            round_seconds: Some(60),
            extra_attributes: &[],
        };
        lint_role(RoleRef::Index(0), &lr, &opts, &mut |f| {
            sink += f.message.len() as i64
        });
    });
    assert!(sink != 0, "the work was done");
    assert_eq!(n, 0, "allocations in policy code");
}
