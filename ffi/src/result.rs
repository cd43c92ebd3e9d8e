//! The one result type of the C API and its messages.

use crate::util::{out_write, write_bytes};

/// What a `stamen_*` function did. Every function returns one of these.
///
/// The numbers are grouped (1xx arguments, 2xx context, 3xx backoff, 4xx
/// status/OneGate/IPC, 5xx expressions, 6xx policies) and stable: a number
/// is never reused or renumbered. New codes may be added, so treat unknown
/// codes as errors.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum stamen_result {
    /// Success; the outputs were written.
    STAMEN_RESULT_OK = 0,

    /// A pointer argument is NULL.
    STAMEN_RESULT_NULL_POINTER = 100,
    /// A string argument is not valid UTF-8.
    STAMEN_RESULT_INVALID_UTF8 = 101,
    /// An output buffer is too small; nothing was written. The `*_MAX`
    /// constants give sizes that always suffice.
    STAMEN_RESULT_BUFFER_TOO_SMALL = 102,
    /// An argument is out of range (e.g. an unknown enum value).
    STAMEN_RESULT_INVALID_ARGUMENT = 103,
    /// A state struct was not initialised by its `_init` function (or was
    /// overwritten).
    STAMEN_RESULT_NOT_INITIALIZED = 104,
    /// A pointer to a struct is not aligned for that struct.
    STAMEN_RESULT_MISALIGNED = 105,
    /// A bug in libstamen: a Rust panic was caught at the API boundary.
    /// Please report it.
    STAMEN_RESULT_PANIC = 106,
    /// The requested item does not exist (a context key, a token, a
    /// scheduled publish).
    STAMEN_RESULT_NOT_FOUND = 107,
    /// The callback asked to stop.
    STAMEN_RESULT_ABORTED = 108,

    /// context.sh / one_env syntax error (see the diagnostics callback for
    /// line, column and what is allowed).
    STAMEN_RESULT_CONTEXT_SYNTAX = 200,
    /// An FL variable has a value outside its set of words.
    STAMEN_RESULT_CONTEXT_INVALID_CHOICE = 201,
    /// An FL variable is not an integer in its range.
    STAMEN_RESULT_CONTEXT_INVALID_INTEGER = 202,
    /// FL_SUPERLINK_ADDRESS or ONEGATE_ENDPOINT is not a valid address.
    STAMEN_RESULT_CONTEXT_INVALID_ADDRESS = 203,
    /// FL_NODE_CONFIG does not parse.
    STAMEN_RESULT_CONTEXT_INVALID_NODE_CONFIG = 204,
    /// A variable OpenNebula always sets (VMID, ONEGATE_ENDPOINT with
    /// TOKEN=YES) is missing.
    STAMEN_RESULT_CONTEXT_MISSING = 205,
    /// The scratch buffer cannot hold the unescaped values (a scratch as
    /// long as the input always suffices).
    STAMEN_RESULT_CONTEXT_SCRATCH_TOO_SMALL = 206,
    /// The OneGate token spans several lines.
    STAMEN_RESULT_TOKEN_MULTIPLE_LINES = 207,
    /// The OneGate token holds a non-base64 character.
    STAMEN_RESULT_TOKEN_NOT_BASE64 = 208,

    /// A backoff multiplier is below 1 (below 1000 permille).
    STAMEN_RESULT_BACKOFF_INVALID_MULTIPLIER = 300,

    /// A OneGate attribute name is empty or holds a character outside
    /// `A-Z a-z 0-9 _ - .`.
    STAMEN_RESULT_FORM_INVALID_KEY = 400,
    /// A OneGate attribute value holds a newline, CR or NUL.
    STAMEN_RESULT_FORM_INVALID_VALUE = 401,
    /// IPC datagram longer than 128 bytes.
    STAMEN_RESULT_IPC_TOO_LONG = 410,
    /// IPC datagram with a control byte (or a newline before the end).
    STAMEN_RESULT_IPC_CONTROL_CHAR = 411,
    /// IPC datagram that is not UTF-8.
    STAMEN_RESULT_IPC_NOT_UTF8 = 412,
    /// IPC datagram that does not start with `stamen/`.
    STAMEN_RESULT_IPC_BAD_MAGIC = 413,
    /// IPC datagram of another protocol version.
    STAMEN_RESULT_IPC_UNSUPPORTED_VERSION = 414,
    /// IPC datagram without ` status=`.
    STAMEN_RESULT_IPC_MISSING_STATUS = 415,
    /// IPC status other than 1, 2, 3.
    STAMEN_RESULT_IPC_BAD_STATUS = 416,
    /// IPC round that is empty, signed, zero-padded or not a number.
    STAMEN_RESULT_IPC_BAD_ROUND = 417,
    /// IPC round above 2^64 - 1.
    STAMEN_RESULT_IPC_ROUND_OVERFLOW = 418,
    /// IPC datagram with an unexpected field or trailing text.
    STAMEN_RESULT_IPC_UNEXPECTED_FIELD = 419,

    /// The expression is empty (OneFlow: the policy is false, no trace).
    STAMEN_RESULT_EXPR_EMPTY = 500,
    /// The expression is not in OneFlow's grammar;
    /// `stamen_expr_syntax_error` writes OneFlow's message.
    STAMEN_RESULT_EXPR_SYNTAX = 501,
    /// The expression needs more nodes than a `stamen_expr` holds.
    STAMEN_RESULT_EXPR_TOO_COMPLEX = 502,
    /// An attribute name with lower-case letters is longer than 256 bytes.
    STAMEN_RESULT_EXPR_NAME_TOO_LONG = 503,
    /// The resolver callback reported that OneFlow would raise for an
    /// attribute (or returned an unknown code).
    STAMEN_RESULT_EXPR_ATTRIBUTE_ERROR = 504,
    /// There is no syntax error to describe: the expression compiles (or
    /// fails for another reason).
    STAMEN_RESULT_EXPR_NO_SYNTAX_ERROR = 505,
    /// Average: OneFlow raises FloatDomainError (Infinity).
    STAMEN_RESULT_AVG_INFINITY = 510,
    /// Average: OneFlow raises FloatDomainError (-Infinity).
    STAMEN_RESULT_AVG_NEG_INFINITY = 511,
    /// Average: OneFlow raises FloatDomainError (NaN).
    STAMEN_RESULT_AVG_NAN = 512,
    /// Average: a section the lookup reached is absent (NoMethodError).
    STAMEN_RESULT_AVG_NO_SECTION = 513,
    /// Average: a section the lookup reached is not a hash (TypeError).
    STAMEN_RESULT_AVG_BAD_SECTION = 514,

    /// The policy has no `type`: OneFlow raises NoMethodError when it fires.
    STAMEN_RESULT_POLICY_MISSING_TYPE = 600,
    /// A policy computation made OneFlow raise (see the message).
    STAMEN_RESULT_POLICY_RUBY_EXCEPTION = 601,
    /// More policies than a `stamen_autoscaler` holds.
    STAMEN_RESULT_POLICY_TOO_MANY = 602,
    /// A scheduled policy's `start_time` is neither epoch digits nor
    /// ISO-8601.
    STAMEN_RESULT_POLICY_START_TIME = 603,
}

