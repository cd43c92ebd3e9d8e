//! C API over `stamen-core`: `libstamen` (static and shared) and the
//! generated header `include/stamen.h`.
//!
//! Conventions (see `ffi/README.md`): every function returns a
//! [`stamen_result`]; outputs come last and are
//! written only on success; every buffer is followed by its length; strings
//! are pointer + length and checked for UTF-8; nothing allocates; state
//! structs are owned by the caller; every pointer is checked for NULL by one
//! macro and every export runs inside a panic boundary.
#![allow(non_camel_case_types)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[macro_use]
mod macros;

pub mod autoscaler;
pub mod backoff;
pub mod context;
pub mod expr;
pub mod policy;
pub mod result;
pub mod status;
mod util;

pub use result::stamen_result;

/// Major version of libstamen (equals the crate version; tested).
pub const STAMEN_VERSION_MAJOR: u32 = 0;
/// Minor version of libstamen.
pub const STAMEN_VERSION_MINOR: u32 = 1;
/// Patch version of libstamen.
pub const STAMEN_VERSION_PATCH: u32 = 0;
/// The version as a string, `MAJOR.MINOR.PATCH`.
pub const STAMEN_VERSION: &str = "0.1.0";

static VERSION_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The version of the linked library as a NUL-terminated string (compare
/// with `STAMEN_VERSION` from the header you compiled against). Never NULL;
/// the string is static.
#[no_mangle]
pub extern "C" fn stamen_version() -> *const core::ffi::c_char {
    VERSION_NUL.as_ptr().cast()
}

/// A string passed out of libstamen: `len` bytes of UTF-8 at `ptr`, not
/// NUL-terminated. It borrows from an input (or scratch) buffer of the call
/// that produced it; the function documents which. An empty string may have
/// any non-NULL `ptr`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_str {
    /// First byte.
    pub ptr: *const core::ffi::c_char,
    /// Length in bytes.
    pub len: usize,
}

impl stamen_str {
    pub(crate) fn from_str(s: &str) -> Self {
        stamen_str {
            ptr: s.as_ptr().cast(),
            len: s.len(),
        }
    }

    pub(crate) fn empty() -> Self {
        Self::from_str("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        assert_eq!(
            STAMEN_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            STAMEN_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            STAMEN_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        assert_eq!(STAMEN_VERSION, env!("CARGO_PKG_VERSION"));
        let v = unsafe { core::ffi::CStr::from_ptr(stamen_version()) };
        assert_eq!(v.to_str().ok(), Some(STAMEN_VERSION));
    }

    #[test]
    fn panic_boundary_turns_a_panic_into_a_code() {
        fn boom(x: Option<u8>) -> stamen_result {
            ffi_boundary! {{
                #[allow(clippy::unwrap_used)]
                let _ = x.unwrap();
                stamen_result::STAMEN_RESULT_OK
            }}
        }
        assert_eq!(boom(Some(1)), stamen_result::STAMEN_RESULT_OK);
        assert_eq!(boom(None), stamen_result::STAMEN_RESULT_PANIC);
    }
}
