//! The IPC message Flower apps send to the agent (wire format v1).
//!
//! Every Flower message runs in a new `flwr-clientapp` process, so the client
//! mod reports its state to the long-running agent over a **Unix datagram
//! socket**, one message per datagram. This module is the public wire
//! contract; the Python package, the C API and the run daemon all use it.
//!
//! # Format `stamen/1`
//!
//! ```text
//! message = "stamen/1" " status=" status [ " round=" round ] [ "\n" ]
//! status  = "1" | "2" | "3"             ; 1 IDLE, 2 TRAINING, 3 DISCONNECTED
//! round   = "0" | nonzero-digit *digit  ; decimal u64, no sign, no leading zeros
//! ```
//!
//! - One line of UTF-8 (in practice ASCII), **at most 128 bytes** including
//!   the optional final `\n` ([`MAX_LEN`]).
//! - Exactly one space between fields, fields in that order, nothing else:
//!   no other fields, no tabs, no `\r`, no NUL, no trailing space.
//! - `round` is at most `18446744073709551615` (`u64::MAX`).
//! - A different version (`stamen/2 …`) is rejected with the distinct error
//!   [`IpcError::UnsupportedVersion`] so a newer app and an older agent fail
//!   clearly.
//!
//! Examples: `stamen/1 status=2 round=7`, `stamen/1 status=1\n`.
//!
//! The decoder is strict and total: every byte string either decodes or
//! yields an error carrying the byte offset of the first problem; it never
//! panics. The encoder writes no trailing newline.
//!
//! ```
//! use stamen_core::ipc::{self, Report};
//! use stamen_core::status::ClientStatus;
//!
//! let r = Report { status: ClientStatus::Training, round: Some(7) };
//! let mut buf = [0u8; ipc::MAX_ENCODED_LEN];
//! let n = ipc::encode(&r, &mut buf).unwrap();
//! assert_eq!(&buf[..n], b"stamen/1 status=2 round=7");
//! assert_eq!(ipc::decode(&buf[..n]), Ok(r));
//! assert_eq!(
//!     ipc::decode(b"stamen/2 status=2"),
//!     Err(ipc::IpcError::UnsupportedVersion { offset: 7 })
//! );
//! ```

use crate::status::ClientStatus;
use core::fmt;

/// Largest accepted message, in bytes, including the optional final `\n`.
pub const MAX_LEN: usize = 128;

/// Largest message [`encode`] writes:
/// `stamen/1 status=3 round=18446744073709551615` (44 bytes).
pub const MAX_ENCODED_LEN: usize = 44;

const MAGIC: &[u8] = b"stamen/";
const VERSION: &[u8] = b"1";

/// One report from a Flower app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Report {
    /// The app's state.
    pub status: ClientStatus,
    /// The FL round, when the app knows it.
    pub round: Option<u64>,
}

/// Why a datagram was rejected (or could not be encoded). `offset` is the
/// byte offset of the first problem in the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpcError {
    /// The datagram is longer than [`MAX_LEN`]; `offset` is `MAX_LEN`.
    TooLong {
        /// Always [`MAX_LEN`]: the first byte past the limit.
        offset: usize,
    },
    /// A control byte (CR, NUL, tab, DEL, …) or a `\n` that is not the last
    /// byte.
    ControlChar {
        /// Offset of the byte.
        offset: usize,
    },
    /// The bytes are not valid UTF-8.
    NotUtf8 {
        /// Offset of the first byte of the invalid sequence.
        offset: usize,
    },
    /// The message does not start with `stamen/` (also for an empty one).
    BadMagic {
        /// Offset of the first byte that differs (or where it ends).
        offset: usize,
    },
    /// `stamen/<v>` with a version other than `1`.
    UnsupportedVersion {
        /// Offset of the version (7).
        offset: usize,
    },
    /// ` status=` is missing where it must come (after the version).
    MissingStatus {
        /// Offset where ` status=` was expected.
        offset: usize,
    },
    /// The status value is not exactly `1`, `2` or `3`.
    BadStatus {
        /// Offset of the first wrong byte of the value (or its end if empty).
        offset: usize,
    },
    /// The round is empty, has a sign, a leading zero or a non-digit.
    BadRound {
        /// Offset of the offending byte (or the end if empty).
        offset: usize,
    },
    /// The round is above `u64::MAX`.
    RoundOverflow {
        /// Offset of the digit that made it overflow.
        offset: usize,
    },
    /// Anything after the status other than one ` round=` field, or anything
    /// after the round (other fields, a second space, a trailing space).
    UnexpectedField {
        /// Offset of the unexpected byte.
        offset: usize,
    },
    /// [`encode`]: the output buffer is shorter than `needed` bytes.
    BufferTooSmall {
        /// Bytes required for this message.
        needed: usize,
    },
}

