//! Evaluation of a parsed [`Expr`], with OneFlow's trace.

use core::cmp::Ordering;
use core::fmt::{self, Write};

use super::num::{compare, Value};
use super::ruby::write_ruby_float;
use super::{CmpOp, Expr, Node, NodeId, Operand};

/// Gives the value of an attribute, as OneFlow computes it.
///
/// `name` is what OneFlow looks up: the attribute upper-cased, quotes kept
/// (`'cpu'` → `'CPU'`). Return `Ok(None)` when the attribute is missing (the
/// comparison is then false and the trace shows `NAME[--]`), and `Err` where
/// OneFlow itself would raise (the whole evaluation then fails).
///
/// Any `FnMut(&str) -> Result<Option<f64>, E>` is a resolver; for a role's VMs
/// use [`VmResolver`](super::VmResolver).
pub trait Resolver {
    /// Error for attributes whose value OneFlow cannot compute.
    type Error;

    /// The value of attribute `name`, `None` when it is missing.
    ///
    /// # Errors
    /// When OneFlow would raise computing it.
    fn resolve(&mut self, name: &str) -> Result<Option<f64>, Self::Error>;
}

impl<E, F> Resolver for F
where
    F: FnMut(&str) -> Result<Option<f64>, E>,
{
    type Error = E;

    fn resolve(&mut self, name: &str) -> Result<Option<f64>, E> {
        self(name)
    }
}

/// Why an evaluation failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalError<E> {
    /// The resolver failed for an attribute (where OneFlow raises, e.g. an
    /// average of ±Infinity).
    Resolve(E),
    /// The trace writer returned an error (e.g. its buffer is full).
    Trace,
}

impl<E: fmt::Display> fmt::Display for EvalError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve(e) => write!(f, "cannot evaluate attribute: {e}"),
            Self::Trace => f.write_str("trace writer failed (buffer full?)"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for EvalError<E> {}

/// A trace sink that discards everything.
struct NoTrace;

impl Write for NoTrace {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

struct Eval<'r, R, W: ?Sized> {
    resolver: &'r mut R,
    trace: &'r mut W,
    tracing: bool,
}

impl<'src, const N: usize> Expr<'src, N> {
    /// Evaluates the expression: `true` when the policy's condition holds.
    ///
    /// Like OneFlow, both sides of `&&`/`||` are always evaluated (an
    /// attribute that raises fails the whole expression even after a false
    /// `&&` side).
    ///
    /// # Errors
    /// [`EvalError::Resolve`] when the resolver fails.
    pub fn eval<R: Resolver>(&self, resolver: &mut R) -> Result<bool, EvalError<R::Error>> {
        let mut ev = Eval {
            resolver,
            trace: &mut NoTrace,
            tracing: false,
        };
        ev.node(self, self.root)
    }

    /// Evaluates the expression and writes OneFlow's trace
    /// (`expression_evaluated`) to `trace`, e.g.
    /// `CPU[82.88] > 80 && MEM[--] < 3`: attributes as `NAME[value]` (Ruby
    /// `Float#to_s`) or `NAME[--]` when missing, literals normalised like Ruby
    /// prints them, operators as written, single spaces.
    ///
    /// # Errors
    /// [`EvalError::Resolve`] when the resolver fails, [`EvalError::Trace`]
    /// when `trace` does; `trace` then holds a partial text.
    pub fn eval_traced<R: Resolver, W: Write + ?Sized>(
        &self,
        resolver: &mut R,
        trace: &mut W,
    ) -> Result<bool, EvalError<R::Error>> {
        let mut ev = Eval {
            resolver,
            trace,
            tracing: true,
        };
        ev.node(self, self.root)
    }
}

impl<R: Resolver, W: Write + ?Sized> Eval<'_, R, W> {
    fn put(&mut self, s: &str) -> Result<(), EvalError<R::Error>> {
        if self.tracing {
            self.trace.write_str(s).map_err(|_| EvalError::Trace)?;
        }
        Ok(())
    }

    fn node<const N: usize>(
        &mut self,
        e: &Expr<'_, N>,
        id: NodeId,
    ) -> Result<bool, EvalError<R::Error>> {
        // Ids come from the parser: a miss cannot happen, but never panic.
        let Some(node) = e.node(id) else {
            return Ok(false);
        };
        match node {
            Node::Bool { op, left, right } => {
                let l = self.node(e, *left)?;
                if self.tracing {
                    write!(self.trace, " {} ", op.as_str()).map_err(|_| EvalError::Trace)?;
                }
                let r = self.node(e, *right)?;
                Ok(if op.is_and() { l && r } else { l || r })
            }
            Node::Not(x) => {
                self.put("!")?;
                Ok(!self.node(e, *x)?)
            }
            Node::Paren(x) => {
                self.put("(")?;
                let v = self.node(e, *x)?;
                self.put(")")?;
                Ok(v)
            }
            Node::Cmp { op, left, right } => {
                let l = self.operand(left)?;
                if self.tracing {
                    write!(self.trace, " {} ", op.as_str()).map_err(|_| EvalError::Trace)?;
                }
                let r = self.operand(right)?;
                let (Some(l), Some(r)) = (l, r) else {
                    return Ok(false);
                };
                let ord = compare(l, r);
                Ok(match op {
                    CmpOp::EqEq | CmpOp::Eq => ord == Some(Ordering::Equal),
                    CmpOp::Ne | CmpOp::LtGt => ord != Some(Ordering::Equal),
                    CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                    CmpOp::Gt => ord == Some(Ordering::Greater),
                    CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                    CmpOp::Lt => ord == Some(Ordering::Less),
                })
            }
        }
    }

    fn operand<'o>(
        &mut self,
        o: &'o Operand<'o>,
    ) -> Result<Option<Value<'o>>, EvalError<R::Error>> {
        match o {
            Operand::Int(i) => {
                if self.tracing {
                    write!(self.trace, "{i}").map_err(|_| EvalError::Trace)?;
                }
                Ok(Some(Value::Int(i)))
            }
            Operand::Float(x) => {
                if self.tracing {
                    write_ruby_float(self.trace, x.value).map_err(|_| EvalError::Trace)?;
                }
                Ok(Some(Value::Float(x.value)))
            }
            Operand::Var(v) => {
                let tracing = self.tracing;
                let resolver = &mut *self.resolver;
                let trace = &mut *self.trace;
                v.with_lookup_name(|name| {
                    let value = resolver.resolve(name).map_err(EvalError::Resolve)?;
                    if tracing {
                        let t = |trace: &mut W| -> fmt::Result {
                            trace.write_str(name)?;
                            trace.write_str("[")?;
                            match value {
                                Some(x) => write_ruby_float(trace, x)?,
                                None => trace.write_str("--")?,
                            }
                            trace.write_str("]")
                        };
                        t(trace).map_err(|_| EvalError::Trace)?;
                    }
                    Ok(value.map(Value::Float))
                })
            }
        }
    }
}
