//! Typed OneGate JSON documents (`/vm`, `/vms/:id`, `/service`).
//!
//! OneGate renders OpenNebula XML as JSON, which brings three quirks handled
//! here: scalars are strings (`"ID": "42"`) though OneFlow fields are numbers
//! (`"state": 2`), so scalar fields accept both; an element that occurs once
//! is an object and several are an array (`NIC`, `NIC_ALIAS`, roles, nodes),
//! so list fields accept both; and an empty element is `{}`, so scalar fields
//! read `{}` as absent. Unknown fields are kept (`other`) or ignored, never an
//! error.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `{"VM": {...}}` from `GET /vm`, `GET /vms/:id`, or a service node's `vm_info`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct VmDocument {
    /// The VM.
    #[serde(rename = "VM")]
    pub vm: Vm,
}

/// A VM.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Vm {
    /// `ID`.
    #[serde(rename = "ID", default, deserialize_with = "scalar")]
    pub id: Option<String>,
    /// `NAME`.
    #[serde(rename = "NAME", default, deserialize_with = "scalar")]
    pub name: Option<String>,
    /// `STATE` (number as string, see [`vm_state_name`]).
    #[serde(rename = "STATE", default, deserialize_with = "scalar")]
    pub state: Option<String>,
    /// `LCM_STATE`.
    #[serde(rename = "LCM_STATE", default, deserialize_with = "scalar")]
    pub lcm_state: Option<String>,
    /// `USER_TEMPLATE`: attributes set by `vm update` (strings, sometimes nested).
    #[serde(
        rename = "USER_TEMPLATE",
        default,
        deserialize_with = "object_or_empty"
    )]
    pub user_template: Map<String, Value>,
    /// `TEMPLATE`.
    #[serde(rename = "TEMPLATE", default)]
    pub template: VmTemplate,
}

impl Vm {
    /// A string attribute of USER_TEMPLATE (numbers are given as their text).
    pub fn user_attr(&self, key: &str) -> Option<String> {
        scalar_text(self.user_template.get(key)?)
    }

    /// The ID as a number, if it is one.
    pub fn id_u64(&self) -> Option<u64> {
        self.id.as_deref()?.parse().ok()
    }
}

/// A VM's `TEMPLATE`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct VmTemplate {
    /// `NIC`: one object or an array of them.
    #[serde(rename = "NIC", default, deserialize_with = "one_or_many")]
    pub nics: Vec<Nic>,
    /// `NIC_ALIAS`: one object or an array of them.
    #[serde(rename = "NIC_ALIAS", default, deserialize_with = "one_or_many")]
    pub nic_aliases: Vec<Nic>,
    /// `CONTEXT`, when present (extended documents).
    #[serde(rename = "CONTEXT", default, deserialize_with = "object_or_empty")]
    pub context: Map<String, Value>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A `NIC` or `NIC_ALIAS`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Nic {
    /// `IP` (IPv4).
    #[serde(rename = "IP", default, deserialize_with = "scalar")]
    pub ip: Option<String>,
    /// `IP6_GLOBAL`.
    #[serde(rename = "IP6_GLOBAL", default, deserialize_with = "scalar")]
    pub ip6_global: Option<String>,
    /// `MAC`.
    #[serde(rename = "MAC", default, deserialize_with = "scalar")]
    pub mac: Option<String>,
    /// `NAME`.
    #[serde(rename = "NAME", default, deserialize_with = "scalar")]
    pub name: Option<String>,
    /// `NETWORK`.
    #[serde(rename = "NETWORK", default, deserialize_with = "scalar")]
    pub network: Option<String>,
    /// `NIC_ID`.
    #[serde(rename = "NIC_ID", default, deserialize_with = "scalar")]
    pub nic_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `{"SERVICE": {...}}` from `GET /service`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServiceDocument {
    /// The service.
    #[serde(rename = "SERVICE")]
    pub service: Service,
}

impl ServiceDocument {
    /// The role called `name`, if any.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.service
            .roles
            .iter()
            .find(|r| r.name.as_deref() == Some(name))
    }
}

