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

#[cfg(test)]
mod tests {
    use super::policydoc::{roles_in, roles_of};
    use super::vmdoc::VmDoc;
    use super::Dialect;
    use serde_json::json;

    fn message(doc: &serde_json::Value, d: Dialect) -> String {
        roles_in(doc, "$", d)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn each_dialect_names_types_its_own_way() {
        let doc = json!({"roles": {}});
        assert_eq!(
            message(&doc, Dialect::Json),
            "$.roles: must be an array, got Hash"
        );
        assert_eq!(
            message(&doc, Dialect::Python),
            "$.roles: must be a list, got a dict"
        );
        let doc = json!({"roles": [[1]]});
        assert_eq!(
            message(&doc, Dialect::Json),
            "$.roles[0]: must be an object, got Array"
        );
        assert_eq!(
            message(&doc, Dialect::Python),
            "$.roles[0]: expected a dict, got a list"
        );
        let doc = json!({"name": 2.5});
        assert_eq!(
            message(&doc, Dialect::Json),
            "$.name: name must be a string, got Integer (OneFlow would crash on it)"
        );
        assert_eq!(
            message(&doc, Dialect::Python),
            "$.name: must be a string, got Float (OneFlow would crash on it)"
        );
    }

    #[test]
    fn runtime_keys_are_read_for_the_cli_only() {
        let doc = json!({"elasticity_policies": [{"adjust": 1, "last_eval": true}]});
        assert_eq!(
            roles_of(&doc).err().map(|e| e.path),
            Some("$.elasticity_policies[0].last_eval".to_string())
        );
        assert!(roles_in(&doc, "$", Dialect::Python).is_ok());
    }

    #[test]
    fn the_first_bad_vm_key_in_the_callers_order_is_reported() {
        let vm = json!({"STAT": "3", "IN_POOL": "no"});
        let path = |order: Option<&[String]>| {
            VmDoc::new_in(&vm, 0, "vms[0]", Dialect::Python, order)
                .err()
                .map(|e| e.path)
        };
        // serde_json objects are sorted: IN_POOL first.
        assert_eq!(path(None), Some("vms[0].IN_POOL".to_string()));
        let written = ["STAT".to_string(), "IN_POOL".to_string()];
        assert_eq!(path(Some(&written)), Some("vms[0].STAT".to_string()));
        let e = VmDoc::new_in(&json!([]), 0, "vms[0]", Dialect::Python, None).err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("vms[0]: expected a VM dict, got a list".to_string())
        );
    }
}
