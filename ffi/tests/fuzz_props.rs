//! Fuzz-style properties over the C entry points, called as C would call
//! them: random bytes, NULL pointers, short and zero-length buffers,
//! garbage state structs and out-of-range enum values. No call may panic
//! (a caught panic would show as `STAMEN_RESULT_PANIC`), write outside its
//! buffer (guard bytes around every output buffer), or report more bytes
//! written than the buffer holds.

use proptest::prelude::*;
use stamen::autoscaler::*;
use stamen::backoff::*;
use stamen::context::*;
use stamen::expr::*;
use stamen::policy::*;
use stamen::result::stamen_result::{self, *};
use stamen::result::stamen_result_message;
use stamen::stamen_str;
use stamen::status::*;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr;

const GUARD: usize = 32;
const CANARY: u8 = 0xA5;

/// An output buffer of `len` bytes with guard bytes on both sides.
struct Guarded {
    bytes: Vec<u8>,
    len: usize,
}

impl Guarded {
    fn new(len: usize) -> Self {
        Guarded {
            bytes: vec![CANARY; len + 2 * GUARD],
            len,
        }
    }

    fn ptr(&mut self, null: bool) -> *mut u8 {
        if null {
            ptr::null_mut()
        } else {
            self.bytes[GUARD..].as_mut_ptr()
        }
    }

    fn check(&self, written: usize, rc: stamen_result) {
        assert!(
            self.bytes[..GUARD].iter().all(|&b| b == CANARY),
            "wrote before the buffer"
        );
        assert!(
            self.bytes[GUARD + self.len..].iter().all(|&b| b == CANARY),
            "wrote past the buffer"
        );
        if rc == STAMEN_RESULT_OK {
            assert!(
                written <= self.len,
                "written {written} > buffer {}",
                self.len
            );
        }
    }
}

fn not_panic(rc: stamen_result) {
    assert_ne!(rc, STAMEN_RESULT_PANIC, "a panic reached the boundary");
}

fn in_ptr(data: &[u8], null: bool) -> *const u8 {
    if null {
        ptr::null()
    } else {
        data.as_ptr()
    }
}

unsafe extern "C" fn count_var(user: *mut c_void, v: *const stamen_var) -> i32 {
    let v = unsafe { &*v };
    // The strings must be readable UTF-8 of the stated length.
    let key = unsafe { std::slice::from_raw_parts(v.key.ptr.cast::<u8>(), v.key.len) };
    let value = unsafe { std::slice::from_raw_parts(v.value.ptr.cast::<u8>(), v.value.len) };
    assert!(std::str::from_utf8(key).is_ok() && std::str::from_utf8(value).is_ok());
    unsafe { *(user as *mut usize) += 1 };
    0
}

unsafe extern "C" fn check_diag(_user: *mut c_void, d: *const stamen_diag) {
    let d = unsafe { &*d };
    let m = unsafe { std::slice::from_raw_parts(d.message.ptr.cast::<u8>(), d.message.len) };
    assert!(std::str::from_utf8(m).is_ok());
    assert!(d.message.len <= STAMEN_DIAG_MESSAGE_MAX);
}

unsafe extern "C" fn random_resolver(
    user: *mut c_void,
    _name: *const std::ffi::c_char,
    _len: usize,
    value: *mut f64,
) -> u32 {
    let state = unsafe { &mut *(user as *mut u64) };
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let r = (*state >> 33) as u32;
    unsafe { *value = f64::from_bits(*state) };
    // Mostly found/missing, sometimes an error code or garbage.
    match r % 8 {
        0..=3 => 0,
        4..=5 => 1,
        6 => STAMEN_RESULT_AVG_NAN as u32,
        _ => r,
    }
}