/// A OneFlow service.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Service {
    /// `id`.
    #[serde(default, deserialize_with = "scalar")]
    pub id: Option<String>,
    /// `name`.
    #[serde(default, deserialize_with = "scalar")]
    pub name: Option<String>,
    /// `state` (number; see [`service_state_name`]).
    #[serde(default, deserialize_with = "scalar")]
    pub state: Option<String>,
    /// `roles`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub roles: Vec<Role>,
}

/// A service role.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Role {
    /// `name`.
    #[serde(default, deserialize_with = "scalar")]
    pub name: Option<String>,
    /// `cardinality`.
    #[serde(default, deserialize_with = "scalar")]
    pub cardinality: Option<String>,
    /// `state`.
    #[serde(default, deserialize_with = "scalar")]
    pub state: Option<String>,
    /// `nodes` (absent or `null` → empty).
    #[serde(default, deserialize_with = "one_or_many")]
    pub nodes: Vec<Node>,
}

/// A node of a role.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Node {
    /// `deploy_id`: the VM ID.
    #[serde(default, deserialize_with = "scalar")]
    pub deploy_id: Option<String>,
    /// `vm_info`: the VM document (partial unless `extended`).
    #[serde(default)]
    pub vm_info: Option<VmDocument>,
}

impl Node {
    /// The node's VM ID as text: `vm_info.VM.ID`, else `deploy_id`.
    pub fn vm_id(&self) -> Option<&str> {
        self.vm_info
            .as_ref()
            .and_then(|d| d.vm.id.as_deref())
            .or(self.deploy_id.as_deref())
            .filter(|s| !s.is_empty())
    }
}

/// VM `STATE` names, by number.
pub const VM_STATES: &[&str] = &[
    "INIT",
    "PENDING",
    "HOLD",
    "ACTIVE",
    "STOPPED",
    "SUSPENDED",
    "DONE",
    "FAILED",
    "POWEROFF",
    "UNDEPLOYED",
    "CLONING",
    "CLONING_FAILURE",
];

/// VM `LCM_STATE` names, by number.
pub const LCM_STATES: &[&str] = &[
    "LCM_INIT",
    "PROLOG",
    "BOOT",
    "RUNNING",
    "MIGRATE",
    "SAVE_STOP",
    "SAVE_SUSPEND",
    "SAVE_MIGRATE",
    "PROLOG_MIGRATE",
    "PROLOG_RESUME",
    "EPILOG_STOP",
    "EPILOG",
    "SHUTDOWN",
    "CANCEL",
    "FAILURE",
    "CLEANUP_RESUBMIT",
    "UNKNOWN",
    "HOTPLUG",
    "SHUTDOWN_POWEROFF",
    "BOOT_UNKNOWN",
    "BOOT_POWEROFF",
    "BOOT_SUSPENDED",
    "BOOT_STOPPED",
    "CLEANUP_DELETE",
    "HOTPLUG_SNAPSHOT",
    "HOTPLUG_NIC",
    "HOTPLUG_SAVEAS",
    "HOTPLUG_SAVEAS_POWEROFF",
    "HOTPLUG_SAVEAS_SUSPENDED",
    "SHUTDOWN_UNDEPLOY",
    "EPILOG_UNDEPLOY",
    "PROLOG_UNDEPLOY",
    "BOOT_UNDEPLOY",
    "HOTPLUG_PROLOG_POWEROFF",
    "HOTPLUG_EPILOG_POWEROFF",
    "BOOT_MIGRATE",
    "BOOT_FAILURE",
    "BOOT_MIGRATE_FAILURE",
    "PROLOG_MIGRATE_FAILURE",
    "PROLOG_FAILURE",
    "EPILOG_FAILURE",
    "EPILOG_STOP_FAILURE",
    "EPILOG_UNDEPLOY_FAILURE",
    "PROLOG_MIGRATE_POWEROFF",
    "PROLOG_MIGRATE_POWEROFF_FAILURE",
    "PROLOG_MIGRATE_SUSPEND",
    "PROLOG_MIGRATE_SUSPEND_FAILURE",
    "BOOT_UNDEPLOY_FAILURE",
    "BOOT_STOPPED_FAILURE",
    "PROLOG_RESUME_FAILURE",
    "PROLOG_UNDEPLOY_FAILURE",
    "DISK_SNAPSHOT_POWEROFF",
    "DISK_SNAPSHOT_REVERT_POWEROFF",
    "DISK_SNAPSHOT_DELETE_POWEROFF",
    "DISK_SNAPSHOT_SUSPENDED",
    "DISK_SNAPSHOT_REVERT_SUSPENDED",
    "DISK_SNAPSHOT_DELETE_SUSPENDED",
    "DISK_SNAPSHOT",
    "DISK_SNAPSHOT_REVERT",
    "DISK_SNAPSHOT_DELETE",
    "PROLOG_MIGRATE_UNKNOWN",
    "PROLOG_MIGRATE_UNKNOWN_FAILURE",
    "DISK_RESIZE",
    "DISK_RESIZE_POWEROFF",
    "DISK_RESIZE_UNDEPLOYED",
    "HOTPLUG_NIC_POWEROFF",
    "HOTPLUG_RESIZE",
    "HOTPLUG_SAVEAS_UNDEPLOYED",
    "HOTPLUG_SAVEAS_STOPPED",
];

