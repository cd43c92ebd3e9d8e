//! Ruby number semantics OneFlow relies on: `Float#to_s` and `String#to_f`.
//!
//! Both are re-implemented from the behaviour of CRuby (`flo_to_s` in
//! `numeric.c`, `rb_cstr_to_dbl` in `object.c` and `ruby_strtod` in `util.c`)
//! without allocating: digits are produced into small stack buffers.

use core::fmt::{self, Write};

/// A fixed-size stack buffer implementing [`fmt::Write`]; writing past the end
/// is an error, never a panic.
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl<const N: usize> Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Displays an `f64` exactly as Ruby's `Float#to_s` does.
///
/// The shortest round-trip digits `d1…dn` and the decimal exponent `e`
/// (x = 0.d1…dn × 10^e) are laid out as: fixed with the point after digit `e`
/// when 0 < e < n; the digits zero-padded then `.0` when n ≤ e ≤ 15; `0.`,
/// −e zeros and the digits when −3 ≤ e ≤ 0; otherwise `d1.d2…dn` (or `d1.0`),
/// `e`, and e−1 with a sign and at least two digits. Non-finite values print as
/// `Infinity`, `-Infinity` and `NaN`.
///
/// ```
/// use stamen_core::expr::RubyFloat;
/// assert_eq!(format!("{}", RubyFloat(1e16)), "1.0e+16");
/// assert_eq!(format!("{}", RubyFloat(100.0)), "100.0");
/// assert_eq!(format!("{}", RubyFloat(1e-5)), "1.0e-05");
/// assert_eq!(format!("{}", RubyFloat(0.0001)), "0.0001");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RubyFloat(pub f64);

impl fmt::Display for RubyFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ruby_float(f, self.0)
    }
}

/// Writes `x` as Ruby's `Float#to_s` into any [`fmt::Write`].
pub fn write_ruby_float<W: Write + ?Sized>(w: &mut W, x: f64) -> fmt::Result {
    if x.is_nan() {
        return w.write_str("NaN");
    }
    if x.is_infinite() {
        return w.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x == 0.0 {
        return w.write_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, like dtoa mode 0.
    let mut sci = StackBuf::<40>::new();
    write!(sci, "{:e}", x.abs())?;
    let sci = sci.as_bytes();
    let mut digits = [0u8; 20];
    let mut n = 0usize;
    let mut exp: i32 = 0;
    let mut exp_neg = false;
    let mut in_exp = false;
    for &b in sci {
        if in_exp {
            if b == b'-' {
                exp_neg = true;
            } else if b.is_ascii_digit() {
                exp = exp.saturating_mul(10).saturating_add(i32::from(b - b'0'));
            }
        } else if b == b'e' {
            in_exp = true;
        } else if b.is_ascii_digit() {
            if let Some(slot) = digits.get_mut(n) {
                *slot = b;
                n += 1;
            }
        }
    }
    if exp_neg {
        exp = -exp;
    }
    let digits = digits.get(..n).unwrap_or(&[]);
    let ds = core::str::from_utf8(digits).map_err(|_| fmt::Error)?;
    let decpt = exp + 1;
    let n = n as i32;
    if x < 0.0 {
        w.write_char('-')?;
    }
    if decpt > 0 && decpt < n {
        let (a, b) = ds.split_at(decpt as usize);
        w.write_str(a)?;
        w.write_char('.')?;
        w.write_str(b)
    } else if decpt > 0 && decpt <= 15 {
        w.write_str(ds)?;
        for _ in n..decpt {
            w.write_char('0')?;
        }
        w.write_str(".0")
    } else if decpt > -4 && decpt <= 0 {
        w.write_str("0.")?;
        for _ in decpt..0 {
            w.write_char('0')?;
        }
        w.write_str(ds)
    } else {
        let (a, b) = ds.split_at(1.min(ds.len()));
        w.write_str(a)?;
        w.write_char('.')?;
        w.write_str(if b.is_empty() { "0" } else { b })?;
        let e = decpt - 1;
        write!(
            w,
            "e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        )
    }
}

/// The common case, `-?[0-9]+(\.[0-9]+)?` with at most 15 significant digits
/// and 22 decimals: exact integer over an exact power of ten, one rounding —
/// the same value `strtod` gives. `None` for anything else.
fn plain_decimal(s: &[u8]) -> Option<f64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut m: u64 = 0;
    let mut significant = 0u32;
    let mut decimals = 0usize;
    let mut int_digits = 0usize;
    let mut dot = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                if m != 0 || b != b'0' {
                    significant += 1;
                    if significant > 15 {
                        return None;
                    }
                }
                m = m * 10 + u64::from(b - b'0');
                if dot {
                    decimals += 1;
                } else {
                    int_digits += 1;
                }
            }
            b'.' if !dot && int_digits > 0 => dot = true,
            _ => return None,
        }
    }
    if int_digits == 0 || (dot && decimals == 0) {
        return None;
    }
    let p = POW10.get(decimals).copied()?;
    let x = m as f64 / p;
    Some(if neg { -x } else { x })
}

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Ruby's `String#to_f`: never fails; returns the value of the longest numeric
/// prefix (after leading whitespace), `0.0` when there is none.
///
/// Mirrors CRuby exactly, including its quirks: underscores are accepted only
/// between digits, `0x…` gives `0.0` but `-0x1A` / `+0x1A` are hexadecimal,
/// a digit string followed by junk is re-read through a 70-byte buffer (so only
/// its first 60 characters count), fraction digits beyond ~60 significant
/// digits are ignored, a NUL byte ends the string, and out-of-range values give
/// `±Infinity` or `0.0`.
///
/// ```
/// use stamen_core::expr::str_to_f;
/// assert_eq!(str_to_f("12abc"), 12.0);
/// assert_eq!(str_to_f("YES"), 0.0);
/// assert_eq!(str_to_f("1e3"), 1000.0);
/// assert_eq!(str_to_f("1_000.5"), 1000.5);
/// assert_eq!(str_to_f("  -.5"), -0.5);
/// ```
pub fn str_to_f(s: &str) -> f64 {
    bytes_to_f(s.as_bytes())
}

