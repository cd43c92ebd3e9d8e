//! OneFlow JSON documents read the way OneFlow reads them, shared by the
//! `stamen` agent and the Python bindings (`stamen._stamen`).
//!
//! - [`policydoc`]: roles, elasticity and scheduled policies (Ruby `to_i`,
//!   `upcase`, the `NoMethodError`s OneFlow would raise).
//! - [`vmdoc`]: VM documents as the core's `VmView`.
//! - [`policyeval`]: the policy engine's expression evaluator over a tick's VMs.
//! - [`lint`]: stamen's policy lints over a whole document.
//!
//! Only std and `serde_json`: no I/O, no HTTP.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod lint;
pub mod policydoc;
pub mod policyeval;
pub mod vmdoc;

use serde_json::Value;

/// Whose words messages about malformed documents use. The same problems are
/// found either way; the `stamen` CLI names JSON types (`an object`, `an
/// array`), the Python bindings name the Python types the caller passed (`a
/// dict`, `a list`, `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// JSON wording: documents read from files (the `stamen` binary).
    #[default]
    Json,
    /// Python wording: documents converted from Python objects
    /// (`stamen._stamen`). Policies are read for linting and
    /// `new_cardinality` only, so the runtime keys of a policy (`last_eval`,
    /// `true_evals`) are not read.
    Python,
}

impl Dialect {
    /// The type of `v` as messages name it ("got an array" / "got a list").
    pub fn kind(self, v: &Value) -> &'static str {
        match (self, v) {
            (Dialect::Json, Value::Null) => "null",
            (Dialect::Json, Value::Bool(_)) => "a boolean",
            (Dialect::Json, Value::String(_)) => "a string",
            (Dialect::Json, Value::Array(_)) => "an array",
            (Dialect::Json, Value::Object(_)) => "an object",
            (Dialect::Python, Value::Null) => "None",
            (Dialect::Python, Value::Bool(_)) => "a bool",
            (Dialect::Python, Value::String(_)) => "a str",
            (Dialect::Python, Value::Array(_)) => "a list",
            (Dialect::Python, Value::Object(_)) => "a dict",
            (_, Value::Number(_)) => "a number",
        }
    }

    /// What an object is called: `object` / `dict`.
    pub fn object(self) -> &'static str {
        match self {
            Dialect::Json => "object",
            Dialect::Python => "dict",
        }
    }
}
