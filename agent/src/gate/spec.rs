//! The service file: what `stamen gate --service FILE` reads (format in the
//! [module docs](super)).

use super::template::{tmpl_from_json, Tmpl};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

/// A parsed and checked service file.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Service name (`SERVICE.name`).
    pub name: String,
    /// Service ID (`SERVICE.id`, written into each VM's `USER_TEMPLATE/SERVICE_ID`).
    pub id: u32,
    /// Owner's `TOKEN_PASSWORD`; `None` → a random one per run.
    pub token_password: Option<Secret>,
    /// `ONEGATE_ENDPOINT` written into contexts; `None` → `http://<listen address>`.
    pub onegate_endpoint: Option<String>,
    /// Owner of every VM.
    pub owner: Owner,
    /// Host name shown in each VM's history record.
    pub host: String,
    /// ID of the first generated VM (later ones count up, skipping used IDs).
    pub first_vm_id: u32,
    /// Roles in document order.
    pub roles: Vec<RoleSpec>,
    /// Virtual networks NICs lease addresses from.
    pub networks: Vec<NetSpec>,
    /// Virtual routers (for `GET /vrouter` and `GET /vnet/:id`).
    pub vrouters: Vec<VrouterSpec>,
}

/// A secret string (the owner's `TOKEN_PASSWORD`): `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The user that owns the service's VMs.
#[derive(Debug, Clone)]
pub struct Owner {
    /// `UID`.
    pub uid: u32,
    /// `GID`.
    pub gid: u32,
    /// `UNAME`.
    pub uname: String,
    /// `GNAME`.
    pub gname: String,
}

/// One role of the service.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// Role name.
    pub name: String,
    /// Initial cardinality.
    pub cardinality: u32,
    /// `min_vms` (0 when absent).
    pub min_vms: u32,
    /// `max_vms` (absent → the autoscaler never grows the role past its cardinality).
    pub max_vms: Option<u32>,
    /// Role cooldown in seconds (absent → OneFlow's default 300).
    pub cooldown: Option<u64>,
    /// OneFlow elasticity policies, passed to the policy engine as written.
    pub elasticity_policies: Vec<serde_json::Value>,
    /// OneFlow scheduled policies, passed to the policy engine as written.
    pub scheduled_policies: Vec<serde_json::Value>,
    /// The VM template every new VM of the role is made from.
    pub vm_template: VmTemplateSpec,
    /// VMs that exist from the start, with pinned IDs and documents.
    pub vms: Vec<VmSpec>,
}

/// What a role's VMs are made from.
#[derive(Debug, Clone, Default)]
pub struct VmTemplateSpec {
    /// Extra context variables (`CONTEXT` of the VM template).
    pub context: BTreeMap<String, String>,
    /// Initial `USER_TEMPLATE` attributes.
    pub user_template: Tmpl,
    /// Other `TEMPLATE` attributes (CPU, MEMORY, DISK, …), copied as given.
    pub template: Tmpl,
    /// One NIC per entry, by network name, in order.
    pub nics: Vec<String>,
}

/// A VM pinned in the service file.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// VM ID.
    pub id: u32,
    /// `STIME` (epoch seconds); absent → start time of the gate.
    pub stime: Option<u64>,
    /// `TEMPLATE` attributes that override the generated ones (e.g. a full `CONTEXT` or `NIC`).
    pub template: Tmpl,
    /// `USER_TEMPLATE` attributes added after the role's.
    pub user_template: Tmpl,
    /// `MONITORING` attributes.
    pub monitoring: Tmpl,
}

/// A virtual network with one IPv4 address range.
#[derive(Debug, Clone)]
pub struct NetSpec {
    /// `NETWORK_ID`.
    pub id: u32,
    /// `NETWORK` name that roles refer to.
    pub name: String,
    /// First address of the range.
    pub ip_start: Ipv4Addr,
    /// Number of addresses.
    pub size: u32,
    /// VNET `TEMPLATE` (NETWORK_ADDRESS, NETWORK_MASK, GATEWAY, DNS, …).
    pub template: Tmpl,
    /// Extra attributes of every NIC on this network (BRIDGE, MODEL, …).
    pub nic: Tmpl,
}

