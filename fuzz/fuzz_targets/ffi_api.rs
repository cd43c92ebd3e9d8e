//! The C API entry points (stamen-ffi as an rlib), called the way a careless
//! C caller might: fuzzer-chosen bytes, dialects, buffer lengths (including
//! 0 and 1), NULL pointers with non-zero lengths, aborting callbacks.
//! Every call must return a defined result code, never
//! `STAMEN_RESULT_PANIC` (libFuzzer's panic hook also aborts on a panic
//! caught inside the FFI boundary), and `stamen_result_message` must
//! describe every code returned.
#![no_main]

use core::ffi::c_void;
use std::mem::MaybeUninit;

use libfuzzer_sys::fuzz_target;
use stamen::context::{
    stamen_context_get, stamen_context_vars, stamen_diag, stamen_edge_config,
    stamen_edge_config_parse, stamen_select_token, stamen_var,
};
use stamen::expr::{
    stamen_expr, stamen_expr_compile, stamen_expr_eval_traced, stamen_expr_syntax_error,
    stamen_ruby_float_to_s, stamen_ruby_to_f,
};
use stamen::policy::stamen_adjustment_type_from_name;
use stamen::result::{stamen_result_message, STAMEN_RESULT_MESSAGE_MAX};
use stamen::status::{stamen_erase_body, stamen_ipc_decode, stamen_ipc_report, stamen_update_body};
use stamen::{stamen_result, stamen_str};

fn check(r: stamen_result) -> stamen_result {
    assert_ne!(r, stamen_result::STAMEN_RESULT_PANIC);
    let mut buf = [0u8; STAMEN_RESULT_MESSAGE_MAX];
    let mut n = 0usize;
    // SAFETY: buf has its length; n is writable.
    let m = unsafe { stamen_result_message(r as u32, buf.as_mut_ptr(), buf.len(), &mut n) };
    assert_eq!(m, stamen_result::STAMEN_RESULT_OK, "no message for {r:?}");
    assert!(n > 0 && n <= buf.len());
    r
}

struct Counter {
    vars: usize,
    diags: usize,
    stop_after: usize,
}

unsafe extern "C" fn on_var(user: *mut c_void, var: *const stamen_var) -> i32 {
    // SAFETY: user is the &mut Counter passed below; var is valid for the call.
    let c = unsafe { &mut *user.cast::<Counter>() };
    let v = unsafe { &*var };
    let key = unsafe { std::slice::from_raw_parts(v.key.ptr.cast::<u8>(), v.key.len) };
    assert!(std::str::from_utf8(key).is_ok());
    c.vars += 1;
    i32::from(c.vars >= c.stop_after)
}

unsafe extern "C" fn on_diag(user: *mut c_void, _diag: *const stamen_diag) {
    // SAFETY: user is the &mut Counter passed below.
    unsafe { (*user.cast::<Counter>()).diags += 1 };
}

