//! OneFlow elasticity expressions, evaluated exactly as OneFlow does it.
//!
//! An expression such as `CPU > 80 && MEMORY < 1048576` is parsed once into a
//! fixed-capacity [`Expr`] (no allocation; `N` nodes at most) and evaluated any
//! number of times against a [`Resolver`] that gives each attribute's value.
//! Evaluation returns the boolean and can write OneFlow's trace
//! (`expression_evaluated`, e.g. `CPU[82.88] > 80 && MEMORY[--] < 1048576`)
//! into any [`core::fmt::Write`].
//!
//! Every observable detail follows OneFlow's Treetop grammar and Ruby: the
//! grammar has no precedence (`&&` and `||` group to the right), `!` negates
//! everything to its right, an attribute that no VM has makes its comparison
//! false, integer literals of any length compare exactly against floats,
//! numbers print like Ruby, and a syntax error reproduces Treetop's
//! `failure_reason` byte for byte. [`average`] computes an attribute the way
//! OneFlow does over a role's VMs (see [`VmView`]).
//!
//! ```
//! use stamen_core::expr::{Expr, Resolver};
//!
//! let expr: Expr<'_, 16> = Expr::parse("CPU > 80 && MEM < 3").unwrap();
//! let mut vars = |name: &str| -> Result<Option<f64>, ()> {
//!     Ok(match name { "CPU" => Some(82.88), _ => None })
//! };
//! let mut trace = heapless::String::<64>::new();
//! assert_eq!(expr.eval_traced(&mut vars, &mut trace), Ok(false));
//! assert_eq!(trace, "CPU[82.88] > 80 && MEM[--] < 3");
//! ```

mod eval;
mod num;
mod parser;
mod ruby;
mod rule;
mod vms;

use core::fmt;

pub use eval::{EvalError, Resolver};
pub use ruby::{bytes_to_f, str_to_f, write_ruby_float, RubyFloat};
pub use rule::{scale_rule, RuleError, RuleOutcome};
pub use vms::{average, round2, AvgError, Lookup, Section, VmResolver, VmView};

/// Default node capacity of [`Expr`]: enough for 32 comparisons joined by
/// `&&`/`||`.
pub const DEFAULT_CAPACITY: usize = 64;

/// Longest attribute name containing lower-case letters that [`Expr`]
/// accepts: such names are upper-cased into a stack buffer of this size when
/// evaluated. Names without lower-case letters have no limit.
pub const MAX_NAME_LEN: usize = 256;

/// Index of a [`Node`] inside an [`Expr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u16);

impl NodeId {
    /// Position of the node in [`Expr::nodes`].
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// `&&`, `&`, `||` or `|`, remembered as written (the trace echoes it).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoolOp {
    /// `&&`: logical and.
    AndAnd,
    /// `&`: logical and (single-character spelling).
    And,
    /// `||`: logical or.
    OrOr,
    /// `|`: logical or (single-character spelling).
    Or,
}

impl BoolOp {
    /// The operator as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AndAnd => "&&",
            Self::And => "&",
            Self::OrOr => "||",
            Self::Or => "|",
        }
    }

    /// Whether this is a conjunction (`&&` or `&`).
    pub const fn is_and(self) -> bool {
        matches!(self, Self::AndAnd | Self::And)
    }
}

/// A comparison operator, remembered as written (the trace echoes it).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`: equal.
    EqEq,
    /// `=`: equal.
    Eq,
    /// `!=`: not equal.
    Ne,
    /// `<>`: not equal.
    LtGt,
    /// `>=`: greater or equal.
    Ge,
    /// `>`: greater.
    Gt,
    /// `<=`: less or equal.
    Le,
    /// `<`: less.
    Lt,
}

impl CmpOp {
    /// The operator as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EqEq => "==",
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::LtGt => "<>",
            Self::Ge => ">=",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Lt => "<",
        }
    }
}

/// An integer literal (`-?[0-9]+`), of any length; compared exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntLit<'src> {
    text: &'src str,
    neg: bool,
    digits: &'src str,
    small: Option<i64>,
}

