//! The fast parser against a slow, obviously-faithful model of Treetop.
//!
//! The model transliterates the parser Treetop generates for OneFlow's
//! `grammar.treetop` (`src/flow/lib/grammar.rb`) and Treetop's runtime
//! (`CompiledParser#parse`, `terminal_parse_failure`, `failure_reason`):
//! every rule memoized per (rule, index) in a hash map, failures recorded in a
//! raw list, the input indexed by characters. On random token soups, both
//! must agree on success, tree, failure index and failure reason.

use proptest::prelude::*;
use stamen_core::expr::{Expr, ParseError};
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Rule {
    Expression,
    BooleanExp,
    LogicCond,
    CompOp,
    Operand,
    Number,
    Variable,
    Space,
}

type Res = Option<String>;

struct Treetop {
    input: Vec<char>,
    index: usize,
    cache: HashMap<(Rule, usize), Option<(usize, String)>>,
    max_fail: usize,
    failures: Vec<(usize, String, bool)>,
}

impl Treetop {
    fn new(s: &str) -> Self {
        Self {
            input: s.chars().collect(),
            index: 0,
            cache: HashMap::new(),
            max_fail: 0,
            failures: Vec::new(),
        }
    }

    fn terminal_parse_failure(&mut self, expected: &str, unexpected: bool) {
        if self.index < self.max_fail {
            return;
        }
        if self.index > self.max_fail {
            self.max_fail = self.index;
            self.failures.clear();
        }
        self.failures
            .push((self.index, expected.to_string(), unexpected));
    }

    fn has(&mut self, t: &str, expected: &str) -> bool {
        let t: Vec<char> = t.chars().collect();
        if self.input.get(self.index..self.index + t.len()) == Some(&t[..]) {
            self.index += t.len();
            true
        } else {
            self.terminal_parse_failure(expected, false);
            false
        }
    }

    fn class(&mut self, pred: fn(char) -> bool, expected: &str) -> bool {
        if self.input.get(self.index).is_some_and(|&c| pred(c)) {
            self.index += 1;
            true
        } else {
            self.terminal_parse_failure(expected, false);
            false
        }
    }

    fn memo(&mut self, rule: Rule, f: fn(&mut Self) -> Res) -> Res {
        let start = self.index;
        if let Some(cached) = self.cache.get(&(rule, start)) {
            return match cached.clone() {
                Some((end, tree)) => {
                    self.index = end;
                    Some(tree)
                }
                None => None,
            };
        }
        let r = f(self);
        if r.is_none() {
            self.index = start;
        }
        self.cache
            .insert((rule, start), r.clone().map(|t| (self.index, t)));
        r
    }

    fn space(&mut self) -> Res {
        self.memo(Rule::Space, |p| {
            while p.has(" ", "' '") {}
            Some(String::new())
        })
    }

    fn expression(&mut self) -> Res {
        self.memo(Rule::Expression, |p| {
            p.space()?;
            let e = match p.boolean_exp() {
                Some(e) => e,
                None => p.logic_cond()?,
            };
            p.space()?;
            Some(e)
        })
    }

    fn boolean_exp(&mut self) -> Res {
        self.memo(Rule::BooleanExp, |p| {
            let i0 = p.index;
            for (name, long, long_e, short, short_e) in [
                ("and", "&&", "'&&'", "&", "'&'"),
                ("or", "||", "'||'", "|", "'|'"),
            ] {
                p.index = i0;
                let Some(l) = p.logic_cond() else { continue };
                p.space();
                if !(p.has(long, long_e) || p.has(short, short_e)) {
                    continue;
                }
                p.space();
                if let Some(r) = p.expression() {
                    return Some(format!("({name} {l} {r})"));
                }
            }
            None
        })
    }

