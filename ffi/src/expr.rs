//! OneFlow elasticity expressions (SPEC §6): compile once into a
//! caller-owned `stamen_expr`, evaluate with a C resolver callback, get
//! OneFlow's value and trace byte for byte.

use crate::result::stamen_result::{self, *};
use crate::util::{opaque_fits, out_write, Opaque, SliceWriter};
use core::ffi::{c_char, c_void};
use stamen_core::expr::{
    average, bytes_to_f, write_ruby_float, AvgError, EvalError, Expr, Lookup, ParseError, Section,
    VmView, DEFAULT_CAPACITY, MAX_NAME_LEN,
};

/// Nodes a `stamen_expr` holds: 32 comparisons joined by `&&`/`||`.
pub const STAMEN_EXPR_CAPACITY: usize = 64;
const _: () = assert!(STAMEN_EXPR_CAPACITY == DEFAULT_CAPACITY);
/// Longest attribute name with lower-case letters.
pub const STAMEN_EXPR_MAX_NAME_LEN: usize = 256;
const _: () = assert!(STAMEN_EXPR_MAX_NAME_LEN == MAX_NAME_LEN);
/// Words in a `stamen_expr`.
pub const STAMEN_EXPR_WORDS: usize = 1024;

type Compiled = Expr<'static, STAMEN_EXPR_CAPACITY>;

/// A compiled expression, owned by the caller (8 KB). It points
/// into the source text given to `stamen_expr_compile`: keep that text
/// alive and unchanged while you use the expression. The struct itself may
/// be copied with `memcpy`.
#[repr(C)]
pub struct stamen_expr {
    _opaque: [u64; STAMEN_EXPR_WORDS],
}

opaque_fits!(stamen_expr, Compiled);

impl Opaque for stamen_expr {
    type Inner = Compiled;
    const MAGIC: u64 = 0x7374_616d_6e65_7870; // "stamnexp"
}

fn parse_err(e: &ParseError<'_>) -> stamen_result {
    match e {
        ParseError::Empty => STAMEN_RESULT_EXPR_EMPTY,
        ParseError::Syntax(_) => STAMEN_RESULT_EXPR_SYNTAX,
        ParseError::TooComplex { .. } => STAMEN_RESULT_EXPR_TOO_COMPLEX,
        _ => STAMEN_RESULT_EXPR_NAME_TOO_LONG,
    }
}

/// Compiles `src` with OneFlow's grammar.
///
/// Returns `STAMEN_RESULT_EXPR_EMPTY` for `""` (OneFlow: false, no trace),
/// `STAMEN_RESULT_EXPR_SYNTAX` when OneFlow would report a parse error
/// (get its text with `stamen_expr_syntax_error`),
/// `STAMEN_RESULT_EXPR_TOO_COMPLEX`, `STAMEN_RESULT_EXPR_NAME_TOO_LONG`.
///
/// # Safety
/// `src` has `src_len` readable bytes that stay valid and unchanged while
/// `expr` is used; `expr` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_expr_compile(
    src: *const c_char,
    src_len: usize,
    expr: *mut stamen_expr,
) -> stamen_result {
    ffi_boundary! {{
        let src: &'static str = try_str!(src, src_len);
        let expr = try_out!(expr);
        match Compiled::parse(src) {
            Ok(e) => {
                stamen_expr::store(expr, e);
                STAMEN_RESULT_OK
            }
            Err(e) => parse_err(&e),
        }
    }}
}