impl<'src> IntLit<'src> {
    /// The literal as written (e.g. `-010`).
    pub const fn text(&self) -> &'src str {
        self.text
    }

    /// The value if it has at most 18 digits.
    pub const fn as_i64(&self) -> Option<i64> {
        self.small
    }

    /// Whether the value is negative (`-0` is not).
    pub const fn is_negative(&self) -> bool {
        self.neg
    }

    /// Decimal digits of the magnitude without leading zeros (empty for 0).
    pub const fn digits(&self) -> &'src str {
        self.digits
    }
}

impl fmt::Display for IntLit<'_> {
    /// Ruby's `Integer#to_s` of the value (`010` → `10`, `-0` → `0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digits.is_empty() {
            return f.write_str("0");
        }
        if self.neg {
            f.write_str("-")?;
        }
        f.write_str(self.digits)
    }
}

/// A float literal (`-?[0-9]+\.[0-9]+`), converted like Ruby's `String#to_f`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatLit<'src> {
    text: &'src str,
    value: f64,
}

impl<'src> FloatLit<'src> {
    /// The literal as written (e.g. `1.50`).
    pub const fn text(&self) -> &'src str {
        self.text
    }

    /// Its value (may be `±Infinity` or `0.0` when out of range).
    pub const fn value(&self) -> f64 {
        self.value
    }
}

/// An attribute reference: `NAME`, `"NAME"` or `'NAME'`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Var<'src> {
    text: &'src str,
}

impl<'src> Var<'src> {
    /// The reference as written, quotes included.
    pub const fn text(&self) -> &'src str {
        self.text
    }

    /// Whether it was quoted: OneFlow then looks up the name *with* its
    /// quotes, so it is never found in a real VM.
    pub fn is_quoted(&self) -> bool {
        self.text.starts_with(['"', '\''])
    }

    /// Calls `f` with the name OneFlow looks up: the text upper-cased (ASCII),
    /// quotes kept.
    pub fn with_lookup_name<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        if !self.text.bytes().any(|b| b.is_ascii_lowercase()) {
            return f(self.text);
        }
        let mut buf = [0u8; MAX_NAME_LEN];
        let n = self.text.len().min(MAX_NAME_LEN);
        for (d, s) in buf.iter_mut().zip(self.text.bytes()) {
            *d = s.to_ascii_uppercase();
        }
        // ASCII only (the grammar admits nothing else): always valid UTF-8.
        f(core::str::from_utf8(buf.get(..n).unwrap_or(&[])).unwrap_or(""))
    }
}

impl fmt::Display for Var<'_> {
    /// The looked-up name: upper-cased, quotes kept (as the trace shows it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.text.chars() {
            fmt::Write::write_char(f, c.to_ascii_uppercase())?;
        }
        Ok(())
    }
}

/// One side of a comparison.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand<'src> {
    /// An integer literal.
    Int(IntLit<'src>),
    /// A float literal.
    Float(FloatLit<'src>),
    /// An attribute.
    Var(Var<'src>),
}

impl<'src> Operand<'src> {
    /// The operand as written.
    pub const fn text(&self) -> &'src str {
        match self {
            Self::Int(i) => i.text,
            Self::Float(x) => x.text,
            Self::Var(v) => v.text,
        }
    }
}

/// A node of the parsed expression (children are [`NodeId`]s).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Node<'src> {
    /// `left OP right` with `&&`, `&`, `||` or `|`; `right` extends to the end
    /// of the enclosing group (right grouping, no precedence).
    Bool {
        /// The operator.
        op: BoolOp,
        /// Left side (a comparison, `!…` or `(…)`).
        left: NodeId,
        /// Right side (the rest of the expression).
        right: NodeId,
    },
    /// `!E`: negation of everything to its right in the enclosing group.
    Not(NodeId),
    /// `(E)`.
    Paren(NodeId),
    /// `left OP right` comparison.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        left: Operand<'src>,
        /// Right operand.
        right: Operand<'src>,
    },
}

