//! No-allocation proof for the whole public surface of stamen-core.
//!
//! The global allocator of this test binary watches every allocation made
//! on the test thread while a check is armed and records the name of the
//! entry point being exercised (the "stage"). Any allocation fails the test
//! and names the first stage that allocated. Every public entry point of
//! core is called here — context (both dialects, collect, EdgeConfig,
//! addresses, node config, token), backoff, rng, status tracker, form, ipc,
//! expressions (parse, eval, trace, averaging, Ruby floats), policies
//! (cardinality, cron, ISO-8601, schedule, engine ticks through
//! `scale_rule`, lint) — on
//! valid and invalid inputs, so error paths (and their `Display`) are
//! covered too.
//!
//! There is exactly one test in this binary: other harness threads may
//! allocate, and arming is per thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::hint::black_box;

use heapless::String as HString;
use stamen_core::backoff::{Backoff, BackoffConfig, Jitter, Multiplier};
use stamen_core::context::{
    collect, escape_into, is_secret_key, select_token, Dialect, EdgeConfig, NodeConfig,
    NodeConfigValue, OnegateEndpoint, Parser, SuperlinkAddr, Var,
};
use stamen_core::expr::{
    average, bytes_to_f, round2, scale_rule, str_to_f, write_ruby_float, Expr, Lookup, ParseError,
    RubyFloat, RuleOutcome, Section, VmResolver, VmView,
};
use stamen_core::form::{self, UpdateBody};
use stamen_core::ipc::{self, Report};
use stamen_core::policy::engine::{EvalError as PolicyEvalError, Evaluator};
use stamen_core::policy::lint::{lint_role, LintOptions, LintRole, LintScheduled, RoleRef};
use stamen_core::policy::ruby::{float_to_i, str_to_i, upcase_eq};
use stamen_core::policy::time::{
    civil_from_days, civil_from_epoch, days_from_civil, days_in_month, is_leap, parse_iso8601,
    weekday,
};
use stamen_core::policy::{
    new_cardinality, Adjustment, AdjustmentType, Autoscaler, Bounds, Cron, ElasticityPolicy,
    ElasticityState, Schedule, ScheduledPolicy, ScheduledState,
};
use stamen_core::rng::SplitMix64;
use stamen_core::status::{ClientStatus, FlStatus, StatusTracker, TrackerConfig};

struct Watching;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static STAGE: Cell<&'static str> = const { Cell::new("") };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static FIRST: Cell<&'static str> = const { Cell::new("") };
}

fn note() {
    // `try_with`: thread-locals may be gone during thread teardown.
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        let _ = FIRST.try_with(|f| {
            if f.get().is_empty() {
                f.set(STAGE.try_with(Cell::get).unwrap_or("?"));
            }
        });
    }
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Watching = Watching;

fn stage(name: &'static str) {
    STAGE.with(|s| s.set(name));
}

/// Runs `f` armed; returns (allocations, first stage that allocated).
fn watched(f: impl FnOnce()) -> (usize, &'static str) {
    COUNT.with(|c| c.set(0));
    FIRST.with(|s| s.set(""));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    (COUNT.with(Cell::get), FIRST.with(Cell::get))
}

/// A `fmt::Write` into a fixed array (formatting with it never allocates).
struct Fixed {
    buf: [u8; 1024],
    len: usize,
}

impl Fixed {
    const fn new() -> Self {
        Fixed {
            buf: [0; 1024],
            len: 0,
        }
    }
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

/// Formats `v` into a fixed buffer; returns the length written.
fn shown(v: &dyn core::fmt::Display) -> usize {
    let mut f = Fixed::new();
    let _ = write!(f, "{v}");
    f.len
}

struct Vm {
    running: bool,
    user: &'static [(&'static str, &'static str)],
}

impl VmView for Vm {
    fn is_running(&self) -> bool {
        self.running
    }
    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        if section != Section::UserTemplate {
            return Lookup::Missing;
        }
        self.user
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(Lookup::Missing, |(_, v)| Lookup::Text(v))
    }
}

