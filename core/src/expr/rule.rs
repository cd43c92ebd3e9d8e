//! OneFlow's `scale_rule`: one call from a policy's expression text to its
//! value and `expression_evaluated` trace.

use core::fmt::{self, Write};

use super::eval::{EvalError, Resolver};
use super::{Expr, ParseError};

/// How OneFlow's `scale_rule` ended for a policy expression.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleOutcome {
    /// Parsed and evaluated: the value; the trace was written.
    Evaluated(bool),
    /// Not in the grammar: the value is `false`; the trace written is
    /// `Parse error. '<expr>': <reason>` (OneFlow stores it as the policy's
    /// `expression_evaluated`). The policy counts as false, it is not an error.
    ParseError,
    /// Missing (`nil`) or empty expression: the value is `false` and OneFlow
    /// stores no trace (nothing was written).
    Empty,
}

impl RuleOutcome {
    /// The boolean OneFlow uses.
    pub const fn value(self) -> bool {
        matches!(self, Self::Evaluated(true))
    }
}

/// Why [`scale_rule`] could not give OneFlow's result.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError<E> {
    /// OneFlow itself raises evaluating the expression (the resolver's
    /// error, e.g. a non-finite average).
    Resolve(E),
    /// The trace writer failed (buffer full).
    Trace,
    /// The expression exceeds the parser's capacity `N` (nodes or nesting).
    TooComplex {
        /// The `N` that was exceeded.
        capacity: usize,
    },
    /// An attribute name with lower-case letters is longer than
    /// [`MAX_NAME_LEN`](super::MAX_NAME_LEN).
    NameTooLong {
        /// Byte offset of the name.
        offset: usize,
        /// Its length in bytes.
        len: usize,
    },
}

impl<E: fmt::Display> fmt::Display for RuleError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve(e) => write!(f, "cannot evaluate attribute: {e}"),
            Self::Trace => f.write_str("trace writer failed (buffer full?)"),
            Self::TooComplex { capacity } => write!(
                f,
                "expression too complex: more than {capacity} nodes or nesting levels"
            ),
            Self::NameTooLong { offset, len } => write!(
                f,
                "attribute name at byte {offset} is {len} bytes long; names with lower-case \
                 letters may have at most {}",
                super::MAX_NAME_LEN
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for RuleError<E> {}

/// Evaluates a policy expression exactly like OneFlow's `scale_rule`
/// (`vmrole.rb`), parsing it with capacity `N`: the outcome, with the trace
/// written to `trace` (nothing for [`RuleOutcome::Empty`]).
///
/// ```
/// use stamen_core::expr::{scale_rule, RuleOutcome};
/// let mut attrs = |n: &str| -> Result<Option<f64>, ()> { Ok((n == "CPU").then_some(90.0)) };
/// let mut trace = heapless::String::<128>::new();
/// let r = scale_rule::<_, _, 16>(Some("CPU > 80"), &mut attrs, &mut trace);
/// assert_eq!(r, Ok(RuleOutcome::Evaluated(true)));
/// assert_eq!(trace, "CPU[90.0] > 80");
/// trace.clear();
/// let r = scale_rule::<_, _, 16>(Some("CPU >"), &mut attrs, &mut trace);
/// assert_eq!(r, Ok(RuleOutcome::ParseError));
/// assert!(trace.starts_with("Parse error. 'CPU >': Expected one of"));
/// ```
///
/// # Errors
/// Where OneFlow raises ([`RuleError::Resolve`]), or when the expression or
/// the trace does not fit.
pub fn scale_rule<R: Resolver, W: Write + ?Sized, const N: usize>(
    expr: Option<&str>,
    resolver: &mut R,
    trace: &mut W,
) -> Result<RuleOutcome, RuleError<R::Error>> {
    let Some(src) = expr else {
        return Ok(RuleOutcome::Empty);
    };
    match Expr::<'_, N>::parse(src) {
        Ok(e) => match e.eval_traced(resolver, trace) {
            Ok(v) => Ok(RuleOutcome::Evaluated(v)),
            Err(EvalError::Resolve(err)) => Err(RuleError::Resolve(err)),
            Err(_) => Err(RuleError::Trace),
        },
        Err(ParseError::Empty) => Ok(RuleOutcome::Empty),
        Err(ParseError::Syntax(s)) => {
            write!(trace, "{}", s.oneflow_trace()).map_err(|_| RuleError::Trace)?;
            Ok(RuleOutcome::ParseError)
        }
        Err(ParseError::TooComplex { capacity }) => Err(RuleError::TooComplex { capacity }),
        Err(ParseError::NameTooLong { offset, len }) => Err(RuleError::NameTooLong { offset, len }),
    }
}
