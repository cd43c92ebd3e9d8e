//! The two pieces of machinery every export uses: the panic boundary and the
//! pointer checks. Pointers are checked only through these macros, never by
//! hand, so one grep shows every check.

/// Runs the body of an `extern "C"` function inside `catch_unwind`: a panic
/// (a libstamen bug) becomes `STAMEN_RESULT_PANIC` instead of unwinding into
/// C, which would be undefined behaviour. The body may `return` early.
macro_rules! ffi_boundary {
    ($body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::result::stamen_result { $body },
        )) {
            Ok(r) => r,
            Err(_) => $crate::result::stamen_result::STAMEN_RESULT_PANIC,
        }
    }};
}

/// `&T` from a `*const T`: NULL → `STAMEN_RESULT_NULL_POINTER`,
/// misaligned → `STAMEN_RESULT_MISALIGNED`.
macro_rules! try_ref {
    ($ptr:expr) => {
        match $crate::util::check_ptr($ptr) {
            Ok(p) => unsafe { &*p },
            Err(e) => return e,
        }
    };
}

/// An output pointer, checked like [`try_ref!`]; write it with
/// `util::out_write` only once everything succeeded.
macro_rules! try_out {
    ($ptr:expr) => {
        match $crate::util::check_ptr($ptr as *const _) {
            Ok(p) => p as *mut _,
            Err(e) => return e,
        }
    };
}

/// `&[u8]` from pointer + length (NULL is refused even for length 0; a
/// length above `isize::MAX` bytes is `STAMEN_RESULT_INVALID_ARGUMENT`).
macro_rules! try_slice {
    ($ptr:expr, $len:expr) => {
        match $crate::util::check_slice($ptr as *const u8, $len) {
            Ok(p) => unsafe { ::std::slice::from_raw_parts(p, $len) },
            Err(e) => return e,
        }
    };
}

/// `&mut [u8]` from pointer + length, checked like [`try_slice!`].
macro_rules! try_slice_mut {
    ($ptr:expr, $len:expr) => {
        match $crate::util::check_slice($ptr as *const u8, $len) {
            Ok(p) => unsafe { ::std::slice::from_raw_parts_mut(p as *mut u8, $len) },
            Err(e) => return e,
        }
    };
}

/// `&[T]` from pointer + element count, checked like [`try_slice!`].
macro_rules! try_array {
    ($ptr:expr, $len:expr) => {
        match $crate::util::check_slice($ptr, $len) {
            Ok(p) => unsafe { ::std::slice::from_raw_parts(p, $len) },
            Err(e) => return e,
        }
    };
}

/// A callback (`Option<fn>`): NULL → `STAMEN_RESULT_NULL_POINTER`.
macro_rules! try_callback {
    ($f:expr) => {
        match $f {
            Some(f) => f,
            None => return $crate::result::stamen_result::STAMEN_RESULT_NULL_POINTER,
        }
    };
}

/// `&str` from pointer + length; invalid UTF-8 → `STAMEN_RESULT_INVALID_UTF8`.
macro_rules! try_str {
    ($ptr:expr, $len:expr) => {
        match ::core::str::from_utf8(try_slice!($ptr, $len)) {
            Ok(s) => s,
            Err(_) => return $crate::result::stamen_result::STAMEN_RESULT_INVALID_UTF8,
        }
    };
}

/// Unwraps a `Result<T, stamen_result>`, returning the error code.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return e,
        }
    };
}