pub use stamen_result::*;

/// Longest message [`stamen_result_message`] writes, in bytes (no NUL).
pub const STAMEN_RESULT_MESSAGE_MAX: usize = 128;

impl stamen_result {
    /// Every code, for tests and `stamen_result_message`.
    pub const ALL: &'static [stamen_result] = &[
        STAMEN_RESULT_OK,
        STAMEN_RESULT_NULL_POINTER,
        STAMEN_RESULT_INVALID_UTF8,
        STAMEN_RESULT_BUFFER_TOO_SMALL,
        STAMEN_RESULT_INVALID_ARGUMENT,
        STAMEN_RESULT_NOT_INITIALIZED,
        STAMEN_RESULT_MISALIGNED,
        STAMEN_RESULT_PANIC,
        STAMEN_RESULT_NOT_FOUND,
        STAMEN_RESULT_ABORTED,
        STAMEN_RESULT_CONTEXT_SYNTAX,
        STAMEN_RESULT_CONTEXT_INVALID_CHOICE,
        STAMEN_RESULT_CONTEXT_INVALID_INTEGER,
        STAMEN_RESULT_CONTEXT_INVALID_ADDRESS,
        STAMEN_RESULT_CONTEXT_INVALID_NODE_CONFIG,
        STAMEN_RESULT_CONTEXT_MISSING,
        STAMEN_RESULT_CONTEXT_SCRATCH_TOO_SMALL,
        STAMEN_RESULT_TOKEN_MULTIPLE_LINES,
        STAMEN_RESULT_TOKEN_NOT_BASE64,
        STAMEN_RESULT_BACKOFF_INVALID_MULTIPLIER,
        STAMEN_RESULT_FORM_INVALID_KEY,
        STAMEN_RESULT_FORM_INVALID_VALUE,
        STAMEN_RESULT_IPC_TOO_LONG,
        STAMEN_RESULT_IPC_CONTROL_CHAR,
        STAMEN_RESULT_IPC_NOT_UTF8,
        STAMEN_RESULT_IPC_BAD_MAGIC,
        STAMEN_RESULT_IPC_UNSUPPORTED_VERSION,
        STAMEN_RESULT_IPC_MISSING_STATUS,
        STAMEN_RESULT_IPC_BAD_STATUS,
        STAMEN_RESULT_IPC_BAD_ROUND,
        STAMEN_RESULT_IPC_ROUND_OVERFLOW,
        STAMEN_RESULT_IPC_UNEXPECTED_FIELD,
        STAMEN_RESULT_EXPR_EMPTY,
        STAMEN_RESULT_EXPR_SYNTAX,
        STAMEN_RESULT_EXPR_TOO_COMPLEX,
        STAMEN_RESULT_EXPR_NAME_TOO_LONG,
        STAMEN_RESULT_EXPR_ATTRIBUTE_ERROR,
        STAMEN_RESULT_EXPR_NO_SYNTAX_ERROR,
        STAMEN_RESULT_AVG_INFINITY,
        STAMEN_RESULT_AVG_NEG_INFINITY,
        STAMEN_RESULT_AVG_NAN,
        STAMEN_RESULT_AVG_NO_SECTION,
        STAMEN_RESULT_AVG_BAD_SECTION,
        STAMEN_RESULT_POLICY_MISSING_TYPE,
        STAMEN_RESULT_POLICY_RUBY_EXCEPTION,
        STAMEN_RESULT_POLICY_TOO_MANY,
        STAMEN_RESULT_POLICY_START_TIME,
    ];

    /// The code for a number, `None` if unknown.
    pub fn from_u32(code: u32) -> Option<stamen_result> {
        Self::ALL.iter().copied().find(|r| *r as u32 == code)
    }

    /// A one-line English message (no trailing period).
    pub const fn message(self) -> &'static str {
        match self {
            STAMEN_RESULT_OK => "success",
            STAMEN_RESULT_NULL_POINTER => "a pointer argument is NULL",
            STAMEN_RESULT_INVALID_UTF8 => "a string argument is not valid UTF-8",
            STAMEN_RESULT_BUFFER_TOO_SMALL => "an output buffer is too small; nothing was written",
            STAMEN_RESULT_INVALID_ARGUMENT => {
                "an argument is out of range (e.g. an unknown enum value)"
            }
            STAMEN_RESULT_NOT_INITIALIZED => {
                "the state struct was not initialised by its _init function"
            }
            STAMEN_RESULT_MISALIGNED => "a struct pointer is not correctly aligned",
            STAMEN_RESULT_PANIC => {
                "internal error in libstamen (a panic was caught); please report it"
            }
            STAMEN_RESULT_NOT_FOUND => "not found",
            STAMEN_RESULT_ABORTED => "stopped by the callback",
            STAMEN_RESULT_CONTEXT_SYNTAX => "context file syntax error",
            STAMEN_RESULT_CONTEXT_INVALID_CHOICE => {
                "context variable has a value outside its allowed words"
            }
            STAMEN_RESULT_CONTEXT_INVALID_INTEGER => {
                "context variable is not an integer in its allowed range"
            }
            STAMEN_RESULT_CONTEXT_INVALID_ADDRESS => "context variable is not a valid address",
            STAMEN_RESULT_CONTEXT_INVALID_NODE_CONFIG => "FL_NODE_CONFIG does not parse",
            STAMEN_RESULT_CONTEXT_MISSING => "a variable OpenNebula always sets is missing",
            STAMEN_RESULT_CONTEXT_SCRATCH_TOO_SMALL => {
                "scratch buffer too small for the unescaped values"
            }
            STAMEN_RESULT_TOKEN_MULTIPLE_LINES => "the OneGate token must be one line",
            STAMEN_RESULT_TOKEN_NOT_BASE64 => "the OneGate token holds a non-base64 character",
            STAMEN_RESULT_BACKOFF_INVALID_MULTIPLIER => {
                "backoff multiplier must be at least 1000 permille"
            }
            STAMEN_RESULT_FORM_INVALID_KEY => {
                "invalid OneGate attribute name (allowed: A-Z a-z 0-9 _ - .)"
            }
            STAMEN_RESULT_FORM_INVALID_VALUE => {
                "OneGate attribute value holds a newline, CR or NUL"
            }
            STAMEN_RESULT_IPC_TOO_LONG => "IPC datagram longer than 128 bytes",
            STAMEN_RESULT_IPC_CONTROL_CHAR => "IPC datagram holds a control character",
            STAMEN_RESULT_IPC_NOT_UTF8 => "IPC datagram is not valid UTF-8",
            STAMEN_RESULT_IPC_BAD_MAGIC => "IPC datagram does not start with stamen/",
            STAMEN_RESULT_IPC_UNSUPPORTED_VERSION => {
                "IPC datagram has an unsupported version (supported: stamen/1)"
            }
            STAMEN_RESULT_IPC_MISSING_STATUS => "IPC datagram has no status= field",
            STAMEN_RESULT_IPC_BAD_STATUS => "IPC status must be 1, 2 or 3",
            STAMEN_RESULT_IPC_BAD_ROUND => {
                "IPC round must be a decimal number without sign or leading zeros"
            }
            STAMEN_RESULT_IPC_ROUND_OVERFLOW => "IPC round is above 18446744073709551615",
            STAMEN_RESULT_IPC_UNEXPECTED_FIELD => {
                "IPC datagram has an unexpected field or trailing text"
            }
            STAMEN_RESULT_EXPR_EMPTY => "empty expression",
            STAMEN_RESULT_EXPR_SYNTAX => "expression syntax error (see stamen_expr_syntax_error)",
            STAMEN_RESULT_EXPR_TOO_COMPLEX => "expression too complex for a stamen_expr",
            STAMEN_RESULT_EXPR_NAME_TOO_LONG => {
                "attribute name with lower-case letters longer than 256 bytes"
            }
            STAMEN_RESULT_EXPR_ATTRIBUTE_ERROR => {
                "an attribute cannot be evaluated (OneFlow would raise)"
            }
            STAMEN_RESULT_EXPR_NO_SYNTAX_ERROR => "the expression has no syntax error to describe",
            STAMEN_RESULT_AVG_INFINITY => "OneFlow raises FloatDomainError: Infinity",
            STAMEN_RESULT_AVG_NEG_INFINITY => "OneFlow raises FloatDomainError: -Infinity",
            STAMEN_RESULT_AVG_NAN => "OneFlow raises FloatDomainError: NaN",
            STAMEN_RESULT_AVG_NO_SECTION => "OneFlow raises NoMethodError: a VM section is absent",
            STAMEN_RESULT_AVG_BAD_SECTION => "OneFlow raises TypeError: a VM section is not a hash",
            STAMEN_RESULT_POLICY_MISSING_TYPE => {
                "OneFlow raises NoMethodError: the policy has no type"
            }
            STAMEN_RESULT_POLICY_RUBY_EXCEPTION => {
                "OneFlow would raise an exception for this policy"
            }
            STAMEN_RESULT_POLICY_TOO_MANY => "more policies than a stamen_autoscaler holds",
            STAMEN_RESULT_POLICY_START_TIME => "start_time is neither epoch seconds nor ISO-8601",
        }
    }
}