impl IpcError {
    /// The byte offset of the problem (for `BufferTooSmall`, the needed
    /// length).
    pub const fn offset(&self) -> usize {
        match *self {
            IpcError::TooLong { offset }
            | IpcError::ControlChar { offset }
            | IpcError::NotUtf8 { offset }
            | IpcError::BadMagic { offset }
            | IpcError::UnsupportedVersion { offset }
            | IpcError::MissingStatus { offset }
            | IpcError::BadStatus { offset }
            | IpcError::BadRound { offset }
            | IpcError::RoundOverflow { offset }
            | IpcError::UnexpectedField { offset } => offset,
            IpcError::BufferTooSmall { needed } => needed,
        }
    }
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpcError::TooLong { offset } => {
                write!(f, "IPC message longer than {offset} bytes")
            }
            IpcError::ControlChar { offset } => write!(
                f,
                "IPC message has a control character at byte {offset} (only one final \\n is allowed)"
            ),
            IpcError::NotUtf8 { offset } => {
                write!(f, "IPC message is not UTF-8 at byte {offset}")
            }
            IpcError::BadMagic { offset } => write!(
                f,
                "IPC message does not start with \"stamen/\" (byte {offset})"
            ),
            IpcError::UnsupportedVersion { offset } => write!(
                f,
                "IPC message has an unsupported protocol version at byte {offset}; this agent speaks stamen/1"
            ),
            IpcError::MissingStatus { offset } => {
                write!(f, "IPC message: expected \" status=\" at byte {offset}")
            }
            IpcError::BadStatus { offset } => write!(
                f,
                "IPC message: bad status at byte {offset}; allowed: 1 (IDLE), 2 (TRAINING), 3 (DISCONNECTED)"
            ),
            IpcError::BadRound { offset } => write!(
                f,
                "IPC message: bad round at byte {offset}; allowed: a decimal integer without sign or leading zeros"
            ),
            IpcError::RoundOverflow { offset } => write!(
                f,
                "IPC message: round too large at byte {offset} (max 18446744073709551615)"
            ),
            IpcError::UnexpectedField { offset } => write!(
                f,
                "IPC message: unexpected data at byte {offset}; allowed after status: one \" round=N\""
            ),
            IpcError::BufferTooSmall { needed } => {
                write!(f, "IPC encode: output buffer too small ({needed} bytes needed)")
            }
        }
    }
}

impl core::error::Error for IpcError {}

/// Write `n` in decimal into `digits`, returning the used tail.
pub(crate) fn u64_digits(n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        // `i` stays in 0..20: a u64 has at most 20 digits.
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    digits.get(i..).unwrap_or(&[])
}

/// Encode `report` into `out` (no trailing newline) and return its length.
///
/// # Errors
/// [`IpcError::BufferTooSmall`] if `out` is shorter than the message (at most
/// [`MAX_ENCODED_LEN`]); `out` is then left untouched.
pub fn encode(report: &Report, out: &mut [u8]) -> Result<usize, IpcError> {
    let mut digits = [0u8; 20];
    let round: &[u8] = match report.round {
        Some(r) => u64_digits(r, &mut digits),
        None => &[],
    };
    let status = [b'0' + report.status.code()];
    let parts: [&[u8]; 5] = [
        b"stamen/1 status=",
        &status,
        if report.round.is_some() {
            b" round="
        } else {
            b""
        },
        round,
        b"",
    ];
    let needed: usize = parts.iter().map(|p| p.len()).sum();
    if out.len() < needed {
        return Err(IpcError::BufferTooSmall { needed });
    }
    let mut pos = 0;
    for p in parts {
        if let Some(dst) = out.get_mut(pos..pos + p.len()) {
            dst.copy_from_slice(p);
        }
        pos += p.len();
    }
    Ok(needed)
}