/// [`str_to_f`] on raw bytes (the text is treated as ASCII; a NUL ends it).
pub fn bytes_to_f(s: &[u8]) -> f64 {
    if let Some(x) = plain_decimal(s) {
        return x;
    }
    let s = match s.iter().position(|&b| b == 0) {
        Some(nul) => s.get(..nul).unwrap_or(&[]),
        None => s,
    };
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = 0;
    while is_space(at(p)) {
        p += 1;
    }
    if at(p) == b'0' && matches!(at(p + 1), b'x' | b'X') {
        return 0.0;
    }
    let (d, end) = strtod(s, p);
    if end == p || at(end) == 0 {
        return d;
    }
    // Junk after the number: CRuby copies the text into a small buffer,
    // dropping underscores between digits, and reads it again.
    let mut buf = [0u8; 70];
    let init_e = 60usize;
    let mut e = init_e;
    let mut n = 0usize;
    let mut prev = 0u8;
    let mut dot_seen = 0u32;
    let mut base = 10u32;
    let mut exp_letter = b'e';
    let put = |buf: &mut [u8; 70], n: &mut usize, b: u8| {
        if let Some(slot) = buf.get_mut(*n) {
            *slot = b;
            *n += 1;
        }
    };
    if matches!(at(p), b'+' | b'-') {
        prev = at(p);
        put(&mut buf, &mut n, prev);
        p += 1;
    }
    if at(p) == b'0' {
        prev = b'0';
        put(&mut buf, &mut n, b'0');
        p += 1;
        match at(p) {
            b'x' | b'X' => {
                prev = b'x';
                put(&mut buf, &mut n, b'x');
                base = 16;
                exp_letter = b'p';
                p += 1;
                if at(p) == b'0' {
                    while at(p + 1) == b'0' {
                        p += 1;
                    }
                    p += 1;
                }
            }
            b'0' => {
                while at(p) == b'0' {
                    p += 1;
                }
            }
            _ => {}
        }
    }
    while p < end && n < e {
        prev = at(p);
        put(&mut buf, &mut n, prev);
        p += 1;
    }
    let is_digit = |c: u8, base: u32| (c as char).is_digit(base);
    while at(p) != 0 {
        if at(p) == b'_' {
            if n == 0 || !is_digit(prev, base) {
                break;
            }
            p += 1;
            if !is_digit(at(p), base) {
                break;
            }
        }
        prev = at(p);
        p += 1;
        if e == init_e && prev.to_ascii_lowercase() == exp_letter {
            e = buf.len() - 1;
            put(&mut buf, &mut n, prev);
            if matches!(at(p), b'+' | b'-') {
                prev = at(p);
                put(&mut buf, &mut n, prev);
                p += 1;
            }
            if at(p) == b'0' {
                prev = b'0';
                put(&mut buf, &mut n, b'0');
                while at(p + 1) == b'0' {
                    p += 1;
                }
                p += 1;
            }
            base = 10;
            continue;
        } else if is_space(prev) {
            while is_space(at(p)) {
                p += 1;
            }
            if at(p) != 0 {
                break;
            }
        } else if prev == b'.' {
            let seen = dot_seen;
            dot_seen += 1;
            if seen != 0 {
                break;
            }
        } else if !is_digit(prev, base) {
            break;
        }
        if n < e {
            put(&mut buf, &mut n, prev);
        }
    }
    let buf = buf.get(..n).unwrap_or(&[]);
    if buf.first() == Some(&b'0') && matches!(buf.get(1), Some(b'x' | b'X')) {
        return 0.0;
    }
    strtod(buf, 0).0
}

