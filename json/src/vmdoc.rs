//! VM documents (JSON) as the core's [`VmView`]: what OneFlow's averaging
//! reads from each VM of a role.
//!
//! Two shapes are accepted for one VM:
//! - the conformance-case shape (`tests/vectors/oneflow/README.md`): an object
//!   with any of `ID`, `STATE`, `LCM_STATE` (default `"3"`), `USER_TEMPLATE`,
//!   `MONITORING`, `POOL_MONITORING`, `TEMPLATE`, `ROOT`, `IN_POOL`;
//! - an OpenNebula document as `onevm show --json` prints it: `{"VM": {...}}`.
//!
//! Values mirror OpenNebula's XML-to-hash: a string for text, `{}` for an
//! empty element, an object for a nested one, an array for a repeated one.

use serde_json::{Map, Value};
use stamen_core::expr::{Lookup, Section, VmView};
use std::fmt;

use crate::Dialect;

/// Keys a conformance-shape VM object may have.
pub const VM_KEYS: [&str; 9] = [
    "ID",
    "STATE",
    "LCM_STATE",
    "USER_TEMPLATE",
    "MONITORING",
    "POOL_MONITORING",
    "TEMPLATE",
    "ROOT",
    "IN_POOL",
];

/// A malformed VM document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmDocError {
    /// Where: e.g. `vms[2].IN_POOL`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for VmDocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for VmDocError {}

#[derive(Debug, Clone, Copy)]
enum Shape<'a> {
    /// Conformance-case object.
    Case(&'a Map<String, Value>),
    /// OpenNebula `/VM` element.
    OpenNebula(&'a Map<String, Value>),
}

/// One VM of a role, borrowed from a JSON document.
#[derive(Debug, Clone, Copy)]
pub struct VmDoc<'a> {
    shape: Shape<'a>,
    index: usize,
}

impl<'a> VmDoc<'a> {
    /// Checks one VM document (`path` names it in errors, e.g. `vms[0]`).
    ///
    /// # Errors
    /// When it is not an object, has an unknown key, or a key has a type that
    /// cannot come from OpenNebula (`IN_POOL` not a boolean, `ROOT` not an
    /// object).
    pub fn new(value: &'a Value, index: usize, path: &str) -> Result<Self, VmDocError> {
        Self::new_in(value, index, path, Dialect::Json, None)
    }

    /// [`VmDoc::new`] with messages in dialect `d`. `key_order` is the order
    /// the caller wrote the keys in (serde_json objects are sorted): of several
    /// bad keys, the first in that order is reported. Keys it does not list
    /// come after, sorted.
    ///
    /// # Errors
    /// See [`VmDoc::new`].
    pub fn new_in(
        value: &'a Value,
        index: usize,
        path: &str,
        d: Dialect,
        key_order: Option<&[String]>,
    ) -> Result<Self, VmDocError> {
        let err = |path: String, message: String| VmDocError { path, message };
        let (an_object, true_or_false) = match d {
            Dialect::Python => ("a dict", "True or False"),
            Dialect::Json => ("an object", "true or false"),
        };
        let Value::Object(obj) = value else {
            return Err(err(
                path.into(),
                format!("expected a VM {}, got {}", d.object(), d.kind(value)),
            ));
        };
        if obj.len() == 1 {
            if let Some(vm) = obj.get("VM") {
                let Value::Object(vm) = vm else {
                    return Err(err(
                        format!("{path}.VM"),
                        format!("expected {an_object}, got {}", d.kind(vm)),
                    ));
                };
                return Ok(Self {
                    shape: Shape::OpenNebula(vm),
                    index,
                });
            }
        }
        let mut entries: Vec<(&String, &Value)> = obj.iter().collect();
        if let Some(order) = key_order {
            entries.sort_by_key(|(k, _)| order.iter().position(|o| o == *k).unwrap_or(usize::MAX));
        }
        for (key, v) in entries {
            match key.as_str() {
                "IN_POOL" if !v.is_boolean() => {
                    return Err(err(format!("{path}.IN_POOL"), format!("expected {true_or_false}, got {}", d.kind(v))))
                }
                "ROOT" if !v.is_object() => {
                    return Err(err(format!("{path}.ROOT"), format!("expected {an_object} of extra /VM attributes, got {}", d.kind(v))))
                }
                k if VM_KEYS.contains(&k) => {}
                _ => {
                    return Err(err(
                        format!("{path}.{key}"),
                        format!("unknown key; allowed: {} (or a single \"VM\" key holding an OpenNebula VM document)", VM_KEYS.join(", ")),
                    ))
                }
            }
        }
        Ok(Self {
            shape: Shape::Case(obj),
            index,
        })
    }

    /// Checks a list of VMs: a JSON array, or an object with a `vms` array.
    ///
    /// # Errors
    /// See [`VmDoc::new`]; also when `value` is neither shape.
    pub fn list(value: &'a Value, path: &str) -> Result<Vec<Self>, VmDocError> {
        let items = match value {
            Value::Array(items) => items,
            Value::Object(o) if o.get("vms").is_some_and(Value::is_array) => {
                return Self::list(&o["vms"], &format!("{path}.vms"));
            }
            other => {
                return Err(VmDocError {
                    path: path.into(),
                    message: format!(
                        "expected an array of VMs (or {{\"vms\": [...]}}), got {}",
                        kind(other)
                    ),
                })
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| Self::new(v, i, &format!("{path}[{i}]")))
            .collect()
    }
}

/// JSON type name for messages.
pub fn kind(v: &Value) -> &'static str {
    Dialect::Json.kind(v)
}

