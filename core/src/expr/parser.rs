//! OneFlow's Treetop grammar, parsed the way Treetop's generated parser does
//! it, including its failure bookkeeping (`terminal_parse_failure`): the
//! furthest index at which a terminal failed and, in order, the distinct
//! terminals that failed there.
//!
//! Treetop memoizes every rule per input index. Memoization never changes a
//! PEG's result, and the failures a re-run would record are duplicates of ones
//! already recorded at an index that cannot exceed the furthest one (and the
//! report lists each terminal once), so this parser only has to avoid the
//! exponential re-parsing: `logic_cond` is parsed once and shared by the three
//! alternatives that start with it.
//!
//! One re-invocation still happens with this grammar: when `!` swallows an
//! expression that stops before a `&`/`|` whose right side fails, every
//! enclosing level tries that operator again and calls `expression` at the
//! same index. Treetop answers from its memo (recording nothing); this parser
//! remembers the indices where `expression` failed and does the same (a
//! succeeded `expression` is never asked again: the caller would have gone
//! past it).
//!
//! One detail depends on duplicates: Treetop writes `Expected one of X` rather
//! than `Expected X` when its raw list has several entries, even if they are
//! all the same terminal (`-A` fails on `[0-9]` in both alternatives of
//! `number`, which are terminals and not memoized). The only duplicates that
//! memoization suppresses and this parser does not are `' '` failures (from
//! `space` called again at the same index), and those can only matter when
//! `' '` is the sole expected terminal — which never happens, since every
//! `space` is followed by another terminal at the same index. So counting
//! every recorded failure gives Treetop's decision.

use super::ruby::str_to_f;
use super::{
    BoolOp, CmpOp, Expr, FloatLit, IntLit, Node, NodeId, Operand, ParseError, SyntaxError,
    Terminal, Var, MAX_EXPECTED, MAX_NAME_LEN,
};

struct Parser<'src, 'e, const N: usize> {
    src: &'src str,
    b: &'src [u8],
    pos: usize,
    max_fail: usize,
    expected: [Terminal; MAX_EXPECTED],
    n_expected: usize,
    /// Failures recorded at `max_fail`, duplicates included (Treetop says
    /// "one of" whenever its raw list has more than one entry).
    n_raw: usize,
    nodes: &'e mut heapless::Vec<Node<'src>, N>,
    /// Bit `t` set when terminal `t` is in `expected`.
    seen: u32,
    /// Start indices where `expression` failed (Treetop's memo of them).
    failed_expressions: heapless::Vec<usize, N>,
    depth: usize,
    too_complex: bool,
    name_too_long: Option<(usize, usize)>,
}

pub(super) fn parse<'src, const N: usize>(
    src: &'src str,
) -> Result<Expr<'src, N>, ParseError<'src>> {
    if src.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut expr = Expr::from_parts(src, heapless::Vec::new(), NodeId(0));
    let mut p = Parser::<N> {
        src,
        b: src.as_bytes(),
        pos: 0,
        max_fail: 0,
        expected: [Terminal::Space; MAX_EXPECTED],
        n_expected: 0,
        n_raw: 0,
        nodes: expr.nodes_mut(),
        seen: 0,
        failed_expressions: heapless::Vec::new(),
        depth: 0,
        too_complex: false,
        name_too_long: None,
    };
    let root = p.expression();
    if p.too_complex || N > usize::from(u16::MAX) {
        return Err(ParseError::TooComplex { capacity: N });
    }
    match root {
        Some(root) if p.pos == p.b.len() => {
            if let Some((offset, len)) = p.name_too_long {
                return Err(ParseError::NameTooLong { offset, len });
            }
            expr.set_root(root);
            Ok(expr)
        }
        _ => {
            let after_from = if root.is_some() {
                // Treetop: input left over after a complete expression.
                if p.pos > p.max_fail {
                    p.fail(Terminal::EndOfInput);
                }
                p.pos
            } else {
                0
            };
            let mut expected = [Terminal::Space; MAX_EXPECTED];
            for (d, s) in expected.iter_mut().zip(p.expected.iter()) {
                *d = *s;
            }
            Err(ParseError::Syntax(SyntaxError {
                src,
                index: p.max_fail,
                after_from,
                expected,
                n_expected: p.n_expected as u8,
                several: p.n_raw > 1,
            }))
        }
    }
}

