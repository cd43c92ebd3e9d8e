//! The few Ruby conversions OneFlow applies to policy fields, reproduced exactly.
//!
//! OneFlow reads numbers out of JSON documents with `to_i` and compares type
//! names after `upcase`, so a policy with `"adjust": "2x"` or `"type": "change"`
//! behaves in a well-defined (if surprising) way. These helpers give the same
//! answers without allocating.

/// `String#to_i` with base 10: optional leading whitespace, an optional sign,
/// then digits where single underscores may separate digits. Anything else ends
/// the number; no digits gives 0. Values beyond `i64` saturate (Ruby would
/// switch to a Bignum; no realistic policy gets there).
pub fn str_to_i(s: &str) -> i64 {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(c) = b.get(i) {
        // Ruby's `rb_isspace`: space, \t, \n, \v, \f, \r.
        if matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            i += 1;
        } else {
            break;
        }
    }
    let mut negative = false;
    if let Some(c) = b.get(i) {
        if *c == b'-' || *c == b'+' {
            negative = *c == b'-';
            i += 1;
        }
    }
    let mut value: i64 = 0;
    let mut seen_digit = false;
    while let Some(c) = b.get(i) {
        if c.is_ascii_digit() {
            let d = i64::from(c - b'0');
            value = if negative {
                value.saturating_mul(10).saturating_sub(d)
            } else {
                value.saturating_mul(10).saturating_add(d)
            };
            seen_digit = true;
            i += 1;
        } else if *c == b'_' && seen_digit && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
        } else {
            break;
        }
    }
    value
}

/// `Float#to_i`: truncation toward zero. `None` where Ruby raises
/// `FloatDomainError` (NaN, ±Infinity); values beyond `i64` saturate.
pub fn float_to_i(x: f64) -> Option<i64> {
    if x.is_finite() {
        // `as` saturates at the i64 bounds and truncates toward zero.
        Some(x as i64)
    } else {
        None
    }
}

/// Whether `name.upcase == upper` in Ruby, where `upper` is ASCII upper case:
/// full Unicode case mapping, so `"cardınalıty"` (dotless i) matches
/// `"CARDINALITY"` just as it does in Ruby.
pub fn upcase_eq(name: &str, upper: &str) -> bool {
    let mut expected = upper.chars();
    for c in name.chars().flat_map(char::to_uppercase) {
        if expected.next() != Some(c) {
            return false;
        }
    }
    expected.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_i_matches_ruby() {
        assert_eq!(str_to_i("2"), 2);
        assert_eq!(str_to_i("  -12abc"), -12);
        assert_eq!(str_to_i("+7"), 7);
        assert_eq!(str_to_i("1_000"), 1000);
        assert_eq!(str_to_i("1__0"), 1);
        assert_eq!(str_to_i("_1"), 0);
        assert_eq!(str_to_i("abc"), 0);
        assert_eq!(str_to_i(""), 0);
        assert_eq!(str_to_i("- 1"), 0);
        assert_eq!(str_to_i("99999999999999999999999"), i64::MAX);
        assert_eq!(str_to_i("-99999999999999999999999"), i64::MIN);
    }

    #[test]
    fn float_to_i_truncates() {
        assert_eq!(float_to_i(2.9), Some(2));
        assert_eq!(float_to_i(-2.9), Some(-2));
        assert_eq!(float_to_i(f64::NAN), None);
        assert_eq!(float_to_i(f64::INFINITY), None);
    }

    #[test]
    fn upcase_is_unicode_aware() {
        assert!(upcase_eq("change", "CHANGE"));
        assert!(upcase_eq("Percentage_Change", "PERCENTAGE_CHANGE"));
        assert!(upcase_eq("cardınalıty", "CARDINALITY"));
        assert!(!upcase_eq("chang", "CHANGE"));
        assert!(!upcase_eq("changes", "CHANGE"));
    }
}
