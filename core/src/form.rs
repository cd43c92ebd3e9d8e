//! OneGate form bodies (`application/x-www-form-urlencoded`), written into
//! caller buffers.
//!
//! `PUT /vm` (and `PUT /vms/:id`) take `data=<urlencoded "K=V\nK2=V2">&type=1`
//! to update USER_TEMPLATE attributes and `data=K&type=2` to erase one. The
//! encoding is the one of the official client (Ruby
//! `URI.encode_www_form_component`): bytes of `*-._0-9A-Za-z` stay, space
//! becomes `+`, every other byte of the UTF-8 text becomes `%XX` with
//! upper-case hex. The bodies are byte-identical to the official client's
//! (tested against `tests/vectors/onegate/reference-requests.jsonl`).
//!
//! The official client sends `--data` verbatim: a real newline separates
//! attributes (`%0A`), while a literal backslash-n (`\` `n`, as typed in a
//! shell without `$'…'`) is *not* translated and arrives as `%5Cn`.
//! [`update_body`] does the same; [`UpdateBody`] builds the attribute list
//! safely and rejects values that would break it.
//!
//! A buffer that is too small is an error ([`FormError::BufferTooSmall`]),
//! never a truncated body.
//!
//! ```
//! use stamen_core::form;
//! use stamen_core::status::{ClientStatus, FlStatus};
//!
//! let mut buf = [0u8; 128];
//! let n = form::status_body(&FlStatus::new(ClientStatus::Training, 3), &mut buf).unwrap();
//! assert_eq!(
//!     &buf[..n],
//!     b"data=FL_CLIENT_STATUS%3D2%0AFL_TRAINING_ACTIVE%3D1%0AFL_ROUND_NUMBER%3D3&type=1"
//! );
//! ```

use crate::ipc::u64_digits;
use crate::status::FlStatus;
use core::fmt;

/// Why a body could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// The output buffer is too small; nothing usable was written.
    BufferTooSmall {
        /// Bytes the body needs up to and including the piece that did not
        /// fit (the whole body for the one-shot functions).
        needed: usize,
    },
    /// An attribute name is empty or has a byte outside `A-Za-z0-9_-.`.
    InvalidKey {
        /// Offset in the key of the offending byte (0 for an empty key).
        offset: usize,
    },
    /// An attribute value contains `\n`, `\r` or NUL, which would split or
    /// corrupt the `K=V` lines.
    InvalidValue {
        /// Offset in the value of the offending byte.
        offset: usize,
    },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormError::BufferTooSmall { needed } => {
                write!(f, "form body needs {needed} bytes; output buffer too small")
            }
            FormError::InvalidKey { offset } => write!(
                f,
                "invalid attribute name at byte {offset}: allowed A-Z a-z 0-9 _ - . (non-empty)"
            ),
            FormError::InvalidValue { offset } => write!(
                f,
                "invalid attribute value at byte {offset}: newline, carriage return and NUL are not allowed"
            ),
        }
    }
}

impl core::error::Error for FormError {}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_')
}

/// Length of `input` once form-encoded (saturating).
pub fn encoded_len(input: &[u8]) -> usize {
    input.iter().fold(0usize, |n, &b| {
        n.saturating_add(if is_unreserved(b) || b == b' ' { 1 } else { 3 })
    })
}