/// `section[name]` the way Ruby evaluates it on the XML-to-hash value.
fn get_in<'v>(section: Option<&'v Value>, name: &str, absent: Lookup<'v>) -> Lookup<'v> {
    match section {
        None => absent,
        Some(Value::Object(m)) => value_lookup(m.get(name)),
        Some(Value::Null) | Some(Value::Bool(_)) => Lookup::NoSection,
        // String#[](str): the substring when it occurs, else nil.
        Some(Value::String(s)) => match s.find(name) {
            Some(at) => s
                .get(at..at + name.len())
                .map_or(Lookup::Missing, Lookup::Text),
            None => Lookup::Missing,
        },
        Some(Value::Array(_)) | Some(Value::Number(_)) => Lookup::BadSection,
    }
}

fn value_lookup(v: Option<&Value>) -> Lookup<'_> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Lookup::Missing,
        Some(Value::Bool(true)) => Lookup::NotNumeric,
        Some(Value::String(s)) => Lookup::Text(s),
        Some(Value::Number(n)) => n.as_f64().map_or(Lookup::NotNumeric, Lookup::Number),
        Some(Value::Object(m)) if m.is_empty() => Lookup::Empty,
        Some(Value::Object(_)) => Lookup::Nested,
        Some(Value::Array(_)) => Lookup::Array,
    }
}

fn is_three(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if s == "3")
}

impl VmView for VmDoc<'_> {
    fn is_running(&self) -> bool {
        match self.shape {
            Shape::OpenNebula(vm) => is_three(vm.get("STATE")) && is_three(vm.get("LCM_STATE")),
            Shape::Case(o) => {
                let in_pool = o.get("IN_POOL").and_then(Value::as_bool).unwrap_or(true);
                let state = |k: &str| o.get(k).is_none_or(|v| is_three(Some(v)));
                in_pool && state("STATE") && state("LCM_STATE")
            }
        }
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        match self.shape {
            Shape::OpenNebula(vm) => match section {
                Section::UserTemplate => get_in(vm.get("USER_TEMPLATE"), name, Lookup::NoSection),
                Section::Monitoring => get_in(vm.get("MONITORING"), name, Lookup::NoSection),
                Section::Template => get_in(vm.get("TEMPLATE"), name, Lookup::NoSection),
                Section::Root => value_lookup(vm.get(name)),
                _ => Lookup::Missing,
            },
            Shape::Case(o) => match section {
                Section::UserTemplate => get_in(o.get("USER_TEMPLATE"), name, Lookup::Missing),
                Section::Monitoring => match o.get("MONITORING") {
                    Some(m) => get_in(Some(m), name, Lookup::Missing),
                    None => get_in(o.get("POOL_MONITORING"), name, Lookup::Missing),
                },
                Section::Template => get_in(o.get("TEMPLATE"), name, Lookup::Missing),
                Section::Root => self.case_root(o, name),
                _ => Lookup::Missing,
            },
        }
    }
}

impl VmDoc<'_> {
    /// `/VM[name]` for a conformance-shape VM: `ROOT` extras, then the
    /// elements every VM has.
    fn case_root<'v>(&self, o: &'v Map<String, Value>, name: &str) -> Lookup<'v> {
        if let Some(root) = o.get("ROOT").and_then(Value::as_object) {
            if root.contains_key(name) {
                return value_lookup(root.get(name));
            }
        }
        match name {
            "ID" => match o.get("ID") {
                Some(v) => value_lookup(Some(v)),
                None => Lookup::Number(self.index as f64),
            },
            "STATE" | "LCM_STATE" => match o.get(name) {
                Some(v) => value_lookup(Some(v)),
                None => Lookup::Text("3"),
            },
            "NAME" => Lookup::Text("stamen-vm"),
            "USER_TEMPLATE" | "TEMPLATE" | "MONITORING" => {
                let v = if name == "MONITORING" && !o.contains_key("MONITORING") {
                    o.get("POOL_MONITORING")
                } else {
                    o.get(name)
                };
                match v {
                    None => Lookup::Empty,
                    Some(v) => value_lookup(Some(v)),
                }
            }
            _ => Lookup::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stamen_core::expr::average;

    #[test]
    fn lookups_follow_oneflow() {
        let doc = json!([
            {"USER_TEMPLATE": {"CPU": "1"}, "MONITORING": {"CPU": "2"}},
            {"USER_TEMPLATE": {}, "POOL_MONITORING": {"CPU": "7"}, "MONITORING": {"MEM": "9"}},
            {"USER_TEMPLATE": {"CPU": {}}, "MONITORING": {"CPU": "50"}},
            {"VM": {"STATE": "3", "LCM_STATE": "3", "USER_TEMPLATE": {}, "MONITORING": {"CPU": "3"}, "TEMPLATE": {}}},
            {"USER_TEMPLATE": {"CPU": "100"}, "IN_POOL": false},
        ]);
        let vms = VmDoc::list(&doc, "vms").unwrap();
        // VM 1's pool monitoring is replaced by its monitoring record; VM 2
        // has an empty element (skipped); VM 4 is not in the pool.
        assert_eq!(average(&vms, "CPU"), Ok(Some(2.0)));
        assert_eq!(average(&vms, "ID"), Ok(Some(1.0))); // 0, 1, 2 (VM 3 has no ID)
    }

    #[test]
    fn rejects_bad_documents() {
        let e = VmDoc::list(&json!([{"USER_TEMPLATE": {}}, {"STAT": "3"}]), "vms").unwrap_err();
        assert_eq!(e.path, "vms[1].STAT");
        let e = VmDoc::list(&json!([{"IN_POOL": "no"}]), "vms").unwrap_err();
        assert_eq!(e.path, "vms[0].IN_POOL");
        assert!(VmDoc::list(&json!(3), "vms").is_err());
    }
}
