//! OneFlow role / service JSON documents → `stamen_core::policy` structs.
//!
//! OneFlow reads numeric fields with Ruby's `to_i` (so `"adjust": "2"` is 2,
//! `"2x"` is 2, a missing one is 0) and type names after `upcase`; this module
//! does the same conversions. Values OneFlow would crash on (`true.to_i`, a
//! number where a string method is called, …) are reported as errors with the
//! JSON path of the field.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::Dialect;
use stamen_core::policy::ruby::{float_to_i, str_to_i};
use stamen_core::policy::time::TimeError;
use stamen_core::policy::{
    Adjustment, AdjustmentType, Autoscaler, Bounds, CronError, ElasticityPolicy, ElasticityState,
    Inert, RubyException, Schedule, ScheduledPolicy, ScheduledState, Trace, DEFAULT_COOLDOWN,
};

/// Policies per kind per role the agent's autoscaler holds.
pub const MAX_POLICIES: usize = 64;
/// Bytes of `expression_evaluated` per policy.
pub const TRACE_CAPACITY: usize = 4096;

/// The agent's autoscaler type.
pub type RoleAutoscaler<'a> = Autoscaler<'a, MAX_POLICIES, TRACE_CAPACITY>;

/// A field that cannot be read the way OneFlow reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    /// JSON path of the field, e.g. `$.roles[1].elasticity_policies[0].adjust`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for DocError {}

fn err(path: &str, message: impl Into<String>) -> DocError {
    DocError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Ruby's class name of `v` for messages. The CLI has always said `Integer`
/// for every JSON number; Python tells its floats apart.
fn ruby_class(v: &Value, d: Dialect) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        Value::Number(n) if d == Dialect::Python && n.is_f64() => "Float",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Hash",
    }
}

/// Ruby `value.to_i` for a JSON value (`nil` → 0). Booleans, arrays and
/// objects have no `to_i`: OneFlow would crash, so they are errors.
pub fn to_i(v: Option<&Value>, path: &str) -> Result<i64, DocError> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if n.as_u64().is_some() {
                Ok(i64::MAX)
            } else {
                n.as_f64()
                    .and_then(float_to_i)
                    .ok_or_else(|| err(path, "number out of range"))
            }
        }
        Some(Value::String(s)) => Ok(str_to_i(s)),
        Some(other) => Err(err(
            path,
            format!(
                "expected a number or numeric string, got {} (OneFlow would crash: NoMethodError, undefined method `to_i')",
                ruby_class(other, Dialect::Json)
            ),
        )),
    }
}

/// `to_i` of an optional field: `None` when absent or null.
pub fn opt_to_i(v: Option<&Value>, path: &str) -> Result<Option<i64>, DocError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        some => to_i(some, path).map(Some),
    }
}

fn opt_str<'v>(
    v: Option<&'v Value>,
    path: &str,
    what: &str,
    d: Dialect,
) -> Result<Option<&'v str>, DocError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            let got = ruby_class(other, d);
            Err(err(
                path,
                match d {
                    Dialect::Python => {
                        format!("must be a string, got {got} (OneFlow would crash on it)")
                    }
                    Dialect::Json => {
                        format!("{what} must be a string, got {got} (OneFlow would crash on it)")
                    }
                },
            ))
        }
    }
}

/// "must be an array" / "must be a list", with what was given instead.
fn not_array(v: &Value, d: Dialect) -> String {
    match d {
        Dialect::Python => format!("must be a list, got {}", d.kind(v)),
        Dialect::Json => format!("must be an array, got {}", ruby_class(v, d)),
    }
}

/// An elasticity policy as read from JSON, with its original object.
#[derive(Debug, Clone)]
pub struct ElasticityDoc {
    /// The policy object as given (runtime keys included).
    pub raw: Map<String, Value>,
    /// `expression` (None when absent or null).
    pub expression: Option<String>,
    /// Type/adjust/min_adjust_step.
    pub adjustment: Adjustment,
    /// `period`.
    pub period: i64,
    /// `period_number`.
    pub period_number: i64,
    /// `cooldown`.
    pub cooldown: Option<i64>,
    /// Runtime keys present in the input (to resume a run).
    pub last_eval: Option<i64>,
    /// `true_evals` given in the input.
    pub true_evals: Option<i64>,
}