/// A cursor over a caller buffer that refuses to write past its end.
struct Sink<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Sink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormError> {
        let end = self.len.saturating_add(bytes.len());
        let dst = self
            .out
            .get_mut(self.len..end)
            .ok_or(FormError::BufferTooSmall { needed: end })?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn put_encoded(&mut self, input: &[u8]) -> Result<(), FormError> {
        let end = self.len.saturating_add(encoded_len(input));
        let dst = self
            .out
            .get_mut(self.len..end)
            .ok_or(FormError::BufferTooSmall { needed: end })?;
        // `dst` has exactly the encoded length, so every `next()` succeeds.
        let mut w = dst.iter_mut();
        let mut emit = |byte: u8| {
            if let Some(slot) = w.next() {
                *slot = byte;
            }
        };
        for &b in input {
            if is_unreserved(b) {
                emit(b);
            } else if b == b' ' {
                emit(b'+');
            } else {
                emit(b'%');
                emit(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                emit(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
            }
        }
        self.len = end;
        Ok(())
    }
}

/// Form-encode `input` into `out`; returns the length written.
///
/// # Errors
/// [`FormError::BufferTooSmall`] if `out` is shorter than [`encoded_len`].
pub fn encode_component(input: &[u8], out: &mut [u8]) -> Result<usize, FormError> {
    let mut s = Sink { out, len: 0 };
    s.put_encoded(input)?;
    Ok(s.len)
}

/// `data=<encoded data>&type=1`: the body of `onegate vm update --data DATA`,
/// with `data` sent verbatim (attribute lines separated by real newlines).
///
/// # Errors
/// [`FormError::BufferTooSmall`] with the whole body's length.
pub fn update_body(data: &str, out: &mut [u8]) -> Result<usize, FormError> {
    let needed = 5usize
        .saturating_add(encoded_len(data.as_bytes()))
        .saturating_add(7);
    if needed > out.len() {
        return Err(FormError::BufferTooSmall { needed });
    }
    let mut s = Sink { out, len: 0 };
    s.put(b"data=")?;
    s.put_encoded(data.as_bytes())?;
    s.put(b"&type=1")?;
    Ok(s.len)
}

fn check_key(key: &str) -> Result<(), FormError> {
    if key.is_empty() {
        return Err(FormError::InvalidKey { offset: 0 });
    }
    match key
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
    {
        Some(offset) => Err(FormError::InvalidKey { offset }),
        None => Ok(()),
    }
}

fn check_value(value: &str) -> Result<(), FormError> {
    match value
        .bytes()
        .position(|b| matches!(b, b'\n' | b'\r' | b'\0'))
    {
        Some(offset) => Err(FormError::InvalidValue { offset }),
        None => Ok(()),
    }
}

/// `data=<key>&type=2`: the body of `onegate vm update --erase KEY`.
///
/// # Errors
/// [`FormError::InvalidKey`] for an empty key or one with a byte outside
/// `A-Za-z0-9_-.`; [`FormError::BufferTooSmall`] with the body's length.
pub fn erase_body(key: &str, out: &mut [u8]) -> Result<usize, FormError> {
    check_key(key)?;
    let needed = 5usize.saturating_add(key.len()).saturating_add(7);
    if needed > out.len() {
        return Err(FormError::BufferTooSmall { needed });
    }
    let mut s = Sink { out, len: 0 };
    s.put(b"data=")?;
    s.put_encoded(key.as_bytes())?;
    s.put(b"&type=2")?;
    Ok(s.len)
}

/// Builds an update body attribute by attribute:
/// `data=K1%3DV1%0AK2%3DV2&type=1`. Keys and values are checked, so one
/// attribute can never inject another.
///
/// A failed [`attr`](Self::attr) leaves the body as it was before the call.
///
/// ```
/// use stamen_core::form::UpdateBody;
/// let mut buf = [0u8; 64];
/// let mut b = UpdateBody::new(&mut buf);
/// b.attr("A", "x y").unwrap();
/// b.attr_u64("N", 7).unwrap();
/// let n = b.finish().unwrap();
/// assert_eq!(&buf[..n], b"data=A%3Dx+y%0AN%3D7&type=1");
/// ```
pub struct UpdateBody<'a> {
    sink: Sink<'a>,
    attrs: usize,
}

impl<'a> UpdateBody<'a> {
    /// Start a body in `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        UpdateBody {
            sink: Sink { out, len: 0 },
            attrs: 0,
        }
    }

    /// Append `key=value`.
    ///
    /// # Errors
    /// [`FormError::InvalidKey`], [`FormError::InvalidValue`] (see there) or
    /// [`FormError::BufferTooSmall`].
    pub fn attr(&mut self, key: &str, value: &str) -> Result<&mut Self, FormError> {
        check_key(key)?;
        check_value(value)?;
        let mark = self.sink.len;
        let r = self.write_attr(key, value.as_bytes());
        if r.is_err() {
            self.sink.len = mark;
        }
        r.map(|()| self)
    }

    /// Append `key=<decimal value>`.
    ///
    /// # Errors
    /// As [`attr`](Self::attr).
    pub fn attr_u64(&mut self, key: &str, value: u64) -> Result<&mut Self, FormError> {
        check_key(key)?;
        let mut digits = [0u8; 20];
        let v = u64_digits(value, &mut digits);
        let mark = self.sink.len;
        let r = self.write_attr(key, v);
        if r.is_err() {
            self.sink.len = mark;
        }
        r.map(|()| self)
    }

    fn write_attr(&mut self, key: &str, value: &[u8]) -> Result<(), FormError> {
        if self.attrs == 0 {
            self.sink.put(b"data=")?;
        } else {
            self.sink.put(b"%0A")?;
        }
        self.sink.put_encoded(key.as_bytes())?;
        self.sink.put(b"%3D")?;
        self.sink.put_encoded(value)?;
        self.attrs += 1;
        Ok(())
    }

    /// Close the body with `&type=1` and return its length. With no
    /// attribute the body is `data=&type=1`.
    ///
    /// # Errors
    /// [`FormError::BufferTooSmall`].
    pub fn finish(mut self) -> Result<usize, FormError> {
        if self.attrs == 0 {
            self.sink.put(b"data=")?;
        }
        self.sink.put(b"&type=1")?;
        Ok(self.sink.len)
    }
}