static VMS: [Vm; 3] = [
    Vm {
        running: true,
        user: &[("FL_CLIENT_STATUS", "2"), ("CPU", "91.5")],
    },
    Vm {
        running: true,
        user: &[("FL_CLIENT_STATUS", "1"), ("CPU", "12abc")],
    },
    Vm {
        running: false,
        user: &[("FL_CLIENT_STATUS", "3")],
    },
];

/// The policy engine's evaluator built from core's own expression parser and
/// VM averaging (what the agent and the C API wire together).
struct CoreEvaluator;

impl Evaluator<128> for CoreEvaluator {
    fn evaluate(
        &mut self,
        expression: &str,
        trace: &mut HString<128>,
    ) -> Result<bool, PolicyEvalError> {
        trace.clear();
        match scale_rule::<_, _, 64>(Some(expression), &mut VmResolver::new(&VMS[..]), trace) {
            Ok(RuleOutcome::Evaluated(v)) => Ok(v),
            Ok(_) => Ok(false),
            Err(e) => {
                // Display of the rule error, into a fixed buffer.
                black_box(shown(&e));
                Err(PolicyEvalError::Capacity)
            }
        }
    }
}

const CONTEXT_SH: &[u8] = include_bytes!("../../tests/vectors/context/oneflow-role/context.sh");
const ONE_ENV: &[u8] = include_bytes!("../../tests/vectors/context/vrouter/one_env");
const FL_BAD: &[u8] = b"# Context variables generated by OpenNebula\n\
FL_EDGE_BACKOFF='sometimes'\n\
FL_NODE_CONFIG='partition-id=0 name=\"e\\u00e9\" bad'\n\
FL_SUPERLINK_ADDRESS='host:0'\n\
FL_TLS_ENABLED='maybe'\n\
ONEAPP_FL_MAX_RETRIES='-1'\n\
FL_TYPO='1'\n\
BAD LINE\n\
KEY='unterminated\n";

