//! SuperLink discovery and automatic partition ids (SPEC §5), as pure
//! functions over parsed documents plus one function that does the two
//! OneGate calls.
//!
//! Order, as the Flower appliance does it: role `superlink` in
//! `GET /service` → its first node's VM ID → `GET /vms/:id` →
//! `USER_TEMPLATE.FL_ENDPOINT`, else `TEMPLATE.NIC[0].IP` + the default port.
//!
//! Default port: [`DEFAULT_FLEET_PORT`] = 8000, the Fleet port of Flower 1.42's
//! SuperLink (SPEC §8: Fleet, Control and Runtime APIs on one port). The
//! current one-apps Flower appliance (Flower 1.25 in Docker) documents
//! `<superlink-ip>:9092`, the older gRPC Fleet port; a deployment still on
//! such a SuperLink passes 9092 in [`DiscoveryOptions::default_port`] or
//! publishes `FL_ENDPOINT`.
//!
//! "Not yet" (role missing, no nodes, no address published yet, this VM not
//! yet listed) is a distinct, non-error result so the daemon can back off
//! (SPEC §3) and try again; malformed data is a [`DiscoveryError`].

use super::client::Client;
use super::docs::{ServiceDocument, VmDocument};
use super::error::OnegateError;
use stamen_core::context::SuperlinkAddr;
use std::fmt;
use std::net::Ipv4Addr;

/// Role whose first node runs the SuperLink.
pub const DEFAULT_SUPERLINK_ROLE: &str = "superlink";
/// Role whose nodes run SuperNodes (for partition ids).
pub const DEFAULT_SUPERNODE_ROLE: &str = "supernode";
/// Default SuperLink Fleet port (Flower 1.42).
pub const DEFAULT_FLEET_PORT: u16 = 8000;
/// USER_TEMPLATE attribute where the SuperLink publishes its address.
pub const FL_ENDPOINT_ATTR: &str = "FL_ENDPOINT";

/// A result that may not be available yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery<T> {
    /// Found.
    Found(T),
    /// Not available yet: back off and retry.
    NotYet(NotYet),
}

impl<T> Discovery<T> {
    /// The found value, if any.
    pub fn found(self) -> Option<T> {
        match self {
            Self::Found(t) => Some(t),
            Self::NotYet(_) => None,
        }
    }
}

/// Why discovery has nothing yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotYet {
    /// The service has no role of this name (yet).
    RoleMissing {
        /// Role name.
        role: String,
    },
    /// The role has no nodes (not deployed yet, or scaled to 0).
    NoNodes {
        /// Role name.
        role: String,
    },
    /// The SuperLink VM has neither `FL_ENDPOINT` nor a NIC with an IP.
    NoEndpoint {
        /// The SuperLink VM ID.
        vm_id: u64,
    },
    /// This VM is not (yet) among the role's nodes.
    NotInRole {
        /// This VM's ID.
        vm_id: String,
        /// Role name.
        role: String,
    },
}

impl fmt::Display for NotYet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RoleMissing { role } => write!(f, "service has no role {role:?} yet"),
            Self::NoNodes { role } => write!(f, "role {role:?} has no nodes yet"),
            Self::NoEndpoint { vm_id } => {
                write!(
                    f,
                    "VM {vm_id} has published neither {FL_ENDPOINT_ATTR} nor a NIC IP yet"
                )
            }
            Self::NotInRole { vm_id, role } => {
                write!(f, "VM {vm_id} is not among role {role:?}'s nodes yet")
            }
        }
    }
}