    fn logic_cond(&mut self) -> Res {
        self.memo(Rule::LogicCond, |p| {
            let i0 = p.index;
            if let Some(l) = p.operand() {
                p.space();
                if let Some(op) = p.comp_op() {
                    p.space();
                    if let Some(r) = p.operand() {
                        return Some(format!("({op} {l} {r})"));
                    }
                }
            }
            p.index = i0;
            if p.has("!", "'!'") {
                p.space();
                if let Some(e) = p.expression() {
                    return Some(format!("(not {e})"));
                }
            }
            p.index = i0;
            if p.has("(", "'('") {
                p.space();
                if let Some(e) = p.expression() {
                    p.space();
                    if p.has(")", "')'") {
                        return Some(format!("(paren {e})"));
                    }
                }
            }
            None
        })
    }

    fn comp_op(&mut self) -> Res {
        self.memo(Rule::CompOp, |p| {
            for op in ["==", "=", "!=", "<>", ">=", ">", "<=", "<"] {
                if p.has(op, &format!("'{op}'")) {
                    return Some(op.to_string());
                }
            }
            None
        })
    }

    fn operand(&mut self) -> Res {
        self.memo(Rule::Operand, |p| match p.number() {
            Some(n) => Some(n),
            None => p.variable(),
        })
    }

    fn digits(&mut self) -> bool {
        let mut n = 0;
        while self.class(|c| c.is_ascii_digit(), "[0-9]") {
            n += 1;
        }
        n > 0
    }

    fn text(&self, from: usize) -> String {
        self.input[from..self.index].iter().collect()
    }

    fn number(&mut self) -> Res {
        self.memo(Rule::Number, |p| {
            let i0 = p.index;
            p.has("-", "'-'");
            if p.digits() && p.has(".", "'.'") && p.digits() {
                return Some(format!("float:{}", p.text(i0)));
            }
            p.index = i0;
            p.has("-", "'-'");
            if p.digits() {
                return Some(format!("int:{}", p.text(i0)));
            }
            None
        })
    }

    fn variable(&mut self) -> Res {
        self.memo(Rule::Variable, |p| {
            let i0 = p.index;
            for (q, e) in [("\"", "'\"'"), ("'", "'\\''")] {
                p.index = i0;
                if p.has(q, e) && p.class(|c| c.is_ascii_alphabetic(), "[a-zA-Z]") {
                    while p.class(|c| c.is_ascii_alphanumeric() || c == '_', "[0-9a-zA-Z_]") {}
                    if p.has(q, e) {
                        return Some(format!("var:{}", p.text(i0)));
                    }
                }
            }
            p.index = i0;
            if p.class(|c| c.is_ascii_alphabetic(), "[a-zA-Z]") {
                while p.class(|c| c.is_ascii_alphanumeric() || c == '_', "[0-9a-zA-Z_]") {}
                return Some(format!("var:{}", p.text(i0)));
            }
            None
        })
    }

    /// `Ok(tree)` or `Err((failure_index, failure_reason))`.
    fn parse(mut self) -> Result<String, (usize, String)> {
        let r = self.expression();
        if let Some(t) = &r {
            if self.index == self.input.len() {
                return Ok(t.clone());
            }
            if self.index > self.max_fail {
                self.terminal_parse_failure("<END OF INPUT>", true);
            }
        }
        let tf = &self.failures;
        let fmt = |f: &(usize, String, bool)| {
            format!("{}{}", if f.2 { "something other than " } else { "" }, f.1)
        };
        let mut uniq: Vec<String> = Vec::new();
        for f in tf {
            let s = fmt(f);
            if !uniq.contains(&s) {
                uniq.push(s);
            }
        }
        let list = if tf.len() == 1 {
            fmt(&tf[0])
        } else {
            format!("one of {}", uniq.join(", "))
        };
        let fi = self.max_fail;
        let line = self.input[..fi].iter().filter(|&&c| c == '\n').count() + 1;
        let column = match self.input[..fi].iter().rposition(|&c| c == '\n') {
            Some(nl) => fi - nl,
            None => fi + 1,
        };
        let mut reason = format!(
            "Expected {list} at line {line}, column {column} (byte {})",
            fi + 1
        );
        if fi > 0 {
            let from = self.index.min(fi);
            reason.push_str(" after ");
            reason.extend(self.input[from..fi].iter());
        }
        Err((fi, reason))
    }
}