#[test]
fn every_core_entry_point_is_allocation_free() {
    // The watcher works: an allocation while armed is seen and attributed.
    let (n, at) = watched(|| {
        stage("self-check");
        black_box(Vec::<u8>::with_capacity(8));
    });
    assert_eq!(
        (n, at),
        (1, "self-check"),
        "the watching allocator is active"
    );

    let mut work = 0u64; // proves the calls did something
    let (n, at) = watched(|| {
        // ---- context ----
        stage("context::Parser (both dialects)");
        let mut buf = [0u8; 2048];
        for input in [CONTEXT_SH, ONE_ENV, FL_BAD] {
            for dialect in [Dialect::ContextSh, Dialect::Lenient] {
                let p = Parser::new(input, dialect);
                black_box(p.dialect());
                for item in p {
                    match item {
                        Ok(e) => {
                            work += e.unescaped_len() as u64;
                            black_box((e.key(), e.raw_value(), e.quoting(), e.key_pos()));
                            black_box((e.value_pos(), e.borrowed(), e.is_lossy()));
                            black_box(e.value(&mut buf).ok());
                            black_box(e.value_into(&mut buf).ok());
                            black_box(e.value_into(&mut [0u8; 1]).err());
                            for c in e.chunks() {
                                black_box(c);
                            }
                        }
                        Err(err) => work += shown(&err) as u64,
                    }
                }
            }
        }
        stage("context::escape_into / is_secret_key");
        work += escape_into("it's", &mut buf).unwrap_or(0) as u64;
        black_box(escape_into("it's", &mut [0u8; 2]));
        work += u64::from(is_secret_key("ONEGATE_TOKEN"));

        stage("context::collect");
        let mut scratch = [0u8; 4096];
        let good = collect::<128, 8>(CONTEXT_SH, Dialect::ContextSh, &mut scratch);
        work += good.vars().len() as u64;
        black_box((good.get("VMID"), good.is_lossy(0), good.dropped_errors()));
        let mut scratch2 = [0u8; 4096];
        let bad = collect::<16, 2>(FL_BAD, Dialect::ContextSh, &mut scratch2);
        work += bad.errors().len() as u64 + bad.dropped_errors() as u64;

        stage("context::EdgeConfig::build");
        let (cfg, errs) = EdgeConfig::build::<_, 4>(bad.vars().iter().copied());
        work += (errs.len() + errs.dropped()) as u64;
        for e in errs.iter() {
            work += shown(e) as u64;
        }
        black_box((errs.as_slice(), errs.is_empty()));
        black_box((cfg.superlink(), cfg.backoff(), cfg.max_backoff_secs()));
        black_box((cfg.max_retries(), cfg.max_wait_time_secs(), cfg.isolation()));
        black_box((cfg.log_level(), cfg.tls_enabled(), cfg.min_fit_clients()));
        black_box((cfg.vmid(), cfg.onegate_endpoint(), cfg.node_config()));
        let cfg = EdgeConfig::from_vars::<_, 4>(good.vars().iter().copied());
        work += u64::from(cfg.is_ok());
        black_box(EdgeConfig::is_unknown_fl_key("FL_TYPO"));
        let vars = [Var {
            key: "FL_MAX_RETRIES",
            value: "x",
            pos: None,
        }];
        black_box(EdgeConfig::from_vars::<_, 1>(vars).err());

        stage("context::SuperlinkAddr / OnegateEndpoint");
        for text in [
            "10.0.0.1:9092",
            "[fd00::1]:8000",
            "sl.example:1",
            "-x:1",
            "a b:1",
        ] {
            match SuperlinkAddr::parse(text) {
                Ok(a) => {
                    work += u64::from(a.port()) + shown(&a.host()) as u64;
                    black_box(a.as_str());
                }
                Err(e) => work += shown(&e) as u64,
            }
        }
        for text in ["http://169.254.16.9:5030", "https://[::1]/x", "ftp://h"] {
            match OnegateEndpoint::parse(text) {
                Ok(e) => black_box((e.scheme(), e.host(), e.port(), e.as_str())),
                Err(e) => {
                    work += shown(&e) as u64;
                    continue;
                }
            };
        }

        stage("context::NodeConfig");
        for text in [
            "partition-id=0 num-partitions=2 lr=0.1 on=true n=\"e 1\\t\" l='x'",
            "a=",
        ] {
            match NodeConfig::parse(text) {
                Ok(nc) => {
                    black_box((nc.as_str(), nc.len(), nc.is_empty()));
                    for p in nc.iter() {
                        if let NodeConfigValue::Str(s) = p.value {
                            black_box((s.raw(), s.is_basic(), s.borrowed()));
                            work += s.value(&mut buf).map_or(0, str::len) as u64;
                        }
                    }
                }
                Err(e) => work += shown(&e) as u64,
            }
        }

        stage("context::select_token");
        black_box(select_token(None, Some("dG9rZW4=\n"), None).ok());
        if let Err((_, e)) = select_token(Some("two\nlines"), None, None) {
            work += shown(&e) as u64;
        }

        // ---- backoff, rng ----
        stage("backoff");
        let mult = Multiplier::from_permille(1600).unwrap_or_else(|_| unreachable!());
        black_box((mult.permille(), Multiplier::from_permille(0).err()));
        for config in [
            BackoffConfig::exponential_default(300),
            BackoffConfig::fixed_default(),
            BackoffConfig::exponential(1000, mult, 120_000)
                .with_max_attempts(5)
                .with_max_elapsed_ms(60_000),
            BackoffConfig::fixed(10).with_jitter(Jitter::Full),
        ] {
            for jitter in [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ] {
                let mut b = Backoff::new(config.with_jitter(jitter), 7);
                black_box((
                    b.config().strategy(),
                    b.config().cap_ms(),
                    b.config().base_ms(),
                ));
                black_box((
                    jitter.as_str(),
                    config.max_attempts(),
                    config.max_elapsed_ms(),
                ));
                for i in 0..40u64 {
                    b.hint_retry_after(i * 3);
                    black_box(b.on_failure(i * 1000));
                    black_box((b.poll_at(), b.is_due(i), b.gave_up(), b.failures()));
                }
                b.on_success(50_000);
                b.reset();
                work += config.envelope_ms(u32::MAX);
            }
        }
        stage("rng");
        let mut rng = SplitMix64::new(42);
        work += rng.next_u64() % 7 + rng.range_inclusive(1, 6);

        // ---- status, form, ipc ----
        stage("status::StatusTracker");
        let mut t = StatusTracker::new(TrackerConfig::default(), 9);
        let mut now = 0;
        for r in 0..60u64 {
            let s = ClientStatus::from_code((r % 4) as u8).unwrap_or(ClientStatus::Idle);
            black_box((s.code(), s.name()));
            let st = FlStatus::new(s, r);
            black_box(st.training_active_code());
            t.update(now, st);
            if let Some(p) = t.poll(now) {
                if r % 3 == 0 {
                    t.publish_failed(now);
                } else {
                    t.published(now, &p.status);
                }
            }
            black_box((
                t.poll_at(),
                t.newest(),
                t.confirmed(),
                t.in_flight(),
                t.failures(),
            ));
            black_box(t.config());
            now += 1_700;
        }
        work += t.newest().map_or(0, |s| s.round);

        stage("form");
        black_box(form::encoded_len("a b&é".as_bytes()));
        work += form::encode_component(b"a b&\xc3\xa9", &mut buf).unwrap_or(0) as u64;
        work += form::update_body("MSG=hello world\nX=1", &mut buf).unwrap_or(0) as u64;
        work += form::erase_body("MSG", &mut buf).unwrap_or(0) as u64;
        work += form::status_body(&FlStatus::INITIAL, &mut buf).unwrap_or(0) as u64;
        work += form::start_body(42, "0.1.0", &mut buf).unwrap_or(0) as u64;
        if let Err(e) = form::update_body("x", &mut [0u8; 2]) {
            work += shown(&e) as u64;
        }
        let mut body = UpdateBody::new(&mut buf);
        let _ = body.attr("K", "v");
        let _ = body.attr_u64("N", u64::MAX);
        let _ = body.attr("BAD", "a\nb");
        work += body.finish().unwrap_or(0) as u64;

        stage("ipc");
        let mut out = [0u8; ipc::MAX_ENCODED_LEN];
        let r = Report {
            status: ClientStatus::Training,
            round: Some(u64::MAX),
        };
        let len = ipc::encode(&r, &mut out).unwrap_or(0);
        black_box(ipc::decode(out.get(..len).unwrap_or(&[])).ok());
        black_box(FlStatus::INITIAL.with_report(&r));
        for bad in [
            &b"stamen/2 status=1"[..],
            b"stamen/1 status=9",
            b"\xff",
            b"stamen/1 status=1 round=01",
            &[b'x'; 200],
        ] {
            if let Err(e) = ipc::decode(bad) {
                work += shown(&e) as u64;
            }
        }

        // ---- expressions ----
        stage("expr");
        for src in [
            "FL_CLIENT_STATUS > 1.5 && CPU < 95 || !(X = 1)",
            "'quoted' <> 010 | -0.0 >= 1e400",
            "A > ",
            "",
        ] {
            match Expr::<'_, 64>::parse(src) {
                Ok(e) => {
                    let mut trace = Fixed::new();
                    let v = e.eval_traced(&mut VmResolver::new(&VMS[..]), &mut trace);
                    work += trace.len as u64 + u64::from(v == Ok(true));
                    black_box(e.eval(&mut VmResolver::new(&VMS[..])).ok());
                    black_box((e.source(), e.root(), e.nodes().len()));
                    black_box(e.node(e.root()));
                    for v in e.variables() {
                        black_box((v.is_quoted(), v.with_lookup_name(str::len)));
                    }
                    work += (shown(&e) + shown(&e.tree())) as u64;
                }
                Err(ParseError::Syntax(s)) => {
                    black_box((s.expected(), s.line(), s.column(), s.after()));
                    work += shown(&s.oneflow_trace()) as u64;
                }
                Err(e) => work += shown(&e) as u64,
            }
        }
        black_box(average(VMS.iter(), "CPU").ok());
        black_box(average(VMS.iter(), "FL_CLIENT_STATUS").ok());
        black_box(round2(1.005).ok());
        black_box((str_to_f("1e3junk"), bytes_to_f(b"-12.5e-1x")));
        let mut f = Fixed::new();
        let _ = write_ruby_float(&mut f, 1234567890123456.8);
        work += f.len as u64 + shown(&RubyFloat(1e-5)) as u64;

        // ---- policies ----
        stage("policy::new_cardinality");
        let bounds = Bounds {
            cardinality: 4,
            min_vms: Some(1),
            max_vms: Some(10),
        };
        for kind in ["CHANGE", "CARDINALITY", "PERCENTAGE_CHANGE", "other"] {
            let adj = Adjustment {
                kind: AdjustmentType::from_name(Some(kind)),
                adjust: -33,
                min_adjust_step: 2,
            };
            match new_cardinality(&bounds, &adj) {
                Ok(c) => work += c.unsigned_abs(),
                Err(e) => work += shown(&e) as u64,
            }
        }
        stage("policy::ruby");
        work += str_to_i("  42abc").unsigned_abs();
        black_box((float_to_i(f64::NAN), upcase_eq("cpu", "CPU")));

        stage("policy::time / cron / schedule");
        black_box((is_leap(2024), days_in_month(2023, 2), weekday(0)));
        black_box(civil_from_days(days_from_civil(2026, 12, 4)));
        black_box(civil_from_epoch(1_780_000_000));
        for text in ["2024-02-29T12:30:00+02:00", "2024-13-01", "yesterday"] {
            match parse_iso8601(text) {
                Ok(t) => work += t.unsigned_abs(),
                Err(e) => work += shown(&e) as u64,
            }
        }
        for spec in [
            "*/15 9-17 * jan-jun mon-fri",
            "@weekly",
            "0 24 * * *",
            "*/0 * * * *",
        ] {
            match Cron::parse(spec) {
                Ok(c) => work += c.next_after(1_700_000_000).map_or(0, i64::unsigned_abs),
                Err(e) => work += shown(&e) as u64,
            }
        }
        for (start, rec) in [
            (Some("1000"), None),
            (None, Some("0 * * * *")),
            (Some(" "), None),
        ] {
            if let Ok(s) = Schedule::from_fields(start, rec) {
                let _ = black_box(s.planned(1_700_000_000));
            }
        }

        stage("policy::Autoscaler");
        let mut role: Autoscaler<'_, 4, 128> = Autoscaler::new(bounds, None, 300);
        let up = ElasticityPolicy {
            expression: Some("FL_CLIENT_STATUS > 1 && CPU > 50"),
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
        for i in 0..30 {
            if let Ok(tick) = role.tick(1_700_000_000 + i * 60, true, &mut CoreEvaluator) {
                work += tick.decision.diff.unsigned_abs();
            }
        }
        // The two halves of a tick, called separately.
        for i in 30..40 {
            match role.scale(1_700_000_000 + i * 60, &mut CoreEvaluator) {
                Ok(d) => {
                    work += d.diff.unsigned_abs();
                    if let Err(e) = role.apply(&d, i % 2 == 0) {
                        work += shown(&e) as u64;
                    }
                }
                Err(e) => work += shown(&e) as u64,
            }
        }

        stage("policy::lint_role");
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
            name: Some("superlink"),
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
            work += f.message.len() as u64;
        });
        stage("");
    });
    assert_eq!(
        n, 0,
        "{n} allocation(s); the first in stage {at:?} (a core entry point allocated)"
    );
    assert!(work > 1_000, "the calls did real work (checksum {work})");
}