/// Significant decimal digits collected by [`strtod`]: up to 19 in a `u64`
/// (no buffer touched on the common path), then in a fixed buffer where
/// digits beyond it only shift the exponent and set a sticky flag, which keeps
/// the final rounding exact (768 digits decide any `f64`).
struct Digits {
    m: u64,
    n: usize,
    big: Option<BigDigits>,
}

struct BigDigits {
    buf: [u8; 780],
    len: usize,
    dropped: i64,
    sticky: bool,
}

impl BigDigits {
    fn push(&mut self, d: u8) {
        if self.len < self.buf.len() - 1 {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = d;
                self.len += 1;
            }
        } else {
            self.dropped = self.dropped.saturating_add(1);
            if d != b'0' {
                self.sticky = true;
            }
        }
    }
}

impl Digits {
    const fn new() -> Self {
        Self {
            m: 0,
            n: 0,
            big: None,
        }
    }

    fn push(&mut self, d: u8) {
        if let Some(big) = &mut self.big {
            big.push(d);
            return;
        }
        if self.n < 19 {
            self.m = self.m * 10 + u64::from(d - b'0');
            self.n += 1;
            return;
        }
        // The first digit is never 0, so `m` has exactly `n` digits.
        let mut big = BigDigits {
            buf: [0; 780],
            len: 0,
            dropped: 0,
            sticky: false,
        };
        let mut head = StackBuf::<24>::new();
        let _ = write!(head, "{}", self.m);
        for &b in head.as_bytes() {
            big.push(b);
        }
        big.push(d);
        self.big = Some(big);
    }

    /// The value digits × 10^exp, correctly rounded.
    fn value(&self, exp: i64) -> f64 {
        let Some(big) = &self.big else {
            // Fast path (Clinger): an exact integer times an exact power of ten.
            if self.m < (1 << 53) && (-22..=22).contains(&exp) {
                let p = POW10
                    .get(exp.unsigned_abs() as usize)
                    .copied()
                    .unwrap_or(1.0);
                return if exp < 0 {
                    self.m as f64 / p
                } else {
                    self.m as f64 * p
                };
            }
            let mut text = StackBuf::<48>::new();
            let _ = write!(text, "{}e{exp}", self.m);
            return text.as_str().parse::<f64>().unwrap_or(0.0);
        };
        let exp = exp.saturating_add(big.dropped);
        let digits = big.buf.get(..big.len).unwrap_or(&[]);
        let mut text = StackBuf::<{ 780 + 24 }>::new();
        let _ = text.write_str(core::str::from_utf8(digits).unwrap_or("0"));
        let mut exp = exp;
        if big.sticky {
            let _ = text.write_char('1');
            exp = exp.saturating_sub(1);
        }
        let _ = write!(text, "e{exp}");
        // The text is digits, `e` and an integer: parsing cannot fail.
        text.as_str().parse::<f64>().unwrap_or(0.0)
    }
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `ruby_strtod` on `s[start..]`: returns the value and the index just past
/// the characters it consumed (`start` when nothing was a number).
fn strtod(s: &[u8], start: usize) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = start;
    let mut neg = false;
    loop {
        match at(i) {
            b'-' | b'+' => {
                neg = at(i) == b'-';
                i += 1;
                if at(i) == 0 {
                    return (0.0, start);
                }
                break;
            }
            0 => return (0.0, start),
            c if is_space(c) => i += 1,
            _ => break,
        }
    }
    let sign = |v: f64| if neg { -v } else { v };
    let mut nz0 = false;
    if at(i) == b'0' {
        if matches!(at(i + 1), b'x' | b'X') {
            return match hex(s, i + 2) {
                Some((v, end)) => (sign(v), end),
                None => (0.0, start),
            };
        }
        nz0 = true;
        while at(i + 1) == b'0' {
            i += 1;
        }
        i += 1;
        if at(i) == 0 {
            return (sign(0.0), i);
        }
    }
    let mut digits = Digits::new();
    let mut nd: u64 = 0;
    let mut nf: i64 = 0;
    let mut nz: i64 = 0;
    while at(i).is_ascii_digit() {
        digits.push(at(i));
        nd += 1;
        i += 1;
    }
    let mut c = at(i);
    if c == b'.' && at(i + 1).is_ascii_digit() {
        i += 1;
        c = at(i);
        let mut have = nd != 0;
        if !have {
            while c == b'0' {
                nz += 1;
                i += 1;
                c = at(i);
            }
            if c.is_ascii_digit() {
                nf = nf.saturating_add(nz);
                nz = 0;
                have = true;
            }
        }
        if have {
            while c.is_ascii_digit() {
                nz += 1;
                if nd <= 60 && c != b'0' {
                    nf = nf.saturating_add(nz);
                    for _ in 1..nz {
                        digits.push(b'0');
                        nd += 1;
                    }
                    digits.push(c);
                    nd += 1;
                    nz = 0;
                }
                i += 1;
                c = at(i);
            }
        }
    }
    let mut e: i64 = 0;
    if c == b'e' || c == b'E' {
        if nd == 0 && nz == 0 && !nz0 {
            return (0.0, start);
        }
        let e_at = i;
        i += 1;
        let mut esign = false;
        match at(i) {
            b'-' => {
                esign = true;
                i += 1;
            }
            b'+' => i += 1,
            _ => {}
        }
        if at(i).is_ascii_digit() {
            while at(i) == b'0' {
                i += 1;
            }
            let first = i;
            let mut l: i64 = 0;
            while at(i).is_ascii_digit() {
                l = l.saturating_mul(10).saturating_add(i64::from(at(i) - b'0'));
                i += 1;
            }
            e = if i - first > 8 || l > 19999 { 19999 } else { l };
            if esign {
                e = -e;
            }
        } else {
            i = e_at;
        }
    }
    if nd == 0 {
        if nz == 0 && !nz0 {
            return (0.0, start);
        }
        return (sign(0.0), i);
    }
    (sign(digits.value(e.saturating_sub(nf))), i)
}

