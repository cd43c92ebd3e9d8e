//! Properties of the expression engine on random input: nothing panics,
//! display → parse is stable, `Float#to_s` round-trips, and an evaluation
//! agrees with a direct reading of the grammar's semantics.

use proptest::prelude::*;
use stamen_core::expr::{str_to_f, Expr, Node, ParseError, RubyFloat};

const TOKENS: &[&str] = &[
    " ",
    "A",
    "cpu",
    "'x'",
    "\"Y\"",
    "1",
    "-",
    "0",
    "12",
    ".",
    "5",
    "&&",
    "&",
    "||",
    "|",
    "!",
    "(",
    ")",
    "==",
    "=",
    "!=",
    "<>",
    ">=",
    ">",
    "<=",
    "<",
    "_",
    "\t",
    "\n",
    "é",
    "\u{2212}",
    "99999999999999999999999999999",
    "1.5",
    "-0.0",
    "e",
];

fn lookup(name: &str) -> Result<Option<f64>, ()> {
    Ok(match name {
        "A" => Some(10.0),
        "CPU" => Some(82.88),
        "'X'" => Some(-1.5),
        _ => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn token_soups_never_panic(tokens in proptest::collection::vec(0..TOKENS.len(), 0..30)) {
        let src: String = tokens.iter().map(|&i| TOKENS[i]).collect();
        let parsed = Expr::<'_, 32>::parse(&src);
        match parsed {
            Ok(e) => {
                let mut trace = String::new();
                let _ = e.eval_traced(&mut lookup, &mut trace);
                let _ = e.eval(&mut lookup);
                let _ = e.to_string();
                let _ = e.tree().to_string();
                let _ = e.variables().count();
            }
            Err(ParseError::Syntax(s)) => {
                let _ = s.to_string();
                let _ = s.oneflow_trace().to_string();
                prop_assert!(s.index() <= src.len());
            }
            Err(_) => {}
        };
    }

    #[test]
    fn arbitrary_strings_never_panic(src in ".{0,64}") {
        let parsed = Expr::<'_, 16>::parse(&src);
        if let Ok(e) = parsed {
            let _ = e.eval_traced(&mut lookup, &mut String::new());
        };
        let _ = str_to_f(&src);
    }

    #[test]
    fn display_then_parse_is_stable(tokens in proptest::collection::vec(0..TOKENS.len(), 1..30)) {
        let src: String = tokens.iter().map(|&i| TOKENS[i]).collect();
        let parsed = Expr::<'_, 64>::parse(&src);
        if let Ok(e) = parsed {
            let shown = e.to_string();
            let again = Expr::<'_, 64>::parse(&shown).expect("the display parses");
            prop_assert_eq!(again.tree().to_string(), e.tree().to_string());
            prop_assert_eq!(again.to_string(), shown.clone());
            let (mut t1, mut t2) = (String::new(), String::new());
            prop_assert_eq!(e.eval_traced(&mut lookup, &mut t1), again.eval_traced(&mut lookup, &mut t2));
            prop_assert_eq!(t1, t2);
        };
    }

    #[test]
    fn ruby_float_to_s_round_trips(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        let s = RubyFloat(x).to_string();
        if x.is_finite() {
            prop_assert_eq!(str_to_f(&s).to_bits(), x.to_bits(), "{}", s);
            prop_assert!(s.contains('.'), "{}", s);
        }
    }

    #[test]
    fn to_f_agrees_with_rust_on_plain_decimals(
        neg in any::<bool>(), int in "[0-9]{1,20}", frac in proptest::option::of("[0-9]{1,20}"),
        exp in proptest::option::of(-330i32..330),
    ) {
        let mut s = String::new();
        if neg { s.push('-'); }
        s.push_str(&int);
        if let Some(f) = &frac { s.push('.'); s.push_str(f); }
        if let Some(e) = exp { s.push_str(&format!("e{e}")); }
        let want: f64 = s.parse().unwrap();
        prop_assert_eq!(str_to_f(&s).to_bits(), want.to_bits(), "{}", s);
        // Junk after the number changes nothing.
        prop_assert_eq!(str_to_f(&format!("{s}qz")).to_bits(), want.to_bits());
    }

    #[test]
    fn evaluation_follows_the_grammar(
        parts in proptest::collection::vec((0..4usize, 0..8usize, 0..4usize, 0..4usize, any::<bool>()), 1..6),
    ) {
        // name, op, literal, joiner, negate
        let names = ["A", "CPU", "'x'", "MISSING"];
        let ops = ["==", "=", "!=", "<>", ">=", ">", "<=", "<"];
        let lits = ["10", "82.88", "-1.5", "100000000000000000000"];
        let joins = ["&&", "&", "||", "|"];
        let mut src = String::new();
        for (i, (n, op, l, j, neg)) in parts.iter().enumerate() {
            if i > 0 { src.push_str(&format!(" {} ", joins[*j])); }
            if *neg { src.push_str("!("); }
            src.push_str(&format!("{} {} {}", names[*n], ops[*op], lits[*l]));
            if *neg { src.push(')'); }
        }
        let e = Expr::<'_, 64>::parse(&src).unwrap();
        // Reference: right-grouped, no precedence, `!` reaching to the end; a
        // missing attribute makes its comparison false.
        let values = [Some(10.0), Some(82.88), Some(-1.5), None];
        let lit_values = [10.0, 82.88, -1.5, 1e20];
        let cmp = |n: usize, op: usize, l: usize| -> bool {
            let Some(a) = values[n] else { return false };
            let b = lit_values[l];
            match op { 0 | 1 => a == b, 2 | 3 => a != b, 4 => a >= b, 5 => a > b, 6 => a <= b, _ => a < b }
        };
        // The joiner before part i+1 is parts[i+1].3; group to the right.
        // `!` negates its group *and everything after it*.
        let mut acc2 = false;
        for i in (0..parts.len()).rev() {
            let (n, op, l, _, neg) = parts[i];
            let c = cmp(n, op, l);
            let combined = if i + 1 == parts.len() {
                c
            } else if parts[i + 1].3 < 2 {
                c && acc2
            } else {
                c || acc2
            };
            acc2 = combined != neg;
        }
        prop_assert_eq!(e.eval(&mut lookup), Ok(acc2), "{}", src);
        let shape_ok = e.nodes().iter().filter(|n| matches!(n, Node::Cmp { .. })).count() == parts.len();
        prop_assert!(shape_ok);
    }
}

#[test]
fn capacity_and_depth_errors_are_clear() {
    let deep = "(".repeat(100) + "A > 1" + &")".repeat(100);
    assert_eq!(
        Expr::<'_, 16>::parse(&deep).unwrap_err(),
        ParseError::TooComplex { capacity: 16 }
    );
    let long = ["A > 1"; 20].join(" && ");
    assert!(matches!(
        Expr::<'_, 8>::parse(&long),
        Err(ParseError::TooComplex { capacity: 8 })
    ));
    assert!(Expr::<'_, 64>::parse(&long).is_ok());
    let name = "a".repeat(300) + " > 1";
    assert!(matches!(
        Expr::<'_, 8>::parse(&name),
        Err(ParseError::NameTooLong {
            offset: 0,
            len: 300
        })
    ));
    let upper = "A".repeat(300) + " > 1";
    assert!(Expr::<'_, 8>::parse(&upper).is_ok());
    assert_eq!(Expr::<'_, 8>::parse("").unwrap_err(), ParseError::Empty);
}

#[test]
fn variables_in_source_order() {
    let e = Expr::<'_, 16>::parse("!(a > B) && 1 < c || \"D\" = 'e'").unwrap();
    let names: Vec<_> = e.variables().map(|v| v.text()).collect();
    assert_eq!(names, ["a", "B", "c", "\"D\"", "'e'"]);
    let upper: Vec<_> = e.variables().map(|v| v.to_string()).collect();
    assert_eq!(upper, ["A", "B", "C", "\"D\"", "'E'"]);
}

#[test]
fn traces_and_values() {
    let cases: &[(&str, bool, &str)] = &[
        ("A > 5", true, "A[10.0] > 5"),
        ("A == 010", true, "A[10.0] == 10"),
        ("-0 == 0", true, "0 == 0"),
        ("-0.0 == 0", true, "-0.0 == 0"),
        ("A > 1.50", true, "A[10.0] > 1.5"),
        (
            "cpu > 80 & missing < 1",
            false,
            "CPU[82.88] > 80 & MISSING[--] < 1",
        ),
        ("MISSING != 1", false, "MISSING[--] != 1"),
        ("!A > 5 && A > 100", true, "!A[10.0] > 5 && A[10.0] > 100"),
        ("'x' < 0", true, "'X'[-1.5] < 0"),
        (
            "10000000000000000000001 > 10000000000000000000000.0",
            true,
            "10000000000000000000001 > 1.0e+22",
        ),
        (
            "9007199254740993 > 9007199254740992.0",
            true,
            "9007199254740993 > 9.007199254740992e+15",
        ),
        ("0.00001 < 1", true, "1.0e-05 < 1"),
        ("(  A>5 )|A<0", true, "(A[10.0] > 5) | A[10.0] < 0"),
    ];
    for &(src, value, trace) in cases {
        let e = Expr::<'_, 16>::parse(src).unwrap();
        let mut t = String::new();
        assert_eq!(e.eval_traced(&mut lookup, &mut t), Ok(value), "{src}");
        assert_eq!(t, trace, "{src}");
        assert_eq!(e.eval(&mut lookup), Ok(value), "{src}");
    }
}

#[test]
fn full_trace_buffer_is_an_error_not_a_panic() {
    let e = Expr::<'_, 16>::parse("CPU > 80 && CPU > 80").unwrap();
    let mut small = heapless::String::<8>::new();
    assert_eq!(
        e.eval_traced(&mut lookup, &mut small),
        Err(stamen_core::expr::EvalError::Trace)
    );
}

/// Exact `int <=> f` from decimal expansions (`{:.1100}` prints every digit).
fn reference_cmp(int: &str, f: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::*;
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 { Less } else { Greater });
    }
    let a_neg = int.starts_with('-');
    let a_digits = int.trim_start_matches('-').trim_start_matches('0');
    let a_neg = a_neg && !a_digits.is_empty();
    let text = format!("{:.1100}", f.abs());
    let (ip, fp) = text.split_once('.').unwrap();
    let ip = ip.trim_start_matches('0');
    let f_zero = ip.is_empty() && fp.bytes().all(|b| b == b'0');
    let f_neg = f < 0.0 && !f_zero;
    let mag = a_digits
        .len()
        .cmp(&ip.len())
        .then_with(|| a_digits.cmp(ip))
        .then_with(|| {
            if fp.bytes().any(|b| b != b'0') {
                Less
            } else {
                Equal
            }
        });
    Some(match (a_neg, f_neg) {
        (false, true) => Greater,
        (true, false) => {
            if a_digits.is_empty() && f_zero {
                Equal
            } else {
                Less
            }
        }
        (false, false) => mag,
        (true, true) => mag.reverse(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn integers_compare_exactly_with_floats(
        neg in any::<bool>(),
        digits in "[0-9]{1,40}",
        f in prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            (-1e40f64..1e40),
            (-1e20f64..1e20).prop_map(f64::trunc),
            (0u64..u64::MAX).prop_map(|v| v as f64),
        ],
        nudge in -2i32..3,
    ) {
        let int = format!("{}{}", if neg { "-" } else { "" }, digits);
        // Often compare against the float nearest the integer itself.
        let f = if nudge == 0 { int.parse::<f64>().unwrap() } else { f };
        let want = reference_cmp(&int, f);
        for (op, pred) in [
            ("==", want == Some(std::cmp::Ordering::Equal)),
            ("!=", want != Some(std::cmp::Ordering::Equal)),
            (">", want == Some(std::cmp::Ordering::Greater)),
            ("<", want == Some(std::cmp::Ordering::Less)),
            (">=", matches!(want, Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal))),
            ("<=", matches!(want, Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal))),
        ] {
            let src = format!("{int} {op} X");
            let e = Expr::<'_, 4>::parse(&src).unwrap();
            let mut r = |_: &str| -> Result<Option<f64>, ()> { Ok(Some(f)) };
            prop_assert_eq!(e.eval(&mut r), Ok(pred), "{} with X = {:e}", src, f);
        }
    }
}
