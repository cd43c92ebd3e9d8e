//! Ruby's exact comparisons between Integer and Float values.

use core::cmp::Ordering;

use super::ruby::StackBuf;
use super::IntLit;

/// A value as OneFlow compares it: an Integer literal or a Float.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Int(&'a IntLit<'a>),
    Float(f64),
}

/// `a <=> b` with Ruby's semantics (`None` when a NaN is involved).
pub(crate) fn compare(a: Value<'_>, b: Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(int_int(x, y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(&y),
        (Value::Int(x), Value::Float(y)) => int_float(x, y),
        (Value::Float(x), Value::Int(y)) => int_float(y, x).map(Ordering::reverse),
    }
}

fn magnitude(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn int_int(a: &IntLit<'_>, b: &IntLit<'_>) -> Ordering {
    match (a.neg, b.neg) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude(a.digits.as_bytes(), b.digits.as_bytes()),
        (true, true) => magnitude(b.digits.as_bytes(), a.digits.as_bytes()),
    }
}

/// 2^63 as an `f64` (exact).
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

fn int_float(a: &IntLit<'_>, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f == f64::INFINITY {
        return Some(Ordering::Less);
    }
    if f == f64::NEG_INFINITY {
        return Some(Ordering::Greater);
    }
    if let Some(v) = a.small {
        if f >= TWO_63 {
            return Some(Ordering::Less);
        }
        if f < -TWO_63 {
            return Some(Ordering::Greater);
        }
        // |f| ≤ 2^63: truncation to i64 is exact, and so is the fraction.
        let t = f as i64;
        return Some(match v.cmp(&t) {
            Ordering::Equal => {
                let frac = f - t as f64;
                0.0f64.partial_cmp(&frac).unwrap_or(Ordering::Equal)
            }
            o => o,
        });
    }
    // |a| ≥ 10^18 (more than 18 digits).
    let f_neg = f < 0.0;
    if a.neg != f_neg || f.abs() < 1e18 {
        return Some(if a.neg {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    // Same sign, |f| ≥ 1e18 is an integer: compare exact decimal expansions.
    let mut buf = StackBuf::<320>::new();
    if core::fmt::Write::write_fmt(&mut buf, format_args!("{:.0}", f.abs())).is_err() {
        return None;
    }
    let m = magnitude(a.digits.as_bytes(), buf.as_bytes());
    Some(if a.neg { m.reverse() } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(text: &'static str) -> IntLit<'static> {
        let neg = text.starts_with('-');
        let digits = text.trim_start_matches('-').trim_start_matches('0');
        let small = if digits.len() <= 18 {
            digits.parse::<i64>().ok().or(Some(0))
        } else {
            None
        };
        let neg = neg && !digits.is_empty();
        IntLit {
            text,
            neg,
            digits,
            small: small.map(|v| if neg { -v } else { v }),
        }
    }

    const TWO_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

    #[test]
    fn exact_int_float() {
        use Ordering::*;
        let cases: &[(&'static str, f64, Option<Ordering>)] = &[
            ("9007199254740993", 9007199254740992.0, Some(Greater)),
            ("9007199254740992", 9007199254740992.0, Some(Equal)),
            ("10000000000000000000001", 1e22, Some(Greater)),
            ("10000000000000000000000", 1e22, Some(Equal)),
            ("100000000000000000000", 1e20, Some(Equal)),
            ("1", 1.5, Some(Less)),
            ("2", 1.5, Some(Greater)),
            ("-1", -0.5, Some(Less)),
            ("-1", -1.5, Some(Greater)),
            ("0", -0.0, Some(Equal)),
            ("-0", 0.0, Some(Equal)),
            ("5", f64::NAN, None),
            ("5", f64::INFINITY, Some(Less)),
            ("-5", f64::NEG_INFINITY, Some(Greater)),
            (
                "1000000000000000000000000000000000000000000000000000000000000",
                1e60,
                Some(Greater),
            ),
            (
                "170141183460469231731687303715884105728",
                TWO_127,
                Some(Equal),
            ),
            (
                "170141183460469231731687303715884105727",
                TWO_127,
                Some(Less),
            ),
            (
                "-170141183460469231731687303715884105728",
                -TWO_127,
                Some(Equal),
            ),
            (
                "-170141183460469231731687303715884105729",
                -TWO_127,
                Some(Less),
            ),
            (
                "99999999999999999999999999999999999999",
                1e38,
                Some(Greater),
            ),
            (
                "100000000000000000000000000000000000000",
                1e38,
                Some(Greater),
            ),
            ("99999999999999997748809823456034029568", 1e38, Some(Equal)),
            (
                "-1000000000000000000000000000000000000000000",
                1e3,
                Some(Less),
            ),
            (
                "1000000000000000000000000000000000000000000",
                -1e300,
                Some(Greater),
            ),
        ];
        for &(a, f, want) in cases {
            let lit = int(a);
            assert_eq!(
                compare(Value::Int(&lit), Value::Float(f)),
                want,
                "{a} vs {f:e}"
            );
            assert_eq!(
                compare(Value::Float(f), Value::Int(&lit)),
                want.map(Ordering::reverse),
                "{f:e} vs {a}"
            );
        }
    }

    #[test]
    fn exact_int_int() {
        use Ordering::*;
        let cases = [
            ("10", "010", Equal),
            ("-0", "0", Equal),
            ("-5", "-10", Greater),
            ("100000000000000000000000000000000000000000", "99", Greater),
            ("-100000000000000000000000000000000000000000", "-99", Less),
        ];
        for (a, b, want) in cases {
            let (a, b) = (int(a), int(b));
            assert_eq!(compare(Value::Int(&a), Value::Int(&b)), Some(want));
        }
    }
}