unsafe extern "C" fn resolve(
    user: *mut c_void,
    _name: *const i8,
    len: usize,
    value: *mut f64,
) -> u32 {
    // SAFETY: user is the seed byte slice below; value is writable.
    let seed = unsafe { &*user.cast::<&[u8]>() };
    let b = seed.get(len % seed.len().max(1)).copied().unwrap_or(0);
    match b % 3 {
        0 => 0, // missing
        1 => {
            unsafe { *value = f64::from(b) - 100.0 };
            1
        }
        _ => {
            unsafe { *value = f64::from_bits(u64::from(b).wrapping_mul(0x0101_0101_0101_0101)) };
            1
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let dialect = u32::from(ctl % 3); // 2 is invalid on purpose
    let scratch_len = [0usize, 1, 7, 64, 4096][usize::from(ctl >> 5) % 5];
    let mut scratch = vec![0u8; scratch_len];
    let null_input = ctl & 0x10 != 0 && !rest.is_empty();
    let input_ptr = if null_input {
        std::ptr::null()
    } else {
        rest.as_ptr()
    };

    let mut counter = Counter {
        vars: 0,
        diags: 0,
        stop_after: usize::from(ctl & 0x0f) + 1,
    };
    let user = (&mut counter as *mut Counter).cast::<c_void>();
    // SAFETY: pointers and lengths describe live buffers (or NULL on purpose).
    unsafe {
        check(stamen_context_vars(
            input_ptr,
            rest.len(),
            dialect,
            scratch.as_mut_ptr(),
            scratch.len(),
            Some(on_var),
            Some(on_diag),
            user,
        ));
        let mut value = MaybeUninit::<stamen_str>::zeroed();
        for key in [&b"VMID"[..], b"FL_NODE_CONFIG", b"\xff"] {
            check(stamen_context_get(
                input_ptr,
                rest.len(),
                dialect,
                key.as_ptr().cast(),
                key.len(),
                scratch.as_mut_ptr(),
                scratch.len(),
                Some(on_diag),
                user,
                value.as_mut_ptr(),
            ));
        }
        let mut cfg = MaybeUninit::<stamen_edge_config>::zeroed();
        check(stamen_edge_config_parse(
            input_ptr,
            rest.len(),
            dialect,
            scratch.as_mut_ptr(),
            scratch.len(),
            None,
            std::ptr::null_mut(),
            cfg.as_mut_ptr(),
        ));
        let mut tok = MaybeUninit::<stamen_str>::zeroed();
        let mut src = 0u32;
        check(stamen_select_token(
            input_ptr.cast(),
            rest.len(),
            std::ptr::null(),
            0,
            b"dG9rZW4=\n".as_ptr().cast(),
            9,
            tok.as_mut_ptr(),
            &mut src,
        ));

        // Expressions: the input is the source (it must outlive the compiled
        // expression, which it does: both live until the end of this call).
        let mut e = MaybeUninit::<stamen_expr>::zeroed();
        let r = check(stamen_expr_compile(
            input_ptr.cast(),
            rest.len(),
            e.as_mut_ptr(),
        ));
        if r == stamen_result::STAMEN_RESULT_OK {
            let seed: &[u8] = rest;
            let mut trace = vec![0u8; scratch_len];
            let mut written = 0usize;
            let mut value = 0u8;
            check(stamen_expr_eval_traced(
                e.as_ptr(),
                Some(resolve),
                (&seed as *const &[u8]).cast_mut().cast(),
                trace.as_mut_ptr(),
                trace.len(),
                &mut written,
                &mut value,
            ));
            assert!(written <= trace.len());
        } else {
            // An expression that was never compiled must be refused, not read.
            let mut written = 0usize;
            let mut value = 0u8;
            let mut trace = [0u8; 16];
            let r2 = check(stamen_expr_eval_traced(
                e.as_ptr(),
                Some(resolve),
                std::ptr::null_mut(),
                trace.as_mut_ptr(),
                trace.len(),
                &mut written,
                &mut value,
            ));
            assert_ne!(r2, stamen_result::STAMEN_RESULT_OK);
        }
        let mut out = vec![0u8; scratch_len];
        let mut written = 0usize;
        check(stamen_expr_syntax_error(
            input_ptr.cast(),
            rest.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut written,
        ));
        let mut x = 0f64;
        check(stamen_ruby_to_f(input_ptr.cast(), rest.len(), &mut x));
        let mut fbuf = [0u8; 64];
        check(stamen_ruby_float_to_s(
            x,
            fbuf.as_mut_ptr(),
            usize::from(ctl) % 65,
            &mut written,
        ));

        let mut kind = 0u32;
        check(stamen_adjustment_type_from_name(
            input_ptr.cast(),
            rest.len(),
            &mut kind,
        ));
        let mut report = MaybeUninit::<stamen_ipc_report>::zeroed();
        check(stamen_ipc_decode(
            input_ptr,
            rest.len(),
            report.as_mut_ptr(),
        ));
        check(stamen_update_body(
            input_ptr.cast(),
            rest.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut written,
        ));
        check(stamen_erase_body(
            input_ptr.cast(),
            rest.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut written,
        ));
    }
    // Result codes never seen by a caller still have messages.
    for code in [0u32, 1, 2, 3, 100, 106, 9999] {
        let mut buf = [0u8; STAMEN_RESULT_MESSAGE_MAX];
        let mut n = 0usize;
        // SAFETY: as above.
        let r = unsafe { stamen_result_message(code, buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_ne!(r, stamen_result::STAMEN_RESULT_PANIC);
    }
});
