//! Parsing, evaluating (with and without a trace), averaging over VMs and the
//! Ruby conversions allocate nothing: a counting global allocator proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use stamen_core::expr::{
    average, str_to_f, Expr, Lookup, ParseError, RubyFloat, Section, VmResolver, VmView,
};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Vm {
    running: bool,
    user: &'static [(&'static str, &'static str)],
    monitoring: &'static [(&'static str, &'static str)],
}

impl VmView for Vm {
    fn is_running(&self) -> bool {
        self.running
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        let table = match section {
            Section::UserTemplate => self.user,
            Section::Monitoring => self.monitoring,
            _ => return Lookup::Missing,
        };
        table
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(Lookup::Missing, |(_, v)| Lookup::Text(v))
    }
}

/// A `fmt::Write` into a fixed array.
struct Fixed {
    buf: [u8; 512],
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

// One test only: the harness runs tests on threads that may allocate.
#[test]
fn expressions_never_allocate() {
    let vms = [
        Vm {
            running: true,
            user: &[("FL_CLIENT_STATUS", "2")],
            monitoring: &[("CPU", "95.5")],
        },
        Vm {
            running: true,
            user: &[("FL_CLIENT_STATUS", "1_000.5e-3x")],
            monitoring: &[("CPU", "70.25")],
        },
        Vm {
            running: false,
            user: &[("FL_CLIENT_STATUS", "9")],
            monitoring: &[],
        },
        Vm {
            running: true,
            user: &[("FL_TRAINING_ACTIVE", "-0x1Ap-4")],
            monitoring: &[("CPU", "1e400")],
        },
    ];
    let long_int = "100000000000000000000000000000000000000000000000000001 > 1e22";
    let sources = [
        "FL_CLIENT_STATUS > 1.5 && FL_TRAINING_ACTIVE < 0.5 || cpu > 80",
        "!(FL_CLIENT_STATUS >= 2) | 'quoted' <> 010",
        "100000000000000000000000000000000000000000000000000001 > 10000000000000000000000.0",
        long_int,
        "A > +5",
        "((A > 1) &&& B)",
        "",
    ];
    let long_digits = "1234567890".repeat(40) + "junk";
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut checksum = 0usize;
    for src in sources {
        match Expr::<'_, 64>::parse(src) {
            Ok(e) => {
                let mut trace = Fixed {
                    buf: [0; 512],
                    len: 0,
                };
                let r = e.eval_traced(&mut VmResolver::new(&vms[..2]), &mut trace);
                checksum += usize::from(r == Ok(true)) + trace.len;
                let r = e.eval(&mut VmResolver::new(&vms));
                checksum += usize::from(r.is_err());
                let mut shown = Fixed {
                    buf: [0; 512],
                    len: 0,
                };
                let _ = core::fmt::write(&mut shown, format_args!("{e} {}", e.tree()));
                checksum += shown.len;
            }
            Err(ParseError::Syntax(s)) => {
                let mut reason = Fixed {
                    buf: [0; 512],
                    len: 0,
                };
                let _ = core::fmt::write(&mut reason, format_args!("{}", s.oneflow_trace()));
                checksum += reason.len;
            }
            Err(_) => checksum += 1,
        }
    }
    checksum += usize::from(average(vms.iter(), "CPU").is_err());
    checksum += average(vms.iter(), "FL_CLIENT_STATUS")
        .ok()
        .flatten()
        .map_or(0, |v| v as usize);
    checksum += str_to_f(&long_digits) as usize % 7;
    let mut f = Fixed {
        buf: [0; 512],
        len: 0,
    };
    let _ = core::fmt::write(
        &mut f,
        format_args!("{} {}", RubyFloat(1234567890123456.8), RubyFloat(1e-5)),
    );
    checksum += f.len;
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "allocations during parse/eval/average");
    assert!(checksum > 0);
}
