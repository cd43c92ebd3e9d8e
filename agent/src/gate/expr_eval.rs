//! OneFlow expression evaluation over the gate's VMs, with
//! `stamen_core::expr` (parser, averaging, trace).

use super::model::Vm;
use super::template::TVal;
use core::fmt::Write;
use stamen_core::expr::{Expr, Lookup, ParseError, Section, VmResolver, VmView};
use stamen_core::policy::{EvalError, RubyException};

/// Node capacity of a policy expression.
const NODES: usize = 64;

/// A gate VM as OneFlow's averaging sees it.
struct View<'a>(&'a Vm);

fn tmpl_lookup<'a>(t: &'a super::template::Tmpl, name: &str) -> Lookup<'a> {
    match t.get(name) {
        None => Lookup::Missing,
        // An element with no text is `{}` in the XML-to-hash conversion.
        Some(TVal::Str(s)) if s.is_empty() => Lookup::Empty,
        Some(TVal::Str(s)) => Lookup::Text(s),
        Some(TVal::Map(m)) if m.is_empty() => Lookup::Empty,
        Some(TVal::Map(_)) => Lookup::Nested,
        Some(TVal::List(_)) => Lookup::Array,
    }
}

impl VmView for View<'_> {
    fn is_running(&self) -> bool {
        self.0.running()
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        let vm = self.0;
        match section {
            Section::UserTemplate => tmpl_lookup(&vm.user_template, name),
            Section::Monitoring => tmpl_lookup(&vm.monitoring, name),
            Section::Template => tmpl_lookup(&vm.template, name),
            Section::Root => match name {
                "ID" => Lookup::Number(f64::from(vm.id)),
                "NAME" => Lookup::Text(&vm.name),
                "STATE" => Lookup::Number(f64::from(vm.state)),
                "LCM_STATE" => Lookup::Number(f64::from(vm.lcm_state)),
                // STIME is an integer of at most 20 digits: exact enough as f64 for a comparison.
                "STIME" => Lookup::Number(vm.stime as f64),
                _ => Lookup::Missing,
            },
            _ => Lookup::Missing,
        }
    }
}

/// Evaluates `expression` over `vms` like OneFlow: a syntax error is `false`
/// with Treetop's message as the trace; an average OneFlow cannot compute is
/// the Ruby exception OneFlow would raise; an expression or trace too large
/// for the fixed capacities is [`EvalError::Capacity`].
pub fn evaluate<const T: usize>(
    expression: &str,
    vms: &[&Vm],
    trace: &mut heapless::String<T>,
) -> Result<bool, EvalError> {
    trace.clear();
    let expr: Expr<'_, NODES> = match Expr::parse(expression) {
        Ok(e) => e,
        Err(ParseError::Empty) => return Ok(false),
        Err(ParseError::Syntax(e)) => {
            write!(trace, "{}", e.oneflow_trace()).map_err(|_| EvalError::Capacity)?;
            return Ok(false);
        }
        // Valid for OneFlow but beyond this evaluator's fixed capacities.
        Err(_) => return Err(EvalError::Capacity),
    };
    let views: Vec<View<'_>> = vms.iter().map(|v| View(v)).collect();
    let mut resolver = VmResolver::new(&views);
    match expr.eval_traced(&mut resolver, trace) {
        Ok(b) => Ok(b),
        Err(stamen_core::expr::EvalError::Resolve(e)) => Err(EvalError::Exception(RubyException {
            class: e.ruby_class(),
            message: e.ruby_message(),
        })),
        Err(_) => Err(EvalError::Capacity),
    }
}