/// A terminal the parser expected where it failed (Treetop's
/// `expected_string`s).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Terminal {
    /// `' '`
    Space,
    /// `'-'`
    Minus,
    /// `[0-9]`
    Digit,
    /// `'.'`
    Dot,
    /// `'"'`
    DoubleQuote,
    /// `'\''`
    SingleQuote,
    /// `[a-zA-Z]`
    Letter,
    /// `[0-9a-zA-Z_]`
    WordChar,
    /// `'!'`
    Bang,
    /// `'('`
    OpenParen,
    /// `')'`
    CloseParen,
    /// `'&&'`
    AndAnd,
    /// `'&'`
    And,
    /// `'||'`
    OrOr,
    /// `'|'`
    Or,
    /// `'=='`
    EqEq,
    /// `'='`
    Eq,
    /// `'!='`
    Ne,
    /// `'<>'`
    LtGt,
    /// `'>='`
    Ge,
    /// `'>'`
    Gt,
    /// `'<='`
    Le,
    /// `'<'`
    Lt,
    /// Input left over after a complete expression (Treetop's
    /// `something other than <END OF INPUT>`).
    EndOfInput,
}

impl Terminal {
    /// The text Treetop prints for it.
    pub const fn expected_string(self) -> &'static str {
        match self {
            Self::Space => "' '",
            Self::Minus => "'-'",
            Self::Digit => "[0-9]",
            Self::Dot => "'.'",
            Self::DoubleQuote => "'\"'",
            Self::SingleQuote => "'\\''",
            Self::Letter => "[a-zA-Z]",
            Self::WordChar => "[0-9a-zA-Z_]",
            Self::Bang => "'!'",
            Self::OpenParen => "'('",
            Self::CloseParen => "')'",
            Self::AndAnd => "'&&'",
            Self::And => "'&'",
            Self::OrOr => "'||'",
            Self::Or => "'|'",
            Self::EqEq => "'=='",
            Self::Eq => "'='",
            Self::Ne => "'!='",
            Self::LtGt => "'<>'",
            Self::Ge => "'>='",
            Self::Gt => "'>'",
            Self::Le => "'<='",
            Self::Lt => "'<'",
            Self::EndOfInput => "something other than <END OF INPUT>",
        }
    }
}

/// Most distinct terminals one failure can list.
const MAX_EXPECTED: usize = 24;

/// A syntax error, reported exactly like OneFlow/Treetop.
///
/// `Display` prints Treetop's `failure_reason`
/// (`Expected one of ' ', '-', [0-9] … at line 1, column 5 (byte 5) after A > `);
/// [`SyntaxError::oneflow_trace`] prints what OneFlow stores as the policy's
/// `expression_evaluated` (`Parse error. '<expr>': <reason>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError<'src> {
    src: &'src str,
    index: usize,
    after_from: usize,
    expected: [Terminal; MAX_EXPECTED],
    n_expected: u8,
    several: bool,
}

impl<'src> SyntaxError<'src> {
    /// The expression that failed.
    pub const fn source(&self) -> &'src str {
        self.src
    }

    /// Treetop's `failure_index`: the 0-based character index of the furthest
    /// failure (equal to the byte index: everything before it is ASCII).
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The terminals expected at [`index`](Self::index), in Treetop's order,
    /// without duplicates.
    pub fn expected(&self) -> &[Terminal] {
        self.expected
            .get(..usize::from(self.n_expected))
            .unwrap_or(&[])
    }

    /// 1-based line of the failure.
    pub fn line(&self) -> usize {
        let before = self.src.as_bytes().get(..self.index).unwrap_or(&[]);
        before.iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// 1-based column of the failure (Treetop's `column_of`).
    pub fn column(&self) -> usize {
        let before = self.src.as_bytes().get(..self.index).unwrap_or(&[]);
        match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => self.index - nl,
            None => self.index + 1,
        }
    }

    /// The text Treetop quotes after `after ` (from where the parser stopped
    /// to the failure).
    pub fn after(&self) -> &'src str {
        self.src.get(self.after_from..self.index).unwrap_or("")
    }

    /// Displays OneFlow's trace for this error:
    /// `Parse error. '<expr>': <failure_reason>`.
    pub const fn oneflow_trace(&self) -> OneFlowParseTrace<'_, 'src> {
        OneFlowParseTrace(self)
    }
}

