//! OneFlow expressions end to end: parse, print, parse the print again (the
//! same tree), evaluate with and without a trace (the same answer), and turn
//! every error into text. Attribute values come from the input's tail so the
//! evaluator sees missing, negative, huge, NaN and infinite averages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamen_core::expr::{Expr, ParseError};

/// Splits `data` at the first NUL: expression before, attribute bytes after.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn value_for(name: &str, seed: &[u8]) -> Option<f64> {
    if seed.is_empty() {
        return Some(name.len() as f64);
    }
    let h = name
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    let i = h % seed.len();
    let mut raw = [0u8; 8];
    for (k, slot) in raw.iter_mut().enumerate() {
        *slot = seed.get(i + k).copied().unwrap_or(0);
    }
    match seed[i] % 4 {
        0 => None,
        1 => Some(f64::from_le_bytes(raw)),
        2 => Some(i64::from(seed[i] as i8) as f64 / 4.0),
        _ => Some(stamen_core::expr::bytes_to_f(&seed[i..])),
    }
}

fuzz_target!(|data: &[u8]| {
    let (src, seed) = split(data);
    let Ok(src) = std::str::from_utf8(src) else {
        return;
    };
    match Expr::<64>::parse(src) {
        Ok(e) => {
            let printed = e.to_string();
            let again = Expr::<64>::parse(&printed)
                .unwrap_or_else(|err| panic!("printed form {printed:?} does not parse: {err}"));
            assert_eq!(again.tree().to_string(), e.tree().to_string());
            assert_eq!(again.to_string(), printed, "printing is a fixed point");

            let mut plain = |n: &str| Ok::<_, ()>(value_for(n, seed));
            let a = e.eval(&mut plain);
            let mut traced = |n: &str| Ok::<_, ()>(value_for(n, seed));
            let mut trace = String::new();
            let b = e.eval_traced(&mut traced, &mut trace);
            assert_eq!(a, b, "tracing changes nothing");
            assert!(!trace.is_empty());
            for v in e.variables() {
                let _ = v.with_lookup_name(|n| n.len());
            }
        }
        Err(ParseError::Syntax(s)) => {
            let text = s.oneflow_trace().to_string();
            assert!(text.starts_with("Parse error. '"));
            assert!(s.column() >= 1);
            let _ = (s.expected(), s.line(), s.after());
        }
        Err(other) => {
            let _ = other.to_string();
        }
    }
});