/// The FL metrics update (SPEC §4):
/// `FL_CLIENT_STATUS=<1|2|3>\nFL_TRAINING_ACTIVE=<1|0>\nFL_ROUND_NUMBER=<n>`.
///
/// # Errors
/// [`FormError::BufferTooSmall`]; 128 bytes always suffice.
pub fn status_body(status: &FlStatus, out: &mut [u8]) -> Result<usize, FormError> {
    let mut b = UpdateBody::new(out);
    b.attr_u64("FL_CLIENT_STATUS", u64::from(status.status.code()))?;
    b.attr_u64(
        "FL_TRAINING_ACTIVE",
        u64::from(status.training_active_code()),
    )?;
    b.attr_u64("FL_ROUND_NUMBER", status.round)?;
    b.finish()
}

/// The start attributes, published once:
/// `FL_NODE_READY=YES\nFL_NODE_ID=<vmid>\nFL_VERSION=<version>`.
///
/// # Errors
/// [`FormError::InvalidValue`] if `version` has a newline, CR or NUL;
/// [`FormError::BufferTooSmall`].
pub fn start_body(vmid: u64, version: &str, out: &mut [u8]) -> Result<usize, FormError> {
    let mut b = UpdateBody::new(out);
    b.attr("FL_NODE_READY", "YES")?;
    b.attr_u64("FL_NODE_ID", vmid)?;
    b.attr("FL_VERSION", version)?;
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ClientStatus;

    fn enc(s: &str) -> ([u8; 256], usize) {
        let mut buf = [0u8; 256];
        let n = encode_component(s.as_bytes(), &mut buf).unwrap();
        (buf, n)
    }

    #[test]
    fn encoding_table() {
        for (input, want) in [
            ("", ""),
            ("AZaz09*-._", "AZaz09*-._"),
            (" ", "+"),
            ("~", "%7E"),
            ("=\n&+%/", "%3D%0A%26%2B%25%2F"),
            ("é", "%C3%A9"),
            ("\u{7f}", "%7F"),
        ] {
            let (buf, n) = enc(input);
            assert_eq!(&buf[..n], want.as_bytes(), "{input:?}");
            assert_eq!(encoded_len(input.as_bytes()), n);
        }
    }

    #[test]
    fn every_byte_matches_reference() {
        // Slow reference: the rule spelled out per byte.
        for b in 0u8..=255 {
            let mut out = [0u8; 3];
            let n = encode_component(&[b], &mut out).unwrap();
            let expected: &[u8] = if b == b' ' {
                b"+"
            } else if b.is_ascii_alphanumeric() || b"*-._".contains(&b) {
                core::slice::from_ref(&b)
            } else {
                let hex = b"0123456789ABCDEF";
                let h = [b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]];
                assert_eq!(&out[..n], &h);
                continue;
            };
            assert_eq!(&out[..n], expected);
        }
    }

    #[test]
    fn too_small_is_an_error_never_truncation() {
        let mut buf = [0u8; 10];
        assert_eq!(
            update_body("A=1", &mut buf),
            Err(FormError::BufferTooSmall { needed: 17 })
        );
        let mut buf = [0u8; 17];
        assert_eq!(update_body("A=1", &mut buf), Ok(17));
        assert_eq!(&buf, b"data=A%3D1&type=1");
        let mut small = [0u8; 20];
        assert!(matches!(
            status_body(&FlStatus::INITIAL, &mut small),
            Err(FormError::BufferTooSmall { .. })
        ));
        let mut two = [0u8; 2];
        assert_eq!(
            encode_component(b"a b", &mut two),
            Err(FormError::BufferTooSmall { needed: 3 })
        );
    }

    #[test]
    fn builder_rolls_back_a_failed_attr() {
        let mut buf = [0u8; 30];
        let mut b = UpdateBody::new(&mut buf);
        b.attr("A", "1").unwrap();
        assert!(matches!(
            b.attr("LONG", "xxxxxxxxxxxxxxxxxxxxxxxxxx"),
            Err(FormError::BufferTooSmall { .. })
        ));
        b.attr("B", "2").unwrap();
        let n = b.finish().unwrap();
        assert_eq!(&buf[..n], b"data=A%3D1%0AB%3D2&type=1");
    }

    #[test]
    fn builder_rejects_injection() {
        let mut buf = [0u8; 64];
        let mut b = UpdateBody::new(&mut buf);
        assert_eq!(
            b.attr("A", "1\nEVIL=1").err(),
            Some(FormError::InvalidValue { offset: 1 })
        );
        assert_eq!(
            b.attr("A=B", "1").err(),
            Some(FormError::InvalidKey { offset: 1 })
        );
        assert_eq!(
            b.attr("", "1").err(),
            Some(FormError::InvalidKey { offset: 0 })
        );
        assert_eq!(
            start_body(1, "0.1\r", &mut [0u8; 128]),
            Err(FormError::InvalidValue { offset: 3 })
        );
        assert_eq!(
            erase_body("A B", &mut [0u8; 64]),
            Err(FormError::InvalidKey { offset: 1 })
        );
        let n = UpdateBody::new(&mut buf).finish().unwrap();
        assert_eq!(&buf[..n], b"data=&type=1");
    }

    #[test]
    fn status_and_start_bodies() {
        let mut buf = [0u8; 128];
        let s = FlStatus {
            status: ClientStatus::Disconnected,
            training_active: false,
            round: u64::MAX,
        };
        let n = status_body(&s, &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"data=FL_CLIENT_STATUS%3D3%0AFL_TRAINING_ACTIVE%3D0%0AFL_ROUND_NUMBER%3D18446744073709551615&type=1"
        );
        let n = start_body(42, "0.1.0", &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"data=FL_NODE_READY%3DYES%0AFL_NODE_ID%3D42%0AFL_VERSION%3D0.1.0&type=1"
        );
    }
}