impl fmt::Display for SyntaxError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Expected ")?;
        let expected = self.expected();
        if !self.several {
            for t in expected {
                f.write_str(t.expected_string())?;
            }
        } else {
            f.write_str("one of ")?;
            for (i, t) in expected.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(t.expected_string())?;
            }
        }
        write!(
            f,
            " at line {}, column {} (byte {})",
            self.line(),
            self.column(),
            self.index + 1
        )?;
        if self.index > 0 {
            write!(f, " after {}", self.after())?;
        }
        Ok(())
    }
}

/// Display of OneFlow's trace for a syntax error; see
/// [`SyntaxError::oneflow_trace`].
#[derive(Clone, Copy, Debug)]
pub struct OneFlowParseTrace<'e, 'src>(&'e SyntaxError<'src>);

impl fmt::Display for OneFlowParseTrace<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Parse error. '{}': {}", self.0.src, self.0)
    }
}

/// Why an expression could not be compiled.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'src> {
    /// The expression is empty. OneFlow skips such a policy: its value is
    /// `false` and it has no trace.
    Empty,
    /// The expression is not in OneFlow's grammar (OneFlow's policy then
    /// evaluates to `false` with the error as its trace).
    Syntax(SyntaxError<'src>),
    /// The expression is valid but needs more than `capacity` nodes, or nests
    /// deeper than `capacity` levels: use a larger `N` in `Expr<'_, N>`.
    TooComplex {
        /// The `N` that was exceeded.
        capacity: usize,
    },
    /// An attribute name with lower-case letters is longer than
    /// [`MAX_NAME_LEN`] bytes.
    NameTooLong {
        /// Byte offset of the name in the expression.
        offset: usize,
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty expression"),
            Self::Syntax(e) => e.oneflow_trace().fmt(f),
            Self::TooComplex { capacity } => write!(
                f,
                "expression too complex: more than {capacity} nodes or nesting levels"
            ),
            Self::NameTooLong { offset, len } => write!(
                f,
                "attribute name at byte {offset} is {len} bytes long; names with \
                 lower-case letters may have at most {MAX_NAME_LEN}"
            ),
        }
    }
}

impl core::error::Error for ParseError<'_> {}

/// A parsed elasticity expression with room for `N` nodes.
///
/// Parse once with [`Expr::parse`], evaluate many times with [`Expr::eval`] /
/// [`Expr::eval_traced`]. `Display` prints the expression normalised (single
/// spaces around binary operators, operands as written); parsing that text
/// again gives the same tree.
#[derive(Clone, Debug)]
pub struct Expr<'src, const N: usize = DEFAULT_CAPACITY> {
    src: &'src str,
    nodes: heapless::Vec<Node<'src>, N>,
    root: NodeId,
}

impl<'src, const N: usize> Expr<'src, N> {
    /// Parses `src` with OneFlow's grammar.
    ///
    /// # Errors
    /// [`ParseError::Empty`] for `""`, [`ParseError::Syntax`] with Treetop's
    /// exact report when `src` is not in the grammar,
    /// [`ParseError::TooComplex`] when it does not fit `N`, and
    /// [`ParseError::NameTooLong`] (see [`MAX_NAME_LEN`]).
    pub fn parse(src: &'src str) -> Result<Self, ParseError<'src>> {
        parser::parse(src)
    }

    /// The source text.
    pub const fn source(&self) -> &'src str {
        self.src
    }

    /// The root node.
    pub const fn root(&self) -> NodeId {
        self.root
    }

    /// The node `id` (`None` for an id from another expression).
    pub fn node(&self, id: NodeId) -> Option<&Node<'src>> {
        self.nodes.get(id.index())
    }

    /// All nodes (children come before their parents).
    pub fn nodes(&self) -> &[Node<'src>] {
        &self.nodes
    }

    /// Every attribute reference, in source order.
    pub fn variables(&self) -> impl Iterator<Item = Var<'src>> + '_ {
        VarIter {
            expr_nodes: self.nodes(),
            stack: {
                let mut s = heapless::Vec::<(NodeId, u8), N>::new();
                let _ = s.push((self.root, 0));
                s
            },
            pending: None,
        }
    }

    /// Displays the parse tree as an S-expression: `(and L R)`, `(or L R)`,
    /// `(not E)`, `(paren E)`, `(OP L R)`, `int:…`, `float:…`, `var:…`
    /// (operands as written).
    pub const fn tree(&self) -> Tree<'_, 'src, N> {
        Tree(self)
    }

    pub(crate) fn from_parts(
        src: &'src str,
        nodes: heapless::Vec<Node<'src>, N>,
        root: NodeId,
    ) -> Self {
        Self { src, nodes, root }
    }

    pub(crate) fn nodes_mut(&mut self) -> &mut heapless::Vec<Node<'src>, N> {
        &mut self.nodes
    }

    pub(crate) fn set_root(&mut self, root: NodeId) {
        self.root = root;
    }
}

