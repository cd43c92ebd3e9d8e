//! Helpers behind the macros: pointer checks, output writes, caller-owned
//! opaque state, and a `fmt::Write` into a caller buffer.

use crate::result::stamen_result::{self, *};
use core::fmt;
use core::mem::ManuallyDrop;

/// NULL → `STAMEN_RESULT_NULL_POINTER`; misaligned → `STAMEN_RESULT_MISALIGNED`.
pub(crate) fn check_ptr<T>(p: *const T) -> Result<*const T, stamen_result> {
    if p.is_null() {
        Err(STAMEN_RESULT_NULL_POINTER)
    } else if !p.is_aligned() {
        Err(STAMEN_RESULT_MISALIGNED)
    } else {
        Ok(p)
    }
}

/// [`check_ptr`], and the slice of `len` elements must span at most
/// `isize::MAX` bytes (`STAMEN_RESULT_INVALID_ARGUMENT`).
pub(crate) fn check_slice<T>(p: *const T, len: usize) -> Result<*const T, stamen_result> {
    let p = check_ptr(p)?;
    match len.checked_mul(core::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(p),
        _ => Err(STAMEN_RESULT_INVALID_ARGUMENT),
    }
}

/// Writes an output value. Call it last, after everything succeeded.
///
/// # Safety
/// `p` comes from `try_out!` (non-NULL, aligned) and points to writable
/// memory for a `T`.
pub(crate) unsafe fn out_write<T>(p: *mut T, v: T) {
    // SAFETY: per the caller contract; `write` does not drop the old
    // (possibly uninitialised) value.
    unsafe { p.write(v) }
}

/// Copies `src` into the start of `out`, or `STAMEN_RESULT_BUFFER_TOO_SMALL`
/// (nothing written).
pub(crate) fn write_bytes(out: &mut [u8], src: &[u8]) -> Result<usize, stamen_result> {
    let dst = out
        .get_mut(..src.len())
        .ok_or(STAMEN_RESULT_BUFFER_TOO_SMALL)?;
    dst.copy_from_slice(src);
    Ok(src.len())
}

/// A `fmt::Write` into a byte slice that fails (instead of truncating)
/// when full.
pub(crate) struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        SliceWriter { buf, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s are ever copied in, so this is always UTF-8.
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error);
        let dst = end.ok().and_then(|end| self.buf.get_mut(self.len..end));
        match dst {
            Some(d) => {
                d.copy_from_slice(s.as_bytes());
                self.len += s.len();
                Ok(())
            }
            None => Err(fmt::Error),
        }
    }
}

/// Caller-owned state: a magic word, then the Rust value. Stored in the C
/// struct's `uint64_t` words with unaligned reads/writes, so the C struct
/// needs no particular alignment and may be copied with `memcpy`.
#[repr(C)]
pub(crate) struct Tagged<T> {
    magic: u64,
    value: T,
}

/// Implemented by each opaque C struct holding a `Tagged<Self::Inner>`.
pub(crate) trait Opaque: Sized {
    /// The Rust state.
    type Inner;
    /// A value distinct for each state type.
    const MAGIC: u64;

    /// Stores `value` in `out` (a pointer from `try_out!`).
    ///
    /// # Safety
    /// `out` is valid for writes of `Self`, and `Self` is at least as large
    /// as `Tagged<Inner>` (checked at compile time by `opaque_fits!`).
    unsafe fn store(out: *mut Self, value: Self::Inner) {
        let tagged = Tagged {
            magic: Self::MAGIC,
            value,
        };
        // SAFETY: per the contract above.
        unsafe { (out as *mut Tagged<Self::Inner>).write_unaligned(tagged) }
    }

    /// Reads the state back, or `STAMEN_RESULT_NOT_INITIALIZED` when the
    /// magic word is wrong.
    ///
    /// # Safety
    /// `p` is valid for reads of `Self`; if the magic matches, the bytes
    /// were written by [`Opaque::store`] of the same type.
    unsafe fn load(p: *const Self) -> Result<ManuallyDrop<Self::Inner>, stamen_result> {
        // SAFETY: `Self` is at least 8 bytes (it holds the magic).
        let magic = unsafe { (p as *const u64).read_unaligned() };
        if magic != Self::MAGIC {
            return Err(STAMEN_RESULT_NOT_INITIALIZED);
        }
        // SAFETY: the magic says `store` wrote a `Tagged<Inner>` here.
        // The copy is never dropped: the state lives in the C struct.
        let t = unsafe { (p as *const ManuallyDrop<Tagged<Self::Inner>>).read_unaligned() };
        Ok(ManuallyDrop::new(ManuallyDrop::into_inner(t).value))
    }
}

/// Compile-time proof that a C struct can hold its Rust state.
macro_rules! opaque_fits {
    ($c:ty, $inner:ty) => {
        const _: () = assert!(
            ::core::mem::size_of::<$crate::util::Tagged<$inner>>() <= ::core::mem::size_of::<$c>()
        );
    };
}
pub(crate) use opaque_fits;

/// A C boolean-ish byte: 0 false, 1 true, anything else invalid.
pub(crate) fn flag(v: u8) -> Result<bool, stamen_result> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(STAMEN_RESULT_INVALID_ARGUMENT),
    }
}