/// Malformed discovery data (not retryable by waiting alone).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// A node's VM ID is missing or not a number.
    BadVmId {
        /// Role name.
        role: String,
        /// The value seen (empty when missing).
        value: String,
    },
    /// `FL_ENDPOINT` is not `host:port` (IPv4, `[IPv6]`, or a DNS name; port
    /// 1..=65535), checked with `stamen-core`'s SuperLink address rule.
    BadEndpoint {
        /// The SuperLink VM ID.
        vm_id: u64,
        /// The value seen.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `TEMPLATE.NIC[0].IP` is not an IPv4 address.
    BadNicIp {
        /// The SuperLink VM ID.
        vm_id: u64,
        /// The value seen.
        value: String,
    },
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadVmId { role, value } => {
                write!(f, "role {role:?}: node VM ID {value:?} is not a non-negative integer")
            }
            Self::BadEndpoint { vm_id, value, reason } => write!(
                f,
                "VM {vm_id}: {FL_ENDPOINT_ATTR}={value:?} is not HOST:PORT ({reason}; allowed: IPv4, [IPv6] or DNS name, port 1-65535)"
            ),
            Self::BadNicIp { vm_id, value } => write!(f, "VM {vm_id}: NIC[0].IP={value:?} is not an IPv4 address"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Failure of [`discover_superlink`]: a OneGate call or the data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoverError {
    /// A OneGate call failed (see [`OnegateError::is_transient`]).
    Onegate(OnegateError),
    /// The documents are malformed.
    Data(DiscoveryError),
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Onegate(e) => e.fmt(f),
            Self::Data(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DiscoverError {}

impl From<OnegateError> for DiscoverError {
    fn from(e: OnegateError) -> Self {
        Self::Onegate(e)
    }
}

impl From<DiscoveryError> for DiscoverError {
    fn from(e: DiscoveryError) -> Self {
        Self::Data(e)
    }
}

/// Where the SuperLink address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// `USER_TEMPLATE.FL_ENDPOINT`.
    FlEndpoint,
    /// `TEMPLATE.NIC[0].IP` + default port.
    NicIp,
}

/// A discovered SuperLink address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperlinkAddress {
    /// `host:port` (IPv6 in brackets), ready for `flower-supernode --superlink`.
    pub address: String,
    /// The SuperLink VM ID.
    pub vm_id: u64,
    /// Where it came from.
    pub source: EndpointSource,
}

/// Options of [`discover_superlink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// SuperLink role name (default `superlink`).
    pub role: String,
    /// Port used with a NIC IP (default 8000).
    pub default_port: u16,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            role: DEFAULT_SUPERLINK_ROLE.to_string(),
            default_port: DEFAULT_FLEET_PORT,
        }
    }
}

/// Step 1: the first node of `role` → its VM ID.
pub fn superlink_vm_id(
    service: &ServiceDocument,
    role: &str,
) -> Result<Discovery<u64>, DiscoveryError> {
    let Some(r) = service.role(role) else {
        return Ok(Discovery::NotYet(NotYet::RoleMissing {
            role: role.to_string(),
        }));
    };
    let Some(node) = r.nodes.first() else {
        return Ok(Discovery::NotYet(NotYet::NoNodes {
            role: role.to_string(),
        }));
    };
    let raw = node.vm_id().unwrap_or("");
    raw.parse::<u64>()
        .map(Discovery::Found)
        .map_err(|_| DiscoveryError::BadVmId {
            role: role.to_string(),
            value: raw.to_string(),
        })
}

/// Step 2: the SuperLink VM's document → its address.
pub fn superlink_address(
    vm_id: u64,
    vm: &VmDocument,
    default_port: u16,
) -> Result<Discovery<SuperlinkAddress>, DiscoveryError> {
    if let Some(ep) = vm
        .vm
        .user_attr(FL_ENDPOINT_ATTR)
        .filter(|s| !s.trim().is_empty())
    {
        let ep = ep.trim();
        if let Err(e) = SuperlinkAddr::parse(ep) {
            return Err(DiscoveryError::BadEndpoint {
                vm_id,
                value: ep.to_string(),
                reason: e.to_string(),
            });
        }
        return Ok(Discovery::Found(SuperlinkAddress {
            address: ep.to_string(),
            vm_id,
            source: EndpointSource::FlEndpoint,
        }));
    }
    let ip = vm
        .vm
        .template
        .nics
        .first()
        .and_then(|n| n.ip.clone())
        .filter(|s| !s.is_empty());
    let Some(ip) = ip else {
        return Ok(Discovery::NotYet(NotYet::NoEndpoint { vm_id }));
    };
    if ip.parse::<Ipv4Addr>().is_err() {
        return Err(DiscoveryError::BadNicIp { vm_id, value: ip });
    }
    Ok(Discovery::Found(SuperlinkAddress {
        address: format!("{ip}:{default_port}"),
        vm_id,
        source: EndpointSource::NicIp,
    }))
}