/// A scheduled policy as read from JSON.
#[derive(Debug, Clone)]
pub struct ScheduledDoc {
    /// The policy object as given.
    pub raw: Map<String, Value>,
    /// Type/adjust/min_adjust_step; `None` when `adjust` is missing.
    pub adjustment: Option<Adjustment>,
    /// `start_time` (string).
    pub start_time: Option<String>,
    /// `recurrence` (string).
    pub recurrence: Option<String>,
    /// Timing derived from the two, or why `start_time` is not supported.
    pub schedule: Result<Schedule, TimeError>,
    /// `cooldown`.
    pub cooldown: Option<i64>,
    /// `last_eval` given in the input.
    pub last_eval: Option<i64>,
}

/// A role as read from JSON.
#[derive(Debug, Clone)]
pub struct RoleDoc {
    /// JSON path of the role (`$` or `$.roles[i]`).
    pub path: String,
    /// The role object as given.
    pub raw: Map<String, Value>,
    /// `name`.
    pub name: Option<String>,
    /// `cardinality` (to_i).
    pub cardinality: i64,
    /// `min_vms`.
    pub min_vms: Option<i64>,
    /// `max_vms`.
    pub max_vms: Option<i64>,
    /// `cooldown`.
    pub cooldown: Option<i64>,
    /// `elasticity_policies` (None when absent or null).
    pub elasticity: Option<Vec<ElasticityDoc>>,
    /// `scheduled_policies` (None when absent or null).
    pub scheduled: Option<Vec<ScheduledDoc>>,
}

fn policies<'v>(
    role: &'v Map<String, Value>,
    key: &str,
    path: &str,
    d: Dialect,
) -> Result<Option<&'v Vec<Value>>, DocError> {
    match role.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(err(&format!("{path}.{key}"), not_array(other, d))),
    }
}

/// `v` as an object, or an error at `path`.
///
/// # Errors
/// When `v` is not an object (`must be an object, got Array` /
/// `expected a dict, got a list`).
pub fn object<'v>(
    v: &'v Value,
    path: &str,
    d: Dialect,
) -> Result<&'v Map<String, Value>, DocError> {
    v.as_object().ok_or_else(|| {
        err(
            path,
            match d {
                Dialect::Python => format!("expected a dict, got {}", d.kind(v)),
                Dialect::Json => format!("must be an object, got {}", ruby_class(v, d)),
            },
        )
    })
}

/// Methods OneFlow calls on policy fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RubyMethod {
    /// `to_i` (numbers).
    ToI,
    /// `upcase` (`type`).
    Upcase,
    /// `empty?` (`start_time`, `recurrence`).
    Empty,
    /// `match` (`start_time`).
    Match,
}

macro_rules! no_method_table {
    ($m:expr, $v:expr, [$(($method:ident, $name:literal)),*]) => {
        match ($m, $v) {
            $(
                (RubyMethod::$method, Value::Null) => concat!("undefined method '", $name, "' for nil"),
                (RubyMethod::$method, Value::Bool(true)) => concat!("undefined method '", $name, "' for true"),
                (RubyMethod::$method, Value::Bool(false)) => concat!("undefined method '", $name, "' for false"),
                (RubyMethod::$method, Value::Number(n)) if n.is_f64() => concat!("undefined method '", $name, "' for an instance of Float"),
                (RubyMethod::$method, Value::Number(_)) => concat!("undefined method '", $name, "' for an instance of Integer"),
                (RubyMethod::$method, Value::String(_)) => concat!("undefined method '", $name, "' for an instance of String"),
                (RubyMethod::$method, Value::Array(_)) => concat!("undefined method '", $name, "' for an instance of Array"),
                (RubyMethod::$method, Value::Object(_)) => concat!("undefined method '", $name, "' for an instance of Hash"),
            )*
        }
    };
}