const fn is_letter(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

const fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

const fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

impl<'src, const N: usize> Parser<'src, '_, N> {
    /// Treetop's `terminal_parse_failure` at the current index.
    fn fail(&mut self, t: Terminal) {
        if self.pos < self.max_fail {
            return;
        }
        if self.pos > self.max_fail {
            self.max_fail = self.pos;
            self.n_expected = 0;
            self.n_raw = 0;
            self.seen = 0;
        }
        self.n_raw = self.n_raw.saturating_add(1);
        let bit = 1u32 << (t as u32 & 31);
        if self.seen & bit == 0 {
            self.seen |= bit;
            if let Some(slot) = self.expected.get_mut(self.n_expected) {
                *slot = t;
                self.n_expected += 1;
            }
        }
    }

    fn lit(&mut self, s: &[u8], t: Terminal) -> bool {
        let at = |i: usize| self.b.get(self.pos + i);
        // Terminals are one or two bytes: compare inline (no memcmp call).
        let matched = match s {
            [a] => at(0) == Some(a),
            [a, b] => at(0) == Some(a) && at(1) == Some(b),
            _ => self
                .b
                .get(self.pos..)
                .is_some_and(|rest| rest.starts_with(s)),
        };
        if matched {
            self.pos += s.len();
            true
        } else {
            self.fail(t);
            false
        }
    }

    fn class(&mut self, pred: fn(u8) -> bool, t: Terminal) -> bool {
        if self.b.get(self.pos).is_some_and(|&c| pred(c)) {
            self.pos += 1;
            true
        } else {
            self.fail(t);
            false
        }
    }

    /// `class*`; returns how many matched.
    fn star(&mut self, pred: fn(u8) -> bool, t: Terminal) -> usize {
        let mut n = 0;
        while self.class(pred, t) {
            n += 1;
        }
        n
    }

    fn space(&mut self) {
        while self.lit(b" ", Terminal::Space) {}
    }

    fn push(&mut self, node: Node<'src>) -> Option<NodeId> {
        let id = u16::try_from(self.nodes.len()).ok();
        match id {
            Some(id) if self.nodes.push(node).is_ok() => Some(NodeId(id)),
            _ => {
                self.too_complex = true;
                None
            }
        }
    }

    /// `expression = space (boolean_exp / logic_cond) space`
    fn expression(&mut self) -> Option<NodeId> {
        if self.too_complex {
            return None;
        }
        if self.depth >= N {
            self.too_complex = true;
            return None;
        }
        let start = self.pos;
        if self.failed_expressions.contains(&start) {
            return None;
        }
        self.depth += 1;
        let mark = self.nodes.len();
        self.space();
        let r = self.boolean_or_logic();
        let r = match r {
            Some(id) => {
                self.space();
                Some(id)
            }
            None => {
                self.pos = start;
                self.nodes.truncate(mark);
                let _ = self.failed_expressions.push(start);
                None
            }
        };
        self.depth -= 1;
        r
    }

    /// `boolean_exp / logic_cond`, where
    /// `boolean_exp = logic_cond space ('&&' / '&') space expression
    ///              / logic_cond space ('||' / '|') space expression`.
    fn boolean_or_logic(&mut self) -> Option<NodeId> {
        let start = self.pos;
        let left = match self.logic_cond() {
            Some(l) => l,
            None => {
                self.pos = start;
                return None;
            }
        };
        let after_left = self.pos;
        let mark = self.nodes.len();
        let alternatives = [
            (
                b"&&" as &[u8],
                Terminal::AndAnd,
                BoolOp::AndAnd,
                b"&" as &[u8],
                Terminal::And,
                BoolOp::And,
            ),
            (
                b"||",
                Terminal::OrOr,
                BoolOp::OrOr,
                b"|",
                Terminal::Or,
                BoolOp::Or,
            ),
        ];
        for (long, long_t, long_op, short, short_t, short_op) in alternatives {
            self.pos = after_left;
            self.space();
            let op = if self.lit(long, long_t) {
                Some(long_op)
            } else if self.lit(short, short_t) {
                Some(short_op)
            } else {
                None
            };
            if let Some(op) = op {
                self.space();
                if let Some(right) = self.expression() {
                    return self.push(Node::Bool { op, left, right });
                }
            }
            self.nodes.truncate(mark);
            if self.too_complex {
                return None;
            }
        }
        self.pos = after_left;
        Some(left)
    }

    /// `logic_cond = operand space comp_op space operand
    ///             / '!' space expression
    ///             / '(' space expression space ')'`
    fn logic_cond(&mut self) -> Option<NodeId> {
        let start = self.pos;
        let mark = self.nodes.len();
        if let Some(left) = self.operand() {
            self.space();
            if let Some(op) = self.comp_op() {
                self.space();
                if let Some(right) = self.operand() {
                    return self.push(Node::Cmp { op, left, right });
                }
            }
        }
        self.pos = start;
        if self.lit(b"!", Terminal::Bang) {
            self.space();
            if let Some(e) = self.expression() {
                return self.push(Node::Not(e));
            }
        }
        self.pos = start;
        self.nodes.truncate(mark);
        if self.lit(b"(", Terminal::OpenParen) {
            self.space();
            if let Some(e) = self.expression() {
                self.space();
                if self.lit(b")", Terminal::CloseParen) {
                    return self.push(Node::Paren(e));
                }
            }
        }
        self.pos = start;
        self.nodes.truncate(mark);
        None
    }

    /// `comp_op = ('==' / '=') / ('!=' / '<>') / '>=' / '>' / '<=' / '<'`
    fn comp_op(&mut self) -> Option<CmpOp> {
        let ops: [(&[u8], Terminal, CmpOp); 8] = [
            (b"==", Terminal::EqEq, CmpOp::EqEq),
            (b"=", Terminal::Eq, CmpOp::Eq),
            (b"!=", Terminal::Ne, CmpOp::Ne),
            (b"<>", Terminal::LtGt, CmpOp::LtGt),
            (b">=", Terminal::Ge, CmpOp::Ge),
            (b">", Terminal::Gt, CmpOp::Gt),
            (b"<=", Terminal::Le, CmpOp::Le),
            (b"<", Terminal::Lt, CmpOp::Lt),
        ];
        ops.into_iter()
            .find(|&(text, t, _)| self.lit(text, t))
            .map(|(_, _, op)| op)
    }

    /// `operand = number / variable`
    fn operand(&mut self) -> Option<Operand<'src>> {
        if let Some(n) = self.number() {
            return Some(n);
        }
        self.variable()
    }

    fn text(&self, start: usize) -> &'src str {
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// `number = '-'? [0-9]+ '.' [0-9]+ / '-'? [0-9]+`
    fn number(&mut self) -> Option<Operand<'src>> {
        let start = self.pos;
        let _ = self.lit(b"-", Terminal::Minus);
        if self.star(is_digit, Terminal::Digit) > 0
            && self.lit(b".", Terminal::Dot)
            && self.star(is_digit, Terminal::Digit) > 0
        {
            let text = self.text(start);
            return Some(Operand::Float(FloatLit {
                text,
                value: str_to_f(text),
            }));
        }
        self.pos = start;
        let neg = self.lit(b"-", Terminal::Minus);
        if self.star(is_digit, Terminal::Digit) > 0 {
            let text = self.text(start);
            let magnitude = if neg {
                text.get(1..).unwrap_or("")
            } else {
                text
            };
            let digits = magnitude.trim_start_matches('0');
            let small = if digits.len() <= 18 {
                digits.bytes().try_fold(0i64, |acc, d| {
                    acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
                })
            } else {
                None
            };
            let neg = neg && !digits.is_empty();
            return Some(Operand::Int(IntLit {
                text,
                neg,
                digits,
                small: small.map(|v| if neg { -v } else { v }),
            }));
        }
        self.pos = start;
        None
    }

    /// `variable = '"' [a-zA-Z] [0-9a-zA-Z_]* '"'
    ///            / '\'' [a-zA-Z] [0-9a-zA-Z_]* '\''
    ///            / [a-zA-Z] [0-9a-zA-Z_]*`
    fn variable(&mut self) -> Option<Operand<'src>> {
        let start = self.pos;
        for (q, t) in [
            (b"\"", Terminal::DoubleQuote),
            (b"'", Terminal::SingleQuote),
        ] {
            self.pos = start;
            if self.lit(q, t) && self.class(is_letter, Terminal::Letter) {
                self.star(is_word, Terminal::WordChar);
                if self.lit(q, t) {
                    return Some(self.var(start));
                }
            }
        }
        self.pos = start;
        if self.class(is_letter, Terminal::Letter) {
            self.star(is_word, Terminal::WordChar);
            return Some(self.var(start));
        }
        self.pos = start;
        None
    }

    fn var(&mut self, start: usize) -> Operand<'src> {
        let text = self.text(start);
        if text.len() > MAX_NAME_LEN
            && text.bytes().any(|b| b.is_ascii_lowercase())
            && self.name_too_long.is_none()
        {
            self.name_too_long = Some((start, text.len()));
        }
        Operand::Var(Var { text })
    }
}