fn context_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(
            prop_oneof![
                Just("FL_EDGE_BACKOFF='fixed'\n".to_string()),
                Just("X='a'\\''b'\n".to_string()),
                Just("VMID='7'\n".to_string()),
                Just("TOKEN='YES'\n".to_string()),
                Just("ONEAPP_FL_SUPERLINK_ADDRESS='[::1]:8'\n".to_string()),
                Just("FL_NODE_CONFIG='a=1 b=\"x\"'\n".to_string()),
                Just("export A=\"b\"\n".to_string()),
                "[A-Z_]{1,8}='[^']{0,10}'\n",
                "[ -~\n]{0,20}",
            ],
            0..12,
        )
        .prop_map(|v| v.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn result_message_never_overflows(code in any::<u32>(), len in 0usize..200, null in any::<bool>()) {
        let mut buf = Guarded::new(len);
        let mut written = 0usize;
        let rc = unsafe { stamen_result_message(code, buf.ptr(null), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);
    }

    #[test]
    fn context_calls_are_total(
        input in context_text(),
        scratch_len in 0usize..64,
        dialect in 0u32..3,
        nulls in proptest::array::uniform3(proptest::bool::weighted(0.1)),
        key in "[A-Z_]{0,6}",
    ) {
        let mut scratch = Guarded::new(scratch_len);
        let mut count = 0usize;
        let user = &mut count as *mut usize as *mut c_void;
        let rc = unsafe {
            stamen_context_vars(in_ptr(&input, nulls[0]), input.len(), dialect,
                scratch.ptr(nulls[1]), scratch_len, Some(count_var), Some(check_diag), user)
        };
        not_panic(rc);
        scratch.check(0, rc);

        let mut value = MaybeUninit::<stamen_str>::uninit();
        let rc = unsafe {
            stamen_context_get(in_ptr(&input, nulls[0]), input.len(), dialect, key.as_ptr().cast(), key.len(),
                scratch.ptr(nulls[1]), scratch_len, Some(check_diag), ptr::null_mut(),
                if nulls[2] { ptr::null_mut() } else { value.as_mut_ptr() })
        };
        not_panic(rc);
        scratch.check(0, rc);

        let mut cfg = MaybeUninit::<stamen_edge_config>::uninit();
        let rc = unsafe {
            stamen_edge_config_parse(in_ptr(&input, nulls[0]), input.len(), dialect,
                scratch.ptr(nulls[1]), scratch_len, Some(check_diag), ptr::null_mut(),
                if nulls[2] { ptr::null_mut() } else { cfg.as_mut_ptr() })
        };
        not_panic(rc);
        scratch.check(0, rc);
        if rc == STAMEN_RESULT_OK {
            let mut b = MaybeUninit::<stamen_backoff_config>::uninit();
            let rc = unsafe { stamen_backoff_config_from_edge(cfg.as_ptr(), b.as_mut_ptr()) };
            prop_assert_eq!(rc, STAMEN_RESULT_OK);
        }
    }

    #[test]
    fn token_selection_is_total(a in "[ -~\n]{0,12}", b in "[ -~\n]{0,12}", c in "[ -~\n]{0,12}") {
        let mut tok = MaybeUninit::<stamen_str>::uninit();
        let mut src = 0u32;
        let rc = unsafe {
            stamen_select_token(a.as_ptr().cast(), a.len(), b.as_ptr().cast(), b.len(),
                c.as_ptr().cast(), c.len(), tok.as_mut_ptr(), &mut src)
        };
        not_panic(rc);
    }

    #[test]
    fn backoff_survives_any_config_and_garbage_state(
        strategy in 0u32..3, jitter in 0u32..5, initial in any::<u64>(), mult in any::<u32>(),
        cap in any::<u64>(), attempts in any::<u32>(), elapsed in any::<u64>(), seed in any::<u64>(),
        times in proptest::collection::vec(any::<u64>(), 0..20),
        garbage in proptest::collection::vec(any::<u64>(), STAMEN_BACKOFF_WORDS),
    ) {
        let cfg = stamen_backoff_config {
            strategy, initial_ms: initial, multiplier_permille: mult, cap_ms: cap,
            jitter, max_attempts: attempts, max_elapsed_ms: elapsed,
        };
        let mut b = MaybeUninit::<stamen_backoff>::uninit();
        // Garbage in the state struct is refused, never interpreted.
        unsafe { ptr::copy_nonoverlapping(garbage.as_ptr(), b.as_mut_ptr().cast::<u64>(), STAMEN_BACKOFF_WORDS) };
        let mut d = MaybeUninit::<stamen_decision>::uninit();
        let rc = unsafe { stamen_backoff_on_failure(b.as_mut_ptr(), 0, d.as_mut_ptr()) };
        prop_assert_eq!(rc, STAMEN_RESULT_NOT_INITIALIZED);

        let rc = unsafe { stamen_backoff_init(&cfg, seed, b.as_mut_ptr()) };
        not_panic(rc);
        if rc != STAMEN_RESULT_OK { return Ok(()); }
        for (i, &t) in times.iter().enumerate() {
            let rc = unsafe {
                match i % 4 {
                    0 | 1 => stamen_backoff_on_failure(b.as_mut_ptr(), t, d.as_mut_ptr()),
                    2 => stamen_backoff_hint_retry_after(b.as_mut_ptr(), t),
                    _ => stamen_backoff_on_success(b.as_mut_ptr(), t),
                }
            };
            prop_assert_eq!(rc, STAMEN_RESULT_OK);
            let mut at = 0u64;
            not_panic(unsafe { stamen_backoff_poll_at(b.as_ptr(), &mut at) });
        }
    }

    #[test]
    fn status_bodies_and_ipc_are_total(
        status in any::<u32>(), active in any::<u8>(), round in any::<u64>(),
        len in 0usize..160, text in proptest::collection::vec(any::<u8>(), 0..140),
        null in proptest::bool::weighted(0.1),
    ) {
        let st = stamen_fl_status { status, training_active: active, round };
        let mut buf = Guarded::new(len);
        let mut written = 0usize;
        let rc = unsafe { stamen_status_body(&st, buf.ptr(null), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);
        let rc = unsafe { stamen_update_body(text.as_ptr().cast(), text.len(), buf.ptr(null), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);
        let rc = unsafe { stamen_erase_body(text.as_ptr().cast(), text.len(), buf.ptr(null), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);
        let rc = unsafe { stamen_start_body(round, text.as_ptr().cast(), text.len(), buf.ptr(null), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);

        let mut rep = MaybeUninit::<stamen_ipc_report>::uninit();
        let rc = unsafe { stamen_ipc_decode(in_ptr(&text, null), text.len(), rep.as_mut_ptr()) };
        not_panic(rc);
        let r = stamen_ipc_report { status, has_round: active, round };
        let rc = unsafe { stamen_ipc_encode(&r, buf.ptr(null), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);
    }

    #[test]
    fn tracker_is_total(
        events in proptest::collection::vec((0u8..5, any::<u64>(), 0u32..5, 0u8..3, any::<u64>()), 0..30),
    ) {
        let mut tc = MaybeUninit::<stamen_tracker_config>::uninit();
        prop_assert_eq!(unsafe { stamen_tracker_config_default(tc.as_mut_ptr()) }, STAMEN_RESULT_OK);
        let mut t = MaybeUninit::<stamen_tracker>::uninit();
        prop_assert_eq!(unsafe { stamen_tracker_init(tc.as_ptr(), 3, t.as_mut_ptr()) }, STAMEN_RESULT_OK);
        let mut p = MaybeUninit::<stamen_publish>::uninit();
        for (kind, now, status, active, round) in events {
            let st = stamen_fl_status { status, training_active: active, round };
            let rc = unsafe {
                match kind {
                    0 => stamen_tracker_update(t.as_mut_ptr(), now, &st),
                    1 => stamen_tracker_poll(t.as_mut_ptr(), now, p.as_mut_ptr()),
                    2 => stamen_tracker_published(t.as_mut_ptr(), now, &st),
                    3 => stamen_tracker_publish_failed(t.as_mut_ptr(), now),
                    _ => { let mut at = 0; stamen_tracker_poll_at(t.as_ptr(), &mut at) }
                }
            };
            not_panic(rc);
        }
    }

    #[test]
    fn expressions_are_total(
        src in prop_oneof![
            "[ -~]{0,40}",
            "[A-Za-z]{1,4} (>|<|==|!=|>=|<=|<>|=) -?[0-9]{1,30}(\\.[0-9]{1,5})?( (&&|\\|\\||&|\\|) !?\\(?[A-Z]{1,3} > [0-9]\\)?){0,4}",
        ],
        seed in any::<u64>(), trace_len in 0usize..120, null in proptest::bool::weighted(0.1),
    ) {
        let mut e = Box::new(MaybeUninit::<stamen_expr>::uninit());
        let rc = unsafe { stamen_expr_compile(src.as_ptr().cast(), src.len(), e.as_mut_ptr()) };
        not_panic(rc);
        let mut buf = Guarded::new(trace_len);
        let mut written = 0usize;
        let rc2 = unsafe { stamen_expr_syntax_error(src.as_ptr().cast(), src.len(), buf.ptr(null), trace_len, &mut written) };
        not_panic(rc2);
        buf.check(written, rc2);
        if !null {
            let described = matches!(rc2, STAMEN_RESULT_OK | STAMEN_RESULT_BUFFER_TOO_SMALL);
            prop_assert_eq!(rc == STAMEN_RESULT_EXPR_SYNTAX, described);
        }
        if rc != STAMEN_RESULT_OK { return Ok(()); }
        let mut state = seed;
        let user = &mut state as *mut u64 as *mut c_void;
        let mut v = 0u8;
        let rc = unsafe {
            stamen_expr_eval_traced(e.as_ptr(), Some(random_resolver), user, buf.ptr(null), trace_len, &mut written, &mut v)
        };
        not_panic(rc);
        buf.check(written, rc);
        prop_assert!(v <= 1);
        let rc = unsafe { stamen_expr_eval(e.as_ptr(), Some(random_resolver), user, &mut v) };
        not_panic(rc);
    }

    #[test]
    fn averages_and_ruby_numbers_are_total(
        vms in proptest::collection::vec((0u8..3, proptest::array::uniform4((0u32..10, "[ -~]{0,8}", any::<f64>()))), 0..6),
        x in any::<f64>(), len in 0usize..40, text in proptest::collection::vec(any::<u8>(), 0..30),
    ) {
        let c_vms: Vec<stamen_vm_attr> = vms.iter().map(|(running, secs)| stamen_vm_attr {
            running: *running,
            sections: std::array::from_fn(|i| stamen_lookup {
                kind: secs[i].0,
                text: secs[i].1.as_ptr().cast(),
                text_len: secs[i].1.len(),
                number: secs[i].2,
            }),
        }).collect();
        let mut avg = MaybeUninit::<stamen_avg>::uninit();
        not_panic(unsafe { stamen_average(c_vms.as_ptr(), c_vms.len(), avg.as_mut_ptr()) });
        let mut f = 0.0;
        not_panic(unsafe { stamen_ruby_to_f(text.as_ptr().cast(), text.len(), &mut f) });
        let mut buf = Guarded::new(len);
        let mut written = 0usize;
        let rc = unsafe { stamen_ruby_float_to_s(x, buf.ptr(false), len, &mut written) };
        not_panic(rc);
        buf.check(written, rc);
        if len >= STAMEN_RUBY_FLOAT_MAX {
            prop_assert_eq!(rc, STAMEN_RESULT_OK);
        }
    }

    #[test]
    fn new_cardinality_is_total(
        card in any::<i64>(), hmin in 0u8..3, min in any::<i64>(), hmax in 0u8..3, max in any::<i64>(),
        kind in 0u32..6, adjust in any::<i64>(), step in any::<i64>(),
    ) {
        let role = stamen_role_bounds { cardinality: card, has_min_vms: hmin, min_vms: min, has_max_vms: hmax, max_vms: max };
        let adj = stamen_adjustment { kind, adjust, min_adjust_step: step };
        let mut out = 0i64;
        not_panic(unsafe { stamen_new_cardinality(&role, &adj, &mut out) });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn autoscaler_is_total(
        card in -3i64..10, hmin in 0u8..2, min in -2i64..6, hmax in 0u8..2, max in -2i64..12,
        policies in proptest::collection::vec(
            ("[A-Z]{1,3} (>|<|==) [0-9]{1,3}|[ -~]{0,12}", 0u32..6, -5i64..5, 0i64..3, -2i64..100, -1i64..4, 0u8..3, any::<i64>()),
            0..10,
        ),
        scheduled in proptest::collection::vec(("[0-9]{0,5}|20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z", "[*/0-9 @a-z]{0,14}", 0u8..3, 0u32..5, -3i64..3), 0..4),
        ticks in proptest::collection::vec((any::<i64>(), 0u8..3, any::<u64>()), 0..12),
    ) {
        let role = stamen_role_bounds { cardinality: card, has_min_vms: hmin, min_vms: min, has_max_vms: hmax, max_vms: max };
        let mut a = Box::new(MaybeUninit::<stamen_autoscaler>::uninit());
        let rc = unsafe { stamen_autoscaler_init(&role, 0, 0, STAMEN_DEFAULT_COOLDOWN, a.as_mut_ptr()) };
        prop_assert_eq!(rc, STAMEN_RESULT_OK);
        for (expr, kind, adjust, step, period, period_number, has_cd, cd) in &policies {
            let p = stamen_elasticity_policy {
                has_expression: 1, expression: expr.as_ptr().cast(), expression_len: expr.len(),
                adjustment: stamen_adjustment { kind: *kind, adjust: *adjust, min_adjust_step: *step },
                period: *period, period_number: *period_number, has_cooldown: *has_cd, cooldown: *cd,
                has_last_eval: 0, last_eval: 0, has_true_evals: 0, true_evals: 0,
            };
            not_panic(unsafe { stamen_autoscaler_add_elasticity(a.as_mut_ptr(), &p) });
        }
        for (start, rec, has_adj, kind, adjust) in &scheduled {
            let p = stamen_scheduled_policy {
                has_adjustment: *has_adj, adjustment: stamen_adjustment { kind: *kind, adjust: *adjust, min_adjust_step: 0 },
                start_time: start.as_ptr().cast(), start_time_len: start.len(),
                recurrence: rec.as_ptr().cast(), recurrence_len: rec.len(),
                has_cooldown: 0, cooldown: 0, has_last_eval: 0, last_eval: 0,
            };
            not_panic(unsafe { stamen_autoscaler_add_scheduled(a.as_mut_ptr(), &p) });
        }
        let mut t = MaybeUninit::<stamen_tick>::uninit();
        for (now, apply, seed) in ticks {
            let mut state = seed;
            let user = &mut state as *mut u64 as *mut c_void;
            not_panic(unsafe { stamen_autoscaler_tick(a.as_mut_ptr(), now, apply, Some(random_resolver), user, t.as_mut_ptr()) });
            let mut buf = Guarded::new(16);
            let mut written = 0usize;
            let mut st = MaybeUninit::<stamen_policy_state>::uninit();
            let rc = unsafe { stamen_autoscaler_elasticity_state(a.as_ptr(), 0, buf.ptr(false), 16, &mut written, st.as_mut_ptr()) };
            not_panic(rc);
            buf.check(written, rc);
        }
    }
}

#[test]
fn misaligned_struct_pointers_are_refused() {
    let mut words = [0u64; 8];
    let bytes = words.as_mut_ptr().cast::<u8>();
    let mut cfg = MaybeUninit::<stamen_backoff_config>::uninit();
    let rc =
        unsafe { stamen_backoff_config_default(300, bytes.add(1).cast::<stamen_backoff_config>()) };
    assert_eq!(rc, STAMEN_RESULT_MISALIGNED);
    assert_eq!(
        unsafe { stamen_backoff_config_default(300, cfg.as_mut_ptr()) },
        STAMEN_RESULT_OK
    );
}