/// Writes what OneFlow stores as the trace of an expression that does not
/// parse: `Parse error. '<src>': Expected ... at line 1, column C (byte C)
/// after ...`. Returns `STAMEN_RESULT_EXPR_NO_SYNTAX_ERROR` (writing
/// nothing) when `src` has no syntax error.
///
/// # Safety
/// `src` has `src_len` readable bytes; `buf` has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn stamen_expr_syntax_error(
    src: *const c_char,
    src_len: usize,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let src = try_str!(src, src_len);
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let Err(ParseError::Syntax(e)) = Compiled::parse(src) else {
            return STAMEN_RESULT_EXPR_NO_SYNTAX_ERROR;
        };
        let mut w = SliceWriter::new(out);
        if core::fmt::write(&mut w, format_args!("{}", e.oneflow_trace())).is_err() {
            return STAMEN_RESULT_BUFFER_TOO_SMALL;
        }
        out_write(written, w.len());
        STAMEN_RESULT_OK
    }}
}

/// What a `stamen_resolve_fn` found (return it as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_attr {
    /// `*value` was set.
    STAMEN_ATTR_FOUND = 0,
    /// No VM has the attribute: the comparison is false, the trace shows
    /// `NAME[--]`.
    STAMEN_ATTR_MISSING = 1,
}

/// Gives the value of attribute `name` (upper-cased as OneFlow looks it up,
/// quotes kept; not NUL-terminated): return `STAMEN_ATTR_FOUND` after
/// setting `*value`, `STAMEN_ATTR_MISSING`, or any other code where OneFlow
/// would raise (e.g. the result of `stamen_average`). A `stamen_result`
/// code is passed through as the evaluation's result; other values give
/// `STAMEN_RESULT_EXPR_ATTRIBUTE_ERROR`.
pub type stamen_resolve_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        name: *const c_char,
        name_len: usize,
        value: *mut f64,
    ) -> u32,
>;

pub(crate) struct CResolver {
    pub(crate) f: unsafe extern "C" fn(*mut c_void, *const c_char, usize, *mut f64) -> u32,
    pub(crate) user: *mut c_void,
}

impl stamen_core::expr::Resolver for CResolver {
    type Error = stamen_result;

    fn resolve(&mut self, name: &str) -> Result<Option<f64>, stamen_result> {
        let mut v = 0.0f64;
        // SAFETY: a valid callback per the caller's contract.
        let r = unsafe { (self.f)(self.user, name.as_ptr().cast(), name.len(), &mut v) };
        match r {
            0 => Ok(Some(v)),
            1 => Ok(None),
            other => Err(match stamen_result::from_u32(other) {
                Some(code) if code != STAMEN_RESULT_OK => code,
                _ => STAMEN_RESULT_EXPR_ATTRIBUTE_ERROR,
            }),
        }
    }
}

fn eval_err(e: EvalError<stamen_result>) -> stamen_result {
    match e {
        EvalError::Resolve(code) => code,
        _ => STAMEN_RESULT_BUFFER_TOO_SMALL,
    }
}

/// Evaluates `expr`; `*value` receives 1 when the condition holds. Like
/// OneFlow, every attribute is resolved (both sides of `&&`/`||`).
///
/// # Safety
/// `expr` was compiled by `stamen_expr_compile` and its source is alive;
/// `resolve` is a valid function; `value` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_expr_eval(
    expr: *const stamen_expr,
    resolve: stamen_resolve_fn,
    user: *mut c_void,
    value: *mut u8,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(expr);
        let value = try_out!(value);
        let f = try_callback!(resolve);
        let e = tri!(stamen_expr::load(p));
        let v = tri!(e.eval(&mut CResolver { f, user }).map_err(eval_err));
        out_write(value, u8::from(v));
        STAMEN_RESULT_OK
    }}
}