/// A virtual router.
#[derive(Debug, Clone)]
pub struct VrouterSpec {
    /// `VROUTER.ID`.
    pub id: u32,
    /// `VROUTER.NAME`.
    pub name: String,
    /// Member VM IDs.
    pub vms: Vec<u32>,
    /// `VROUTER.TEMPLATE` (its `NIC`s name the networks it may read).
    pub template: Tmpl,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    #[serde(default)]
    id: u32,
    token_password: Option<String>,
    onegate_endpoint: Option<String>,
    owner: Option<RawOwner>,
    host: Option<String>,
    #[serde(default)]
    first_vm_id: u32,
    roles: Vec<RawRole>,
    #[serde(default)]
    networks: Vec<RawNet>,
    #[serde(default)]
    vrouters: Vec<RawVrouter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    uid: u32,
    gid: u32,
    uname: String,
    gname: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: String,
    cardinality: u32,
    min_vms: Option<u32>,
    max_vms: Option<u32>,
    cooldown: Option<u64>,
    #[serde(default)]
    elasticity_policies: Vec<serde_json::Value>,
    #[serde(default)]
    scheduled_policies: Vec<serde_json::Value>,
    #[serde(default)]
    vm_template: Option<RawVmTemplate>,
    #[serde(default)]
    vms: Vec<RawVm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVmTemplate {
    #[serde(default)]
    context: BTreeMap<String, String>,
    user_template: Option<serde_json::Value>,
    template: Option<serde_json::Value>,
    #[serde(default)]
    nics: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVm {
    id: u32,
    stime: Option<u64>,
    template: Option<serde_json::Value>,
    user_template: Option<serde_json::Value>,
    monitoring: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNet {
    id: u32,
    name: String,
    ip_start: Ipv4Addr,
    size: u32,
    template: Option<serde_json::Value>,
    nic: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVrouter {
    id: u32,
    name: String,
    #[serde(default)]
    vms: Vec<u32>,
    template: Option<serde_json::Value>,
}

fn opt_tmpl(v: Option<serde_json::Value>, path: &str) -> Result<Tmpl, String> {
    match v {
        None => Ok(Tmpl::new()),
        Some(v) => tmpl_from_json(&v, path),
    }
}

impl ServiceSpec {
    /// Reads and checks a service file; errors name the file and, for JSON
    /// errors, line and column.
    pub fn load(path: &Path) -> Result<ServiceSpec, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        ServiceSpec::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks a service document.
    pub fn parse(text: &str) -> Result<ServiceSpec, String> {
        let raw: RawService = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut roles = Vec::new();
        for (ri, r) in raw.roles.into_iter().enumerate() {
            let p = format!("roles[{ri}]");
            if r.name.is_empty() || r.name.contains('/') {
                return Err(format!(
                    "{p}.name: {:?} is not a valid role name (non-empty, no '/')",
                    r.name
                ));
            }
            if roles.iter().any(|x: &RoleSpec| x.name == r.name) {
                return Err(format!("{p}.name: duplicate role name {:?}", r.name));
            }
            let min_vms = r.min_vms.unwrap_or(0);
            if let Some(max) = r.max_vms {
                if max < min_vms {
                    return Err(format!("{p}: max_vms {max} is below min_vms {min_vms}"));
                }
                if r.cardinality > max {
                    return Err(format!(
                        "{p}.cardinality: {} is above max_vms {max}",
                        r.cardinality
                    ));
                }
            }
            if r.cardinality < min_vms {
                return Err(format!(
                    "{p}.cardinality: {} is below min_vms {min_vms}",
                    r.cardinality
                ));
            }
            if r.vms.len() > r.cardinality as usize {
                return Err(format!(
                    "{p}.vms: {} pinned VMs but cardinality is {}",
                    r.vms.len(),
                    r.cardinality
                ));
            }
            super::oneflow::check_policies(&r.elasticity_policies, &r.scheduled_policies, &p)?;
            let vt = r.vm_template.unwrap_or(RawVmTemplate {
                context: BTreeMap::new(),
                user_template: None,
                template: None,
                nics: Vec::new(),
            });
            for k in vt.context.keys() {
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "{p}.vm_template.context: {k:?} is not a valid variable name (A-Z, 0-9, _)"
                    ));
                }
            }
            let mut vms = Vec::new();
            for (vi, v) in r.vms.into_iter().enumerate() {
                let vp = format!("{p}.vms[{vi}]");
                vms.push(VmSpec {
                    id: v.id,
                    stime: v.stime,
                    template: opt_tmpl(v.template, &format!("{vp}.template"))?,
                    user_template: opt_tmpl(v.user_template, &format!("{vp}.user_template"))?,
                    monitoring: opt_tmpl(v.monitoring, &format!("{vp}.monitoring"))?,
                });
            }
            roles.push(RoleSpec {
                name: r.name,
                cardinality: r.cardinality,
                min_vms,
                max_vms: r.max_vms,
                cooldown: r.cooldown,
                elasticity_policies: r.elasticity_policies,
                scheduled_policies: r.scheduled_policies,
                vm_template: VmTemplateSpec {
                    context: vt
                        .context
                        .into_iter()
                        .map(|(k, v)| (k.to_ascii_uppercase(), v))
                        .collect(),
                    user_template: opt_tmpl(
                        vt.user_template,
                        &format!("{p}.vm_template.user_template"),
                    )?,
                    template: opt_tmpl(vt.template, &format!("{p}.vm_template.template"))?,
                    nics: vt.nics,
                },
                vms,
            });
        }
        if roles.is_empty() {
            return Err("roles: a service needs at least one role".into());
        }
        let mut networks: Vec<NetSpec> = Vec::new();
        for (ni, n) in raw.networks.into_iter().enumerate() {
            let p = format!("networks[{ni}]");
            if networks.iter().any(|x| x.id == n.id || x.name == n.name) {
                return Err(format!(
                    "{p}: duplicate network id {} or name {:?}",
                    n.id, n.name
                ));
            }
            if n.size == 0 || u32::from(n.ip_start).checked_add(n.size - 1).is_none() {
                return Err(format!(
                    "{p}.size: {} does not fit after {}",
                    n.size, n.ip_start
                ));
            }
            networks.push(NetSpec {
                id: n.id,
                name: n.name,
                ip_start: n.ip_start,
                size: n.size,
                template: opt_tmpl(n.template, &format!("{p}.template"))?,
                nic: opt_tmpl(n.nic, &format!("{p}.nic"))?,
            });
        }
        for (ri, r) in roles.iter().enumerate() {
            for (i, nic) in r.vm_template.nics.iter().enumerate() {
                if !networks.iter().any(|n| &n.name == nic) {
                    return Err(format!(
                        "roles[{ri}].vm_template.nics[{i}]: unknown network {nic:?} (networks: {})",
                        networks
                            .iter()
                            .map(|n| n.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (ri, r) in roles.iter().enumerate() {
            for (vi, v) in r.vms.iter().enumerate() {
                if !seen.insert(v.id) {
                    return Err(format!(
                        "roles[{ri}].vms[{vi}].id: VM {} appears twice",
                        v.id
                    ));
                }
            }
        }
        let mut vrouters = Vec::new();
        for (i, v) in raw.vrouters.into_iter().enumerate() {
            vrouters.push(VrouterSpec {
                id: v.id,
                name: v.name,
                vms: v.vms,
                template: opt_tmpl(v.template, &format!("vrouters[{i}].template"))?,
            });
        }
        if let Some(pw) = &raw.token_password {
            super::token::TokenKey::from_password(pw)
                .map_err(|e| format!("token_password: {e}"))?;
        }
        let owner = match raw.owner {
            Some(o) => Owner {
                uid: o.uid,
                gid: o.gid,
                uname: o.uname,
                gname: o.gname,
            },
            None => Owner {
                uid: 0,
                gid: 0,
                uname: "oneadmin".into(),
                gname: "oneadmin".into(),
            },
        };
        Ok(ServiceSpec {
            name: raw.name,
            id: raw.id,
            token_password: raw.token_password.map(Secret),
            onegate_endpoint: raw.onegate_endpoint,
            owner,
            host: raw.host.unwrap_or_else(|| "localhost".into()),
            first_vm_id: raw.first_vm_id,
            roles,
            networks,
            vrouters,
        })
    }
}