fn hex_val(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// The hexadecimal branch of `ruby_strtod` (`s[i]` is the first character after
/// `0x`), with its exact floating-point accumulation. `None` means "no number".
fn hex(s: &[u8], mut i: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut adj = 0.0f64;
    let mut aadj = 1.0f64;
    let mut nd0: i64 = -4;
    hex_val(at(i))?;
    let mut first = hex_val(at(i));
    if at(i) == b'0' {
        while at(i + 1) == b'0' {
            i += 1;
        }
        i += 1;
        // CRuby's strchr also "finds" the terminating NUL (digit value 0).
        first = if i >= s.len() {
            Some(0)
        } else {
            hex_val(at(i))
        };
    }
    if let Some(mut v) = first {
        loop {
            adj += aadj * f64::from(v);
            nd0 = nd0.saturating_add(4);
            aadj /= 16.0;
            i += 1;
            match hex_val(at(i)) {
                Some(d) if at(i) != 0 => v = d,
                _ => break,
            }
        }
        i = i.min(s.len());
    }
    let dsign_frac = if at(i) == b'.' {
        i += 1;
        hex_val(at(i))?;
        if nd0 < 0 {
            while at(i) == b'0' {
                i += 1;
                nd0 = nd0.saturating_sub(4);
            }
        }
        while let Some(v) = hex_val(at(i)) {
            adj += aadj * f64::from(v);
            aadj /= 16.0;
            i += 1;
            if aadj == 0.0 {
                while hex_val(at(i)).is_some() {
                    i += 1;
                }
                break;
            }
        }
        true
    } else {
        false
    };
    if matches!(at(i), b'p' | b'P') {
        i += 1;
        let mut dsign: i64 = 1;
        match at(i) {
            b'+' => i += 1,
            b'-' => {
                dsign = -1;
                i += 1;
            }
            _ => {}
        }
        if !at(i).is_ascii_digit() {
            return None;
        }
        let mut nd: i64 = 0;
        while at(i).is_ascii_digit() {
            nd = nd
                .saturating_mul(10)
                .saturating_add(i64::from(at(i) - b'0'));
            i += 1;
            if nd.saturating_add(dsign.saturating_mul(nd0)) > 2095 {
                while at(i).is_ascii_digit() {
                    i += 1;
                }
                break;
            }
        }
        nd0 = nd0.saturating_add(nd.saturating_mul(dsign));
    } else if dsign_frac {
        return None;
    }
    Some((ldexp(adj, nd0), i))
}

/// `x × 2^e` with a single rounding (C `ldexp`), for `x` ≥ 1 or 0.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let pow2 = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    while e > 1023 {
        x *= pow2(1023);
        e -= 1023;
        if x.is_infinite() {
            return x;
        }
    }
    if e < -1022 {
        x *= pow2(-1022);
        e += 1022;
        if e < -1022 {
            return 0.0;
        }
    }
    x * pow2(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: f64) -> StackBuf<64> {
        let mut b = StackBuf::<64>::new();
        write_ruby_float(&mut b, x).unwrap();
        b
    }

    #[test]
    fn float_to_s_known_ruby_outputs() {
        let cases: &[(f64, &str)] = &[
            (1e16, "1.0e+16"),
            (1e15, "1.0e+15"),
            (1e14, "100000000000000.0"),
            (1e-5, "1.0e-05"),
            (1.23e-5, "1.23e-05"),
            (0.0001, "0.0001"),
            (0.001, "0.001"),
            (100.0, "100.0"),
            (1234567890123456.8, "1234567890123456.8"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (123456789012345.0, "123456789012345.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (10.0, "10.0"),
            (82.88, "82.88"),
            (-5.0, "-5.0"),
            (1e306, "1.0e+306"),
            (1e100, "1.0e+100"),
            (2.5e-300, "2.5e-300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (9007199254740992.0, "9.007199254740992e+15"),
            (1e22, "1.0e+22"),
            (5e-324, "5.0e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for &(x, want) in cases {
            assert_eq!(s(x).as_str(), want, "{x:e}");
        }
    }

    #[test]
    fn to_f_vectors() {
        let cases: &[(&str, f64)] = &[
            ("1_000.5", 1000.5),
            ("1e1_0", 1e10),
            ("0.1e1_0", 1e9),
            ("5.", 5.0),
            ("1e", 1.0),
            ("1,5", 1.0),
            ("\u{b}7", 7.0),
            ("0b1", 0.0),
            ("1.2e3.4", 1200.0),
            ("3e-2", 0.03),
            ("-.5", -0.5),
            (".e1", 0.0),
            ("1__2.5", 1.0),
            ("1.0e+2", 100.0),
            ("1E+2", 100.0),
            ("1_e2", 1.0),
            ("\t\r\n\u{c} 8", 8.0),
            ("0.125", 0.125),
            ("YES", 0.0),
            ("", 0.0),
            ("  12 \n", 12.0),
            ("12abc", 12.0),
            ("Infinity", 0.0),
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            ("1e-400", 0.0),
            ("0x1A", 0.0),
            ("-0x1A", -26.0),
            ("+0x1A", 26.0),
            ("-0x1p4", -16.0),
            ("-0x1.8", 0.0),
            ("-0x1.8p1", -3.0),
            ("1.e3", 1.0),
            (".5", 0.5),
            ("-", 0.0),
            ("- 5", 0.0),
            ("1 2", 1.0),
            ("12\u{0}34", 12.0),
            ("10.00000000000000001", 10.0),
            ("007", 7.0),
            ("1_000_000", 1e6),
            ("_1", 0.0),
            ("1_", 1.0),
            ("1e0_1", 10.0),
        ];
        for &(text, want) in cases {
            let got = str_to_f(text);
            assert!(
                got.to_bits() == want.to_bits() || (got == want && want != 0.0),
                "{text:?}: got {got:e}, want {want:e}"
            );
        }
    }

    #[test]
    fn to_f_huge_hex_exponents_do_not_overflow() {
        let mut text = [b'1'; 3000];
        text[..3].copy_from_slice(b"-0x");
        text[2000..2002].copy_from_slice(b"p-");
        let t = core::str::from_utf8(&text).unwrap();
        assert!(str_to_f(t) <= 0.0);
        text[2001] = b'+';
        let t = core::str::from_utf8(&text).unwrap();
        assert_eq!(str_to_f(t), f64::NEG_INFINITY);
    }

    #[test]
    fn to_f_long_inputs() {
        // 400 digits then junk: CRuby re-reads only the first 60 characters.
        let mut long = [b'1'; 401];
        long[400] = b'x';
        let t = core::str::from_utf8(&long).unwrap();
        assert_eq!(str_to_f(t), str_to_f(&t[..60]));
        // 400 digits alone are read in full.
        assert_eq!(str_to_f(&t[..300]), 1.111_111_111_111_111_2e299);
        assert_eq!(str_to_f(&t[..320]), f64::INFINITY);
    }
}