/// Like `stamen_expr_eval`, and writes OneFlow's trace
/// (`expression_evaluated`, e.g. `CPU[82.88] > 80 && MEM[--] < 3`) into
/// `trace` (not NUL-terminated). `STAMEN_RESULT_BUFFER_TOO_SMALL` when the
/// trace does not fit (nothing is reported as written).
///
/// # Safety
/// As for `stamen_expr_eval`; `trace` has `trace_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn stamen_expr_eval_traced(
    expr: *const stamen_expr,
    resolve: stamen_resolve_fn,
    user: *mut c_void,
    trace: *mut u8,
    trace_len: usize,
    trace_written: *mut usize,
    value: *mut u8,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(expr);
        let out = try_slice_mut!(trace, trace_len);
        let trace_written = try_out!(trace_written);
        let value = try_out!(value);
        let f = try_callback!(resolve);
        let e = tri!(stamen_expr::load(p));
        let mut w = SliceWriter::new(out);
        let v = tri!(e.eval_traced(&mut CResolver { f, user }, &mut w).map_err(eval_err));
        out_write(trace_written, w.len());
        out_write(value, u8::from(v));
        STAMEN_RESULT_OK
    }}
}

/// What one VM holds for an attribute in one section (`stamen_lookup.kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_lookup_kind {
    /// No such key (or nil/false): look in the next section.
    STAMEN_LOOKUP_MISSING = 0,
    /// Text, converted like Ruby `String#to_f`; the VM counts.
    STAMEN_LOOKUP_TEXT = 1,
    /// A number, used as is; the VM counts.
    STAMEN_LOOKUP_NUMBER = 2,
    /// An empty element: found, not numeric, the VM is skipped.
    STAMEN_LOOKUP_EMPTY = 3,
    /// A nested element: found, not numeric, the VM is skipped.
    STAMEN_LOOKUP_NESTED = 4,
    /// A repeated element: found, not numeric, the VM is skipped.
    STAMEN_LOOKUP_ARRAY = 5,
    /// Another value without `to_f` (e.g. `true`): the VM is skipped.
    STAMEN_LOOKUP_NOT_NUMERIC = 6,
    /// The section itself is absent: OneFlow raises NoMethodError.
    STAMEN_LOOKUP_NO_SECTION = 7,
    /// The section is not a hash: OneFlow raises TypeError.
    STAMEN_LOOKUP_BAD_SECTION = 8,
}

/// One section's answer for the attribute.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_lookup {
    /// A `stamen_lookup_kind`.
    pub kind: u32,
    /// `STAMEN_LOOKUP_TEXT`: the text (may be any non-NULL pointer otherwise).
    pub text: *const c_char,
    /// Length of `text` in bytes.
    pub text_len: usize,
    /// `STAMEN_LOOKUP_NUMBER`: the number.
    pub number: f64,
}

/// One VM of a role, for one attribute.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_vm_attr {
    /// 1 when the VM counts: in the pool and STATE, LCM_STATE both "3".
    pub running: u8,
    /// USER_TEMPLATE, MONITORING, TEMPLATE and the VM root, in OneFlow's
    /// lookup order.
    pub sections: [stamen_lookup; 4],
}

/// The result of `stamen_average`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_avg {
    /// 1 when at least one running VM has the attribute.
    pub found: u8,
    /// The average rounded to 2 decimals, half away from zero.
    pub value: f64,
}

struct CheckedVm<'a> {
    running: bool,
    sections: [Lookup<'a>; 4],
}

impl VmView for CheckedVm<'_> {
    fn is_running(&self) -> bool {
        self.running
    }

    fn lookup(&self, section: Section, _name: &str) -> Lookup<'_> {
        let i = match section {
            Section::UserTemplate => 0,
            Section::Monitoring => 1,
            Section::Template => 2,
            _ => 3,
        };
        self.sections.get(i).copied().unwrap_or(Lookup::Missing)
    }
}

/// # Safety
/// `l.text` has `l.text_len` readable bytes when the kind is TEXT.
unsafe fn lookup_from_c(l: &stamen_lookup) -> Result<Lookup<'_>, stamen_result> {
    Ok(match l.kind {
        0 => Lookup::Missing,
        1 => {
            let p = crate::util::check_slice(l.text.cast::<u8>(), l.text_len)?;
            // SAFETY: per the contract.
            let bytes = unsafe { core::slice::from_raw_parts(p, l.text_len) };
            Lookup::Text(core::str::from_utf8(bytes).map_err(|_| STAMEN_RESULT_INVALID_UTF8)?)
        }
        2 => Lookup::Number(l.number),
        3 => Lookup::Empty,
        4 => Lookup::Nested,
        5 => Lookup::Array,
        6 => Lookup::NotNumeric,
        7 => Lookup::NoSection,
        8 => Lookup::BadSection,
        _ => return Err(STAMEN_RESULT_INVALID_ARGUMENT),
    })
}