/// The `NoMethodError` OneFlow raises calling `method` on `v` (current Ruby wording).
pub fn no_method(method: RubyMethod, v: &Value) -> RubyException {
    let message = no_method_table!(
        method,
        v,
        [
            (ToI, "to_i"),
            (Upcase, "upcase"),
            (Empty, "empty?"),
            (Match, "match")
        ]
    );
    RubyException {
        class: "NoMethodError",
        message,
    }
}

fn has_to_i(v: Option<&Value>) -> bool {
    matches!(
        v,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    )
}

/// Type/adjust/min_adjust_step of policy `p` (at `path`). Values OneFlow cannot convert make the policy
/// crash when it fires (`AdjustmentType::Crash`), in OneFlow's order:
/// `adjust.to_i`, `type.upcase`, then (PERCENTAGE_CHANGE) `min_adjust_step.to_i`.
pub fn adjustment(p: &Map<String, Value>, path: &str) -> Result<Adjustment, DocError> {
    let crash = |e| Adjustment {
        kind: AdjustmentType::Crash(e),
        adjust: 0,
        min_adjust_step: 0,
    };
    let adjust = p.get("adjust");
    if !has_to_i(adjust) {
        return Ok(crash(no_method(
            RubyMethod::ToI,
            adjust.unwrap_or(&Value::Null),
        )));
    }
    let kind = match p.get("type") {
        None | Some(Value::Null) => AdjustmentType::Missing,
        Some(Value::String(name)) => AdjustmentType::from_name(Some(name)),
        Some(other) => return Ok(crash(no_method(RubyMethod::Upcase, other))),
    };
    let step = p.get("min_adjust_step");
    let min_adjust_step = match (kind, has_to_i(step)) {
        (_, true) => to_i(step, &format!("{path}.min_adjust_step"))?,
        (AdjustmentType::PercentageChange, false) => {
            return Ok(crash(no_method(
                RubyMethod::ToI,
                step.unwrap_or(&Value::Null),
            )))
        }
        // Only PERCENTAGE_CHANGE reads it.
        (_, false) => 0,
    };
    Ok(Adjustment {
        kind,
        adjust: to_i(adjust, &format!("{path}.adjust"))?,
        min_adjust_step,
    })
}

/// The bounds of role `r` (at `path`): `cardinality`, `min_vms`, `max_vms`.
///
/// # Errors
/// When one of them has no `to_i`.
pub fn bounds(r: &Map<String, Value>, path: &str) -> Result<Bounds, DocError> {
    Ok(Bounds {
        cardinality: to_i(r.get("cardinality"), &format!("{path}.cardinality"))?,
        min_vms: opt_to_i(r.get("min_vms"), &format!("{path}.min_vms"))?,
        max_vms: opt_to_i(r.get("max_vms"), &format!("{path}.max_vms"))?,
    })
}

/// `start_time` / `recurrence` as `scale_time?` reads them: strings as usual;
/// empty arrays/objects count as empty; other non-strings crash OneFlow
/// (`empty?` / `match` missing) or make the cron parser fail (rescued).
fn schedule_of(start: Option<&Value>, recurrence: Option<&Value>) -> Result<Schedule, TimeError> {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    match start {
        Some(Value::String(s)) if !s.is_empty() => return Schedule::from_fields(Some(s), None),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => {
            return Ok(Schedule::Crash(no_method(RubyMethod::Empty, v)))
        }
        Some(v @ (Value::Array(_) | Value::Object(_))) if !empty(v) => {
            return Ok(Schedule::Crash(no_method(RubyMethod::Match, v)))
        }
        _ => {}
    }
    match recurrence {
        Some(Value::String(r)) => Schedule::from_fields(None, Some(r)),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => {
            Ok(Schedule::Crash(no_method(RubyMethod::Empty, v)))
        }
        Some(v @ (Value::Array(_) | Value::Object(_))) if !empty(v) => {
            // CronParser.new raises ArgumentError (no `split`), rescued.
            Ok(Schedule::Never(Inert::Cron(CronError::FieldCount)))
        }
        _ => Ok(Schedule::Never(Inert::NoSchedule)),
    }
}