/// Both steps against OneGate: `GET /service`, then `GET /vms/:id`.
/// A 404 on the SuperLink VM (it was just replaced) is "not yet".
pub fn discover_superlink(
    client: &Client,
    options: &DiscoveryOptions,
) -> Result<Discovery<SuperlinkAddress>, DiscoverError> {
    let service = client.service(false)?;
    let vm_id = match superlink_vm_id(&service, &options.role)? {
        Discovery::Found(id) => id,
        Discovery::NotYet(n) => return Ok(Discovery::NotYet(n)),
    };
    let vm = match client.vm_by_id(vm_id) {
        Ok(vm) => vm,
        Err(OnegateError::NotFound { .. }) => {
            return Ok(Discovery::NotYet(NotYet::NoEndpoint { vm_id }))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(superlink_address(vm_id, &vm, options.default_port)?)
}

/// Automatic `--node-config` partition: this VM's index among the role's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// 0-based index of this VM among the role's nodes.
    pub id: usize,
    /// Number of nodes in the role.
    pub count: usize,
}

impl Partition {
    /// `partition-id=<i> num-partitions=<n>`.
    pub fn node_config(&self) -> String {
        format!("partition-id={} num-partitions={}", self.id, self.count)
    }
}

/// Finds this VM (`my_vm_id`, the `VMID` text) among `role`'s nodes, in the
/// order OneGate lists them.
pub fn partition(service: &ServiceDocument, my_vm_id: &str, role: &str) -> Discovery<Partition> {
    let Some(r) = service.role(role) else {
        return Discovery::NotYet(NotYet::RoleMissing {
            role: role.to_string(),
        });
    };
    if r.nodes.is_empty() {
        return Discovery::NotYet(NotYet::NoNodes {
            role: role.to_string(),
        });
    }
    match r.nodes.iter().position(|n| n.vm_id() == Some(my_vm_id)) {
        Some(id) => Discovery::Found(Partition {
            id,
            count: r.nodes.len(),
        }),
        None => Discovery::NotYet(NotYet::NotInRole {
            vm_id: my_vm_id.to_string(),
            role: role.to_string(),
        }),
    }
}

/// Whether `s` is `host:port` with an IPv4 address, a bracketed IPv6
/// address or a DNS name, and a port in 1..=65535 (SPEC §2 address rule,
/// `stamen_core::context::SuperlinkAddr`).
pub fn is_host_port(s: &str) -> bool {
    SuperlinkAddr::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(json: &str) -> ServiceDocument {
        serde_json::from_str(json).unwrap()
    }

    fn vm(json: &str) -> VmDocument {
        serde_json::from_str(json).unwrap()
    }

    const SVC: &str = r#"{"SERVICE":{"id":"7","state":2,"roles":[
        {"name":"superlink","cardinality":1,"nodes":[{"deploy_id":40,"vm_info":{"VM":{"ID":"40"}}}]},
        {"name":"supernode","cardinality":3,"nodes":[{"deploy_id":41},{"deploy_id":42},{"deploy_id":43}]}]}}"#;

    #[test]
    fn vm_id_step() {
        assert_eq!(
            superlink_vm_id(&service(SVC), "superlink"),
            Ok(Discovery::Found(40))
        );
        let s = service(r#"{"SERVICE":{"roles":[{"name":"supernode","nodes":[]}]}}"#);
        assert_eq!(
            superlink_vm_id(&s, "superlink"),
            Ok(Discovery::NotYet(NotYet::RoleMissing {
                role: "superlink".into()
            }))
        );
        let s = service(r#"{"SERVICE":{"roles":{"name":"superlink"}}}"#);
        assert_eq!(
            superlink_vm_id(&s, "superlink"),
            Ok(Discovery::NotYet(NotYet::NoNodes {
                role: "superlink".into()
            }))
        );
        let s =
            service(r#"{"SERVICE":{"roles":[{"name":"superlink","nodes":[{"deploy_id":"x1"}]}]}}"#);
        assert!(matches!(
            superlink_vm_id(&s, "superlink"),
            Err(DiscoveryError::BadVmId { .. })
        ));
        let s = service(r#"{"SERVICE":{"roles":[{"name":"superlink","nodes":[{}]}]}}"#);
        assert!(matches!(
            superlink_vm_id(&s, "superlink"),
            Err(DiscoveryError::BadVmId { .. })
        ));
    }

    #[test]
    fn address_step() {
        let with_ep = vm(
            r#"{"VM":{"ID":"40","USER_TEMPLATE":{"FL_ENDPOINT":"sl.example:9092"},
            "TEMPLATE":{"NIC":{"IP":"10.0.0.40"}}}}"#,
        );
        let found = superlink_address(40, &with_ep, 8000)
            .unwrap()
            .found()
            .unwrap();
        assert_eq!(
            (found.address.as_str(), found.source),
            ("sl.example:9092", EndpointSource::FlEndpoint)
        );

        let nic_obj = vm(r#"{"VM":{"ID":"40","TEMPLATE":{"NIC":{"IP":"10.0.0.40"}}}}"#);
        let found = superlink_address(40, &nic_obj, 8000)
            .unwrap()
            .found()
            .unwrap();
        assert_eq!(
            (found.address.as_str(), found.source),
            ("10.0.0.40:8000", EndpointSource::NicIp)
        );

        let nic_arr = vm(r#"{"VM":{"USER_TEMPLATE":{"FL_ENDPOINT":""},
            "TEMPLATE":{"NIC":[{"IP":"10.0.0.41"},{"IP":"192.0.2.1"}]}}}"#);
        assert_eq!(
            superlink_address(40, &nic_arr, 9092)
                .unwrap()
                .found()
                .unwrap()
                .address,
            "10.0.0.41:9092"
        );

        let none = vm(r#"{"VM":{"ID":"40","TEMPLATE":{"NIC_ALIAS":[]}}}"#);
        assert_eq!(
            superlink_address(40, &none, 8000),
            Ok(Discovery::NotYet(NotYet::NoEndpoint { vm_id: 40 }))
        );

        let bad = vm(r#"{"VM":{"USER_TEMPLATE":{"FL_ENDPOINT":"10.0.0.1; rm -rf /"}}}"#);
        assert!(matches!(
            superlink_address(40, &bad, 8000),
            Err(DiscoveryError::BadEndpoint { .. })
        ));
        let bad_ip = vm(r#"{"VM":{"TEMPLATE":{"NIC":{"IP":"10.0.0.999"}}}}"#);
        assert!(matches!(
            superlink_address(40, &bad_ip, 8000),
            Err(DiscoveryError::BadNicIp { .. })
        ));
    }

    #[test]
    fn partition_ids() {
        let s = service(SVC);
        assert_eq!(
            partition(&s, "41", "supernode"),
            Discovery::Found(Partition { id: 0, count: 3 })
        );
        let p = partition(&s, "43", "supernode").found().unwrap();
        assert_eq!(p.node_config(), "partition-id=2 num-partitions=3");
        assert_eq!(
            partition(&s, "99", "supernode"),
            Discovery::NotYet(NotYet::NotInRole {
                vm_id: "99".into(),
                role: "supernode".into()
            })
        );
        assert_eq!(
            partition(&s, "41", "workers"),
            Discovery::NotYet(NotYet::RoleMissing {
                role: "workers".into()
            })
        );
        let empty = service(r#"{"SERVICE":{"roles":[{"name":"supernode","nodes":[]}]}}"#);
        assert_eq!(
            partition(&empty, "41", "supernode"),
            Discovery::NotYet(NotYet::NoNodes {
                role: "supernode".into()
            })
        );
    }

    #[test]
    fn host_port_rule() {
        for ok in [
            "10.0.0.1:8000",
            "[::1]:9092",
            "[2001:db8::1]:1",
            "superlink.example.org:65535",
            "sl:8000",
        ] {
            assert!(is_host_port(ok), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "10.0.0.1:0",
            "10.0.0.1:65536",
            "::1:8000",
            "10.0.0.256:1",
            "a b:1",
            "-a:1",
            ":8000",
            "h:+1",
            "$(x):1",
            "[zz]:1",
        ] {
            assert!(!is_host_port(bad), "{bad}");
        }
    }
}