/// # Safety
/// As for `lookup_from_c`.
unsafe fn vm_from_c(v: &stamen_vm_attr) -> Result<CheckedVm<'_>, stamen_result> {
    let running = crate::util::flag(v.running)?;
    let [a, b, c, d] = &v.sections;
    // SAFETY: per the contract.
    unsafe {
        Ok(CheckedVm {
            running,
            sections: [
                lookup_from_c(a)?,
                lookup_from_c(b)?,
                lookup_from_c(c)?,
                lookup_from_c(d)?,
            ],
        })
    }
}

/// An attribute's value over a role's VMs exactly as OneFlow computes it:
/// the first section that has it, per running VM; text through Ruby
/// `String#to_f`; the mean rounded to 2 decimals. Returns
/// `STAMEN_RESULT_AVG_*` where OneFlow raises (non-finite average, absent
/// or malformed section). Return that code from your `stamen_resolve_fn`.
///
/// # Safety
/// `vms` has `n` readable elements (any non-NULL pointer when `n` is 0);
/// TEXT lookups have `text_len` readable bytes; `avg` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_average(
    vms: *const stamen_vm_attr,
    n: usize,
    avg: *mut stamen_avg,
) -> stamen_result {
    ffi_boundary! {{
        let vms = try_array!(vms, n);
        let avg = try_out!(avg);
        for v in vms {
            tri!(vm_from_c(v));
        }
        // Validated above; a failure now cannot happen and would count as
        // a skipped VM.
        let checked = vms.iter().filter_map(|v| vm_from_c(v).ok());
        let r = average(checked, "").map_err(|e| match e {
            AvgError::Infinity => STAMEN_RESULT_AVG_INFINITY,
            AvgError::NegInfinity => STAMEN_RESULT_AVG_NEG_INFINITY,
            AvgError::NaN => STAMEN_RESULT_AVG_NAN,
            AvgError::NoSection { .. } => STAMEN_RESULT_AVG_NO_SECTION,
            _ => STAMEN_RESULT_AVG_BAD_SECTION,
        });
        let r = tri!(r);
        out_write(avg, stamen_avg { found: u8::from(r.is_some()), value: r.unwrap_or(0.0) });
        STAMEN_RESULT_OK
    }}
}

/// Ruby's `String#to_f` of `text` (`"12abc"` → 12, `"YES"` → 0, `"1e3"` →
/// 1000). Any bytes are accepted.
///
/// # Safety
/// `text` has `len` readable bytes; `value` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_ruby_to_f(
    text: *const c_char,
    len: usize,
    value: *mut f64,
) -> stamen_result {
    ffi_boundary! {{
        let text = try_slice!(text, len);
        let value = try_out!(value);
        out_write(value, bytes_to_f(text));
        STAMEN_RESULT_OK
    }}
}

/// A buffer of this many bytes always holds `stamen_ruby_float_to_s`.
pub const STAMEN_RUBY_FLOAT_MAX: usize = 32;

/// Ruby's `Float#to_s` of `x` (`100.0`, `1.0e+15`, `Infinity`), as OneFlow
/// prints attribute values in traces.
///
/// # Safety
/// `buf` has `len` writable bytes; `written` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_ruby_float_to_s(
    x: f64,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let mut w = SliceWriter::new(out);
        if write_ruby_float(&mut w, x).is_err() {
            return STAMEN_RESULT_BUFFER_TOO_SMALL;
        }
        out_write(written, w.len());
        STAMEN_RESULT_OK
    }}
}