/// Reads one elasticity policy object.
pub fn elasticity_doc(v: &Value, path: &str) -> Result<ElasticityDoc, DocError> {
    elasticity_doc_in(v, path, Dialect::Json)
}

/// A runtime key of a policy (`last_eval`, …), read in the JSON dialect only.
fn runtime_key(
    p: &Map<String, Value>,
    key: &str,
    path: &str,
    d: Dialect,
) -> Result<Option<i64>, DocError> {
    match d {
        Dialect::Json => opt_to_i(p.get(key), &format!("{path}.{key}")),
        Dialect::Python => Ok(None),
    }
}

/// [`elasticity_doc`] with messages in dialect `d`.
pub fn elasticity_doc_in(v: &Value, path: &str, d: Dialect) -> Result<ElasticityDoc, DocError> {
    let p = object(v, path, d)?;
    Ok(ElasticityDoc {
        raw: p.clone(),
        expression: opt_str(
            p.get("expression"),
            &format!("{path}.expression"),
            "expression",
            d,
        )?
        .map(str::to_string),
        adjustment: adjustment(p, path)?,
        period: to_i(p.get("period"), &format!("{path}.period"))?,
        period_number: to_i(p.get("period_number"), &format!("{path}.period_number"))?,
        cooldown: opt_to_i(p.get("cooldown"), &format!("{path}.cooldown"))?,
        last_eval: runtime_key(p, "last_eval", path, d)?,
        true_evals: runtime_key(p, "true_evals", path, d)?,
    })
}

/// Reads one scheduled policy object.
pub fn scheduled_doc(v: &Value, path: &str) -> Result<ScheduledDoc, DocError> {
    scheduled_doc_in(v, path, Dialect::Json)
}

/// [`scheduled_doc`] with messages in dialect `d`.
pub fn scheduled_doc_in(v: &Value, path: &str, d: Dialect) -> Result<ScheduledDoc, DocError> {
    let p = object(v, path, d)?;
    let start_time = p.get("start_time").and_then(Value::as_str);
    let recurrence = p.get("recurrence").and_then(Value::as_str);
    let schedule = schedule_of(p.get("start_time"), p.get("recurrence"));
    let adjustment = match p.get("adjust") {
        None | Some(Value::Null) => None,
        Some(_) => Some(adjustment(p, path)?),
    };
    Ok(ScheduledDoc {
        raw: p.clone(),
        adjustment,
        start_time: start_time.map(str::to_string),
        recurrence: recurrence.map(str::to_string),
        schedule,
        cooldown: opt_to_i(p.get("cooldown"), &format!("{path}.cooldown"))?,
        last_eval: runtime_key(p, "last_eval", path, d)?,
    })
}

/// Reads a role object found at `path`.
pub fn role_doc(v: &Value, path: &str) -> Result<RoleDoc, DocError> {
    role_doc_in(v, path, Dialect::Json)
}

/// [`role_doc`] with messages in dialect `d`.
pub fn role_doc_in(v: &Value, path: &str, d: Dialect) -> Result<RoleDoc, DocError> {
    let r = object(v, path, d)?;
    let elasticity = match policies(r, "elasticity_policies", path, d)? {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, p)| elasticity_doc_in(p, &format!("{path}.elasticity_policies[{i}]"), d))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let scheduled = match policies(r, "scheduled_policies", path, d)? {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, p)| scheduled_doc_in(p, &format!("{path}.scheduled_policies[{i}]"), d))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let name = opt_str(r.get("name"), &format!("{path}.name"), "name", d)?;
    let b = bounds(r, path)?;
    Ok(RoleDoc {
        path: path.to_string(),
        raw: r.clone(),
        name: name.map(str::to_string),
        cardinality: b.cardinality,
        min_vms: b.min_vms,
        max_vms: b.max_vms,
        cooldown: opt_to_i(r.get("cooldown"), &format!("{path}.cooldown"))?,
        elasticity,
        scheduled,
    })
}