/// The index of the next space at or after `from`, or `bytes.len()`.
fn token_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b' '))
        .map_or(bytes.len(), |p| from + p)
}

/// Decode one datagram strictly (see the module docs for the format).
///
/// # Errors
/// The first problem, with its byte offset; see [`IpcError`].
pub fn decode(datagram: &[u8]) -> Result<Report, IpcError> {
    if datagram.len() > MAX_LEN {
        return Err(IpcError::TooLong { offset: MAX_LEN });
    }
    // Report whichever comes first: a control byte or invalid UTF-8.
    let valid = match core::str::from_utf8(datagram) {
        Ok(_) => datagram.len(),
        Err(e) => e.valid_up_to(),
    };
    let last = datagram.len().wrapping_sub(1);
    for (i, &b) in datagram.iter().enumerate().take(valid) {
        let is_final_newline = b == b'\n' && i == last;
        if (b < 0x20 || b == 0x7f) && !is_final_newline {
            return Err(IpcError::ControlChar { offset: i });
        }
    }
    if valid < datagram.len() {
        return Err(IpcError::NotUtf8 { offset: valid });
    }
    let msg = datagram.strip_suffix(b"\n").unwrap_or(datagram);

    // "stamen/"
    for (i, &m) in MAGIC.iter().enumerate() {
        if msg.get(i) != Some(&m) {
            return Err(IpcError::BadMagic { offset: i });
        }
    }
    // version
    let v_start = MAGIC.len();
    let v_end = token_end(msg, v_start);
    if msg.get(v_start..v_end) != Some(VERSION) {
        return Err(IpcError::UnsupportedVersion { offset: v_start });
    }
    // " status="
    let mut pos = v_end;
    if msg.get(pos..pos + 8) != Some(b" status=") {
        return Err(IpcError::MissingStatus { offset: pos });
    }
    pos += 8;
    let s_end = token_end(msg, pos);
    let status = match msg.get(pos..s_end) {
        Some([c]) => ClientStatus::from_code(c.wrapping_sub(b'0'))
            .ok_or(IpcError::BadStatus { offset: pos })?,
        Some([]) | None => return Err(IpcError::BadStatus { offset: pos }),
        Some([c, ..]) => {
            let first_bad = if (b'1'..=b'3').contains(c) {
                pos + 1
            } else {
                pos
            };
            return Err(IpcError::BadStatus { offset: first_bad });
        }
    };
    pos = s_end;
    if pos == msg.len() {
        return Ok(Report {
            status,
            round: None,
        });
    }
    // " round="
    if msg.get(pos..pos + 7) != Some(b" round=") {
        // Point at the first byte that differs from " round=".
        // If the rest is a strict prefix of it, point at the end.
        let rest = msg.get(pos..).unwrap_or(&[]);
        let off = b" round="
            .iter()
            .zip(rest)
            .position(|(a, b)| a != b)
            .map_or(msg.len(), |p| pos + p);
        return Err(IpcError::UnexpectedField { offset: off });
    }
    pos += 7;
    let r_end = token_end(msg, pos);
    let digits = msg.get(pos..r_end).unwrap_or(&[]);
    if digits.is_empty() {
        return Err(IpcError::BadRound { offset: pos });
    }
    let mut round: u64 = 0;
    for (i, &b) in digits.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(IpcError::BadRound { offset: pos + i });
        }
        if i == 1 && digits.first() == Some(&b'0') {
            return Err(IpcError::BadRound { offset: pos });
        }
        round = round
            .checked_mul(10)
            .and_then(|r| r.checked_add(u64::from(b - b'0')))
            .ok_or(IpcError::RoundOverflow { offset: pos + i })?;
    }
    if r_end != msg.len() {
        return Err(IpcError::UnexpectedField { offset: r_end });
    }
    Ok(Report {
        status,
        round: Some(round),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &[u8], status: ClientStatus, round: Option<u64>) {
        assert_eq!(decode(s), Ok(Report { status, round }), "{s:?}");
    }
    fn err(s: &[u8], e: IpcError) {
        assert_eq!(decode(s), Err(e), "{:?}", core::str::from_utf8(s));
    }

    #[test]
    fn accepts_the_documented_forms() {
        ok(b"stamen/1 status=1", ClientStatus::Idle, None);
        ok(b"stamen/1 status=2\n", ClientStatus::Training, None);
        ok(
            b"stamen/1 status=3 round=0",
            ClientStatus::Disconnected,
            Some(0),
        );
        ok(
            b"stamen/1 status=2 round=42\n",
            ClientStatus::Training,
            Some(42),
        );
        ok(
            b"stamen/1 status=2 round=18446744073709551615",
            ClientStatus::Training,
            Some(u64::MAX),
        );
    }

    #[test]
    fn rejects_with_offsets() {
        use IpcError::*;
        err(b"", BadMagic { offset: 0 });
        err(b"\n", BadMagic { offset: 0 });
        err(b"stamen", BadMagic { offset: 6 });
        err(b"Stamen/1 status=1", BadMagic { offset: 0 });
        err(b"stamen/2 status=1", UnsupportedVersion { offset: 7 });
        err(b"stamen/10 status=1", UnsupportedVersion { offset: 7 });
        err(b"stamen/ status=1", UnsupportedVersion { offset: 7 });
        err(b"stamen/1", MissingStatus { offset: 8 });
        err(b"stamen/1  status=1", MissingStatus { offset: 8 });
        err(b"stamen/1 round=1 status=1", MissingStatus { offset: 8 });
        err(b"stamen/1 status=", BadStatus { offset: 16 });
        err(b"stamen/1 status=0", BadStatus { offset: 16 });
        err(b"stamen/1 status=4", BadStatus { offset: 16 });
        err(b"stamen/1 status=12", BadStatus { offset: 17 });
        err(b"stamen/1 status=+1", BadStatus { offset: 16 });
        err(b"stamen/1 status=1 ", UnexpectedField { offset: 18 });
        err(
            b"stamen/1 status=1  round=1",
            UnexpectedField { offset: 18 },
        );
        err(b"stamen/1 status=1 foo=1", UnexpectedField { offset: 18 });
        err(b"stamen/1 status=1 round=", BadRound { offset: 24 });
        err(b"stamen/1 status=1 round=01", BadRound { offset: 24 });
        err(b"stamen/1 status=1 round=00", BadRound { offset: 24 });
        err(b"stamen/1 status=1 round=-1", BadRound { offset: 24 });
        err(b"stamen/1 status=1 round=1x", BadRound { offset: 25 });
        err(
            b"stamen/1 status=1 round=18446744073709551616",
            RoundOverflow { offset: 43 },
        );
        err(
            b"stamen/1 status=1 round=1 ",
            UnexpectedField { offset: 25 },
        );
        err(
            b"stamen/1 status=1 round=1 x=2",
            UnexpectedField { offset: 25 },
        );
        err(b"stamen/1 status=1\r\n", ControlChar { offset: 17 });
        err(b"stamen/1 status=1\n\n", ControlChar { offset: 17 });
        err(b"stamen/1\tstatus=1", ControlChar { offset: 8 });
        err(b"stamen/1 status=1\0", ControlChar { offset: 17 });
        err(b"stamen/1 status=1 \xff", NotUtf8 { offset: 18 });
        err(b"stamen/1 \xff\r", NotUtf8 { offset: 9 });
        err(b"stamen/1 \r\xff", ControlChar { offset: 9 });
        err(
            "stamen/1 status=1 é".as_bytes(),
            UnexpectedField { offset: 18 },
        );
        let long = [b'a'; 129];
        err(&long, TooLong { offset: 128 });
    }

    #[test]
    fn encode_and_buffer_errors() {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let r = Report {
            status: ClientStatus::Disconnected,
            round: Some(u64::MAX),
        };
        assert_eq!(encode(&r, &mut buf), Ok(MAX_ENCODED_LEN));
        assert_eq!(&buf[..], b"stamen/1 status=3 round=18446744073709551615");
        let mut small = [0u8; 10];
        assert_eq!(
            encode(&r, &mut small),
            Err(IpcError::BufferTooSmall { needed: 44 })
        );
        assert_eq!(small, [0u8; 10]);
        let r = Report {
            status: ClientStatus::Idle,
            round: None,
        };
        let n = encode(&r, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"stamen/1 status=1");
        let n = encode(
            &Report {
                round: Some(0),
                ..r
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..n], b"stamen/1 status=1 round=0");
    }
}