/// OneFlow service state names, by number.
pub const SERVICE_STATES: &[&str] = &[
    "PENDING",
    "DEPLOYING",
    "RUNNING",
    "UNDEPLOYING",
    "WARNING",
    "DONE",
    "FAILED_UNDEPLOYING",
    "FAILED_DEPLOYING",
    "SCALING",
    "FAILED_SCALING",
    "COOLDOWN",
    "DEPLOYING_NETS",
    "UNDEPLOYING_NETS",
    "FAILED_DEPLOYING_NETS",
    "FAILED_UNDEPLOYING_NETS",
    "HOLD",
];

/// Ruby's `String#to_i` on a state number: leading digits, else 0.
fn ruby_to_i(s: Option<&str>) -> usize {
    let s = s.unwrap_or("").trim_start();
    let digits: &str = &s[..s.bytes().take_while(u8::is_ascii_digit).count()];
    digits
        .parse()
        .unwrap_or(if digits.is_empty() { 0 } else { usize::MAX })
}

/// The VM state name as the official client prints it: the LCM state when
/// the VM is ACTIVE, else the VM state (`None` for out-of-range numbers).
pub fn vm_state_name(state: Option<&str>, lcm_state: Option<&str>) -> Option<&'static str> {
    let s = VM_STATES.get(ruby_to_i(state)).copied()?;
    if s == "ACTIVE" {
        return LCM_STATES.get(ruby_to_i(lcm_state)).copied();
    }
    Some(s)
}

/// The service state name (`None` for out-of-range numbers).
pub fn service_state_name(state: Option<&str>) -> Option<&'static str> {
    SERVICE_STATES.get(ruby_to_i(state)).copied()
}

/// Text of a JSON scalar: strings as is, numbers and booleans as their JSON
/// text; `None` for null, arrays and objects.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Object(m) if m.is_empty() => Ok(None),
        Value::Array(_) | Value::Object(_) => Err(de::Error::invalid_type(
            de::Unexpected::Other("an object or array"),
            &"a string or number",
        )),
        other => Ok(scalar_text(other)),
    }
}

fn object_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m),
        Value::Array(a) if a.is_empty() => Ok(Map::new()),
        _ => Err(de::Error::invalid_type(
            de::Unexpected::Other("a scalar or array"),
            &"an object",
        )),
    }
}

fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| T::deserialize(v).map_err(de::Error::custom))
            .collect(),
        v @ Value::Object(_) => Ok(vec![T::deserialize(v).map_err(de::Error::custom)?]),
        _ => Err(de::Error::invalid_type(
            de::Unexpected::Other("a scalar"),
            &"an object or an array of objects",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM_42: &str = r#"{"VM":{"NAME":"x_0_(service_7)","ID":"42","STATE":"3","LCM_STATE":"3",
      "USER_TEMPLATE":{"READY":"YES","FL_ENDPOINT":"10.0.0.1:8000","N":7,"USER_INPUTS":{"A":"b"}},
      "TEMPLATE":{"NIC":[{"IP":"10.10.0.42","NAME":"NIC0","NIC_ID":0},{"IP":"192.0.2.42","NAME":"NIC1"}],
      "NIC_ALIAS":[]}}}"#;

    #[test]
    fn vm_nic_array() {
        let d: VmDocument = serde_json::from_str(VM_42).unwrap();
        assert_eq!(d.vm.id.as_deref(), Some("42"));
        assert_eq!(d.vm.id_u64(), Some(42));
        assert_eq!(d.vm.template.nics.len(), 2);
        assert_eq!(d.vm.template.nics[0].ip.as_deref(), Some("10.10.0.42"));
        assert_eq!(d.vm.template.nics[0].nic_id.as_deref(), Some("0"));
        assert!(d.vm.template.nic_aliases.is_empty());
        assert_eq!(
            d.vm.user_attr("FL_ENDPOINT").as_deref(),
            Some("10.0.0.1:8000")
        );
        assert_eq!(d.vm.user_attr("N").as_deref(), Some("7"));
        assert_eq!(d.vm.user_attr("USER_INPUTS"), None);
        assert_eq!(
            vm_state_name(d.vm.state.as_deref(), d.vm.lcm_state.as_deref()),
            Some("RUNNING")
        );
    }

    #[test]
    fn vm_nic_object_and_alias_object() {
        let d: VmDocument = serde_json::from_str(
            r#"{"VM":{"ID":"44","TEMPLATE":{"NIC":{"IP":"10.10.0.44","NETWORK":"edge"},
               "NIC_ALIAS":{"IP":"10.10.0.99","PARENT":"NIC0"},"CONTEXT":{"TOKEN":"YES"},"VCPU":"2"}}}"#,
        )
        .unwrap();
        assert_eq!(d.vm.template.nics.len(), 1);
        assert_eq!(d.vm.template.nics[0].network.as_deref(), Some("edge"));
        assert_eq!(
            d.vm.template.nic_aliases[0].ip.as_deref(),
            Some("10.10.0.99")
        );
        assert_eq!(
            d.vm.template.nic_aliases[0].other.get("PARENT"),
            Some(&Value::from("NIC0"))
        );
        assert_eq!(
            d.vm.template.context.get("TOKEN"),
            Some(&Value::from("YES"))
        );
        assert_eq!(d.vm.template.other.get("VCPU"), Some(&Value::from("2")));
        assert!(d.vm.user_template.is_empty());
        assert_eq!(vm_state_name(None, None), Some("INIT"));
        assert_eq!(vm_state_name(Some("99"), None), None);
    }

    #[test]
    fn empty_elements_and_bad_shapes() {
        let d: VmDocument =
            serde_json::from_str(r#"{"VM":{"ID":{},"NAME":null,"USER_TEMPLATE":{}}}"#).unwrap();
        assert_eq!(d.vm.id, None);
        assert!(serde_json::from_str::<VmDocument>(r#"{"VM":{"ID":["1"]}}"#).is_err());
        assert!(serde_json::from_str::<VmDocument>(r#"{"VM":{"TEMPLATE":{"NIC":"x"}}}"#).is_err());
        assert!(serde_json::from_str::<VmDocument>(r#"{"NOT_VM":{}}"#).is_err());
    }

    #[test]
    fn service_document() {
        let s: ServiceDocument = serde_json::from_str(
            r#"{"SERVICE":{"name":"edge-fleet","id":"7","state":2,"roles":[
              {"name":"x","cardinality":2,"state":2,"nodes":[
                {"deploy_id":42,"running":null,"vm_info":{"VM":{"ID":"42","NAME":"x_0"}}},
                {"deploy_id":43}]},
              {"name":"db","cardinality":1,"nodes":null},
              {"name":"one","nodes":{"deploy_id":"45"}}]}}"#,
        )
        .unwrap();
        assert_eq!(s.service.state.as_deref(), Some("2"));
        assert_eq!(
            service_state_name(s.service.state.as_deref()),
            Some("RUNNING")
        );
        let x = s.role("x").unwrap();
        assert_eq!(x.cardinality.as_deref(), Some("2"));
        assert_eq!(x.nodes[0].vm_id(), Some("42"));
        assert_eq!(x.nodes[1].vm_id(), Some("43"));
        assert!(s.role("db").unwrap().nodes.is_empty());
        assert_eq!(s.role("one").unwrap().nodes[0].vm_id(), Some("45"));
        assert!(s.role("superlink").is_none());
    }
}