/// Reads either a OneFlow service template (an object with `roles`, possibly
/// wrapped as `{"DOCUMENT": {"TEMPLATE": {"BODY": …}}}`) or a single role.
/// Paths start at [`root_path`].
pub fn roles_of(doc: &Value) -> Result<Vec<RoleDoc>, DocError> {
    roles_in(doc, root_path(doc), Dialect::Json)
}

/// [`roles_of`] with paths under `root` and messages in dialect `d`.
pub fn roles_in(doc: &Value, root: &str, d: Dialect) -> Result<Vec<RoleDoc>, DocError> {
    let body = body_of(doc);
    match body.get("roles") {
        Some(Value::Array(roles)) => roles
            .iter()
            .enumerate()
            .map(|(i, r)| role_doc_in(r, &format!("{root}.roles[{i}]"), d))
            .collect(),
        Some(other) => Err(err(&format!("{root}.roles"), not_array(other, d))),
        None => Ok(vec![role_doc_in(body, root, d)?]),
    }
}

/// The service body: `DOCUMENT.TEMPLATE.BODY` when present, else `doc`.
pub fn body_of(doc: &Value) -> &Value {
    doc.pointer("/DOCUMENT/TEMPLATE/BODY").unwrap_or(doc)
}

/// JSON path of the service body: `$.DOCUMENT.TEMPLATE.BODY` for a document as
/// `oneflow-template show --json` prints it, `$` otherwise.
pub fn root_path(doc: &Value) -> &'static str {
    if doc.pointer("/DOCUMENT/TEMPLATE/BODY").is_some() {
        "$.DOCUMENT.TEMPLATE.BODY"
    } else {
        "$"
    }
}

impl RoleDoc {
    /// Builds the core autoscaler (policies borrow their expressions from `self`).
    pub fn autoscaler(&self) -> Result<Box<RoleAutoscaler<'_>>, DocError> {
        let bounds = Bounds {
            cardinality: self.cardinality,
            min_vms: self.min_vms,
            max_vms: self.max_vms,
        };
        let mut a = Box::new(Autoscaler::new(bounds, self.cooldown, DEFAULT_COOLDOWN));
        for (i, p) in self.elasticity.iter().flatten().enumerate() {
            let policy = ElasticityPolicy {
                expression: p.expression.as_deref(),
                adjustment: p.adjustment,
                period: p.period,
                period_number: p.period_number,
                cooldown: p.cooldown,
            };
            let state = ElasticityState {
                last_eval: p.last_eval,
                true_evals: p.true_evals,
                expression_evaluated: match p.raw.get("expression_evaluated") {
                    None => Trace::Absent,
                    Some(Value::String(s)) => {
                        Trace::Text(heapless::String::try_from(s.as_str()).map_err(|_| {
                            err(
                                &format!(
                                    "{}.elasticity_policies[{i}].expression_evaluated",
                                    self.path
                                ),
                                "too long",
                            )
                        })?)
                    }
                    Some(_) => Trace::Null,
                },
            };
            a.add_elasticity(policy, state).map_err(|e| {
                err(
                    &format!("{}.elasticity_policies", self.path),
                    format!("{e} ({MAX_POLICIES})"),
                )
            })?;
        }
        for (i, p) in self.scheduled.iter().flatten().enumerate() {
            let schedule = p.schedule.map_err(|e| {
                err(
                    &format!("{}.scheduled_policies[{i}].start_time", self.path),
                    format!("{e}; got {:?}", p.start_time.as_deref().unwrap_or("")),
                )
            })?;
            let policy = ScheduledPolicy {
                adjustment: p.adjustment,
                schedule,
                cooldown: p.cooldown,
            };
            a.add_scheduled(
                policy,
                ScheduledState {
                    last_eval: p.last_eval,
                },
            )
            .map_err(|e| {
                err(
                    &format!("{}.scheduled_policies", self.path),
                    format!("{e} ({MAX_POLICIES})"),
                )
            })?;
        }
        Ok(a)
    }
}