struct VarIter<'e, 'src, const N: usize> {
    expr_nodes: &'e [Node<'src>],
    stack: heapless::Vec<(NodeId, u8), N>,
    pending: Option<Var<'src>>,
}

impl<'src, const N: usize> Iterator for VarIter<'_, 'src, N> {
    type Item = Var<'src>;

    fn next(&mut self) -> Option<Var<'src>> {
        if let Some(v) = self.pending.take() {
            return Some(v);
        }
        while let Some((id, _)) = self.stack.pop() {
            match self.expr_nodes.get(id.index())? {
                Node::Bool { left, right, .. } => {
                    let _ = self.stack.push((*right, 0));
                    let _ = self.stack.push((*left, 0));
                }
                Node::Not(e) | Node::Paren(e) => {
                    let _ = self.stack.push((*e, 0));
                }
                Node::Cmp { left, right, .. } => {
                    let r = match right {
                        Operand::Var(v) => Some(*v),
                        _ => None,
                    };
                    match left {
                        Operand::Var(v) => {
                            self.pending = r;
                            return Some(*v);
                        }
                        _ => {
                            if r.is_some() {
                                return r;
                            }
                        }
                    }
                }
            }
        }
        None
    }
}

fn fmt_node<const N: usize>(
    e: &Expr<'_, N>,
    id: NodeId,
    f: &mut fmt::Formatter<'_>,
    tree: bool,
) -> fmt::Result {
    let Some(node) = e.node(id) else {
        return Err(fmt::Error);
    };
    match *node {
        Node::Bool { op, left, right } => {
            if tree {
                f.write_str(if op.is_and() { "(and " } else { "(or " })?;
                fmt_node(e, left, f, tree)?;
                f.write_str(" ")?;
                fmt_node(e, right, f, tree)?;
                f.write_str(")")
            } else {
                fmt_node(e, left, f, tree)?;
                write!(f, " {} ", op.as_str())?;
                fmt_node(e, right, f, tree)
            }
        }
        Node::Not(x) => {
            f.write_str(if tree { "(not " } else { "!" })?;
            fmt_node(e, x, f, tree)?;
            if tree {
                f.write_str(")")?;
            }
            Ok(())
        }
        Node::Paren(x) => {
            f.write_str(if tree { "(paren " } else { "(" })?;
            fmt_node(e, x, f, tree)?;
            f.write_str(")")
        }
        Node::Cmp { op, left, right } => {
            if tree {
                write!(f, "({} ", op.as_str())?;
                fmt_operand_tree(&left, f)?;
                f.write_str(" ")?;
                fmt_operand_tree(&right, f)?;
                f.write_str(")")
            } else {
                write!(f, "{} {} {}", left.text(), op.as_str(), right.text())
            }
        }
    }
}

fn fmt_operand_tree(o: &Operand<'_>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match o {
        Operand::Int(i) => write!(f, "int:{}", i.text),
        Operand::Float(x) => write!(f, "float:{}", x.text),
        Operand::Var(v) => write!(f, "var:{}", v.text),
    }
}

impl<const N: usize> fmt::Display for Expr<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_node(self, self.root, f, false)
    }
}

/// S-expression display of an [`Expr`]; see [`Expr::tree`].
#[derive(Clone, Copy, Debug)]
pub struct Tree<'e, 'src, const N: usize>(&'e Expr<'src, N>);

impl<const N: usize> fmt::Display for Tree<'_, '_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_node(self.0, self.0.root, f, true)
    }
}