/// Writes the message of `code` (no NUL terminator) into `buf` and its
/// length into `*written`.
///
/// Returns `STAMEN_RESULT_INVALID_ARGUMENT` for an unknown code and
/// `STAMEN_RESULT_BUFFER_TOO_SMALL` when `len` is shorter than the message;
/// a buffer of `STAMEN_RESULT_MESSAGE_MAX` bytes always suffices.
///
/// # Safety
/// `buf` points to `len` writable bytes; `written` to a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn stamen_result_message(
    code: u32,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let Some(r) = stamen_result::from_u32(code) else {
            return STAMEN_RESULT_INVALID_ARGUMENT;
        };
        let n = match write_bytes(out, r.message().as_bytes()) {
            Ok(n) => n,
            Err(e) => return e,
        };
        out_write(written, n);
        STAMEN_RESULT_OK
    }}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_messages_fit() {
        for (i, a) in stamen_result::ALL.iter().enumerate() {
            assert!(a.message().len() <= STAMEN_RESULT_MESSAGE_MAX, "{a:?}");
            assert!(!a.message().ends_with('.'));
            for b in stamen_result::ALL.iter().skip(i + 1) {
                assert_ne!(*a as u32, *b as u32);
            }
            assert_eq!(stamen_result::from_u32(*a as u32), Some(*a));
        }
        assert_eq!(stamen_result::from_u32(1), None);
    }
}