/// A JSON value whose objects keep their keys in insertion order when
/// serialized, to mirror Ruby hashes (runtime keys appear where OneFlow adds
/// them).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A plain value (its own objects print in key order).
    Value(Value),
    /// An ordered object.
    Object(OrderedObject),
    /// An array of nodes.
    Array(Vec<Node>),
}

impl From<Value> for Node {
    fn from(v: Value) -> Self {
        Node::Value(v)
    }
}

impl Node {
    /// As a plain `serde_json::Value` (key order lost).
    pub fn to_value(&self) -> Value {
        match self {
            Node::Value(v) => v.clone(),
            Node::Object(o) => o.to_value(),
            Node::Array(a) => Value::Array(a.iter().map(Node::to_value).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    /// Reads JSON keeping the key order of every object.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Value(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Value(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Value(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Value(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Value(Value::from(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Value(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Value(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            out.push(n);
        }
        Ok(Node::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = OrderedObject::default();
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            out.set(&k, Some(v));
        }
        Ok(Node::Object(out))
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Value(v) => v.serialize(s),
            Node::Object(o) => o.serialize(s),
            Node::Array(a) => a.serialize(s),
        }
    }
}

/// An object with keys in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderedObject(pub Vec<(String, Node)>);

impl OrderedObject {
    /// Sets `key`: replaced in place when present, appended otherwise;
    /// `None` deletes it.
    pub fn set(&mut self, key: &str, value: Option<Node>) {
        let pos = self.0.iter().position(|(k, _)| k == key);
        match (pos, value) {
            (Some(i), Some(v)) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = v;
                }
            }
            (None, Some(v)) => self.0.push((key.to_string(), v)),
            (Some(i), None) => {
                self.0.remove(i);
            }
            (None, None) => {}
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to a plain value.
    pub fn set_value(&mut self, key: &str, value: Value) {
        self.set(key, Some(Node::Value(value)));
    }

    /// As a plain `serde_json::Value` (key order lost).
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect(),
        )
    }
}

impl From<&Map<String, Value>> for OrderedObject {
    fn from(m: &Map<String, Value>) -> Self {
        OrderedObject(
            m.iter()
                .map(|(k, v)| (k.clone(), Node::Value(v.clone())))
                .collect(),
        )
    }
}

impl Serialize for OrderedObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn to_i_like_ruby() {
        assert_eq!(to_i(Some(&json!("2")), "$"), Ok(2));
        assert_eq!(to_i(Some(&json!("2x")), "$"), Ok(2));
        assert_eq!(to_i(Some(&json!(2.9)), "$"), Ok(2));
        assert_eq!(to_i(None, "$"), Ok(0));
        assert!(to_i(Some(&json!(true)), "$.adjust").is_err());
    }

    #[test]
    fn reads_service_and_single_role() {
        let svc = json!({"roles": [{"name": "superlink", "cardinality": 1},
                                   {"name": "client", "cardinality": "2", "min_vms": 1,
                                    "elasticity_policies": [{"type": "change", "adjust": "1", "expression": "CPU > 1"}]}]});
        let roles = roles_of(&svc).unwrap_or_default();
        assert_eq!(roles.len(), 2);
        assert_eq!(roles.get(1).map(|r| r.cardinality), Some(2));
        let single = roles_of(&json!({"cardinality": 3})).unwrap_or_default();
        assert_eq!(single.first().map(|r| r.path.as_str()), Some("$"));
        let bad = roles_of(&json!({"roles": [{"elasticity_policies": [{"period": [1]}]}]}));
        assert_eq!(
            bad.err().map(|e| e.path),
            Some("$.roles[0].elasticity_policies[0].period".to_string())
        );
    }
}
