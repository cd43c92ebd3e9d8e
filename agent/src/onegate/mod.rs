//! OneGate client library (SPEC §5): the calls the Ruby `onegate` client
//! makes, typed documents, SuperLink discovery and partition ids.
//!
//! ```no_run
//! use stamen_agent::onegate::{Client, ClientConfig, VmRef};
//! # fn main() -> Result<(), stamen_agent::onegate::OnegateError> {
//! let config = ClientConfig::from_vars(|k| std::env::var(k).ok())?;
//! let client = Client::new(config)?;
//! let me = client.vm()?;
//! client.update_vm_attrs(VmRef::Current, &[("FL_CLIENT_STATUS", "1")])?;
//! # let _ = me; Ok(()) }
//! ```

pub mod client;
pub mod discovery;
pub mod docs;
pub mod error;
pub mod request;
pub mod ruby_json;

pub use client::{
    classify_status, no_proxy_matches, parse_json, proxy_from_env, Client, ClientConfig, ProxyMode,
    Timeouts, TlsMode, DEFAULT_MAX_BODY_BYTES,
};
pub use discovery::{
    discover_superlink, partition, superlink_address, superlink_vm_id, DiscoverError, Discovery,
    DiscoveryError, DiscoveryOptions, EndpointSource, NotYet, Partition, SuperlinkAddress,
};
pub use docs::{Nic, Node, Role, Service, ServiceDocument, Vm, VmDocument, VmTemplate};
pub use error::OnegateError;
pub use request::{Call, Endpoint, Method, Scheme, Token, VmRef, WireRequest, VM_ACTIONS};