fn ours(src: &str) -> Option<Result<String, (usize, String)>> {
    match Expr::<'_, 256>::parse(src) {
        Ok(e) => Some(Ok(e.tree().to_string())),
        Err(ParseError::Syntax(e)) => Some(Err((e.index(), e.to_string()))),
        Err(_) => None,
    }
}

fn check(src: &str) {
    if src.is_empty() {
        return;
    }
    let want = Treetop::new(src).parse();
    let got = ours(src).expect("within capacity");
    assert_eq!(got, want, "expression {src:?}");
}

#[test]
fn model_agrees_on_the_vectors_expressions() {
    let cases = include_str!("../../tests/vectors/oneflow/expr-cases.jsonl");
    let mut n = 0;
    for line in cases.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(src) = v["expr"].as_str() {
            check(src);
            n += 1;
        }
    }
    assert!(n > 150);
}

#[test]
fn model_agrees_on_hand_picked_cases() {
    for src in [
        "-A > 1",
        "- A > 1",
        "--1 > 1",
        "1.5.5 > 1",
        "!(A > 1) x",
        "(A>1) x",
        "\"A\" > 'b'",
        "\"A' > 1",
        "A > 1 && ",
        "A > 1 &&",
        "((A > 1)",
        "! (A > 1) ||",
        "A > 1 ) ",
        "A -",
        "A\n> 1",
        "A > 1\n&& B",
        "é > 1",
        "A > é",
        "A>1&&B>2||!(C<=3)&D<>4|E==5",
        "1 = -",
        "-",
        " ",
        "A > 1 &&  ",
    ] {
        check(src);
    }
}

const TOKENS: &[&str] = &[
    " ", "  ", "A", "b", "CPU", "x_1", "1", "-", "0", "12", ".", "5", "&&", "&", "||", "|", "!",
    "(", ")", "==", "=", "!=", "<>", ">=", ">", "<=", "<", "\"", "'", "_", "\t", "\n", "é",
    "\u{2212}", "+", "e",
];

/// Tokens that build nesting (`!`, parentheses, chains) around comparisons.
const STRUCTURAL: &[&str] = &[
    "!",
    "! ",
    "(",
    ")",
    " ) ",
    "&",
    "&&",
    "|",
    "||",
    " ",
    "A>1",
    "b <= -2.5",
    "'",
    "x",
    "1",
];

proptest! {
    // More with EXPR_MODEL_CASES=200000.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("EXPR_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn model_agrees_on_token_soups(tokens in proptest::collection::vec(0..TOKENS.len(), 1..14)) {
        let src: String = tokens.iter().map(|&i| TOKENS[i]).collect();
        check(&src);
    }

    #[test]
    fn model_agrees_on_deep_structural_soups(tokens in proptest::collection::vec(0..STRUCTURAL.len(), 1..40)) {
        let src: String = tokens.iter().map(|&i| STRUCTURAL[i]).collect();
        check(&src);
    }

    #[test]
    fn model_agrees_on_near_valid_expressions(
        parts in proptest::collection::vec((0..6usize, 0..8usize, 0..6usize, 0..4usize), 1..5),
        mutate in proptest::option::of((0..40usize, 0..TOKENS.len())),
    ) {
        let operands = ["A", "cpu", "-1", "2.50", "'q'", "0010"];
        let ops = ["==", "=", "!=", "<>", ">=", ">", "<=", "<"];
        let joins = ["&&", "&", "||", "|"];
        let mut src = String::new();
        for (i, (l, op, r, j)) in parts.iter().enumerate() {
            if i > 0 {
                src.push_str(&format!(" {} ", joins[*j]));
            }
            if j % 2 == 0 { src.push('('); }
            src.push_str(&format!("{} {} {}", operands[*l], ops[*op], operands[*r]));
            if j % 2 == 0 { src.push(')'); }
        }
        if let Some((at, tok)) = mutate {
            let at = at.min(src.len());
            if src.is_char_boundary(at) {
                src.insert_str(at, TOKENS[tok]);
            }
        }
        check(&src);
    }
}
