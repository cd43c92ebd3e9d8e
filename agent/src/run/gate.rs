//! [`super::Gate`] over the OneGate client of `crate::onegate`.

use std::time::Duration;

use super::{Gate, GateError, GateErrorKind, SuperlinkInfo};
use crate::onegate::{
    self, Client, ClientConfig, Discovery, DiscoveryOptions, OnegateError, Timeouts, VmRef,
};

/// USER_TEMPLATE attribute of the SuperLink VM holding its CA (base64 PEM).
pub const FL_CA_CERT_ATTR: &str = "FL_CA_CERT";

/// The daemon's OneGate access.
pub struct OneGateGate {
    client: Client,
    discovery: DiscoveryOptions,
}

impl OneGateGate {
    /// A client for `endpoint` with one `timeout` for every phase of a call,
    /// verifying an `https://` OneGate against the system CA bundle.
    pub fn new(endpoint: &str, vmid: &str, token: &str, timeout: Duration) -> Result<Self, String> {
        Self::with_tls(endpoint, vmid, token, timeout, onegate::TlsMode::Verify)
    }

    /// [`OneGateGate::new`] with an explicit certificate policy for an
    /// `https://` OneGate (a given CA, or the explicit opt-out).
    pub fn with_tls(
        endpoint: &str,
        vmid: &str,
        token: &str,
        timeout: Duration,
        tls: onegate::TlsMode,
    ) -> Result<Self, String> {
        let ep = onegate::Endpoint::parse(endpoint).map_err(|e| e.to_string())?;
        let token = onegate::Token::new(token).map_err(|e| e.to_string())?;
        let mut cfg = ClientConfig::new(ep, Some(vmid.to_string()), Some(token));
        cfg.tls = tls;
        cfg.timeouts = Timeouts {
            connect: timeout,
            read: timeout,
            overall: timeout,
        };
        let client = Client::new(cfg).map_err(|e| e.to_string())?;
        Ok(OneGateGate {
            client,
            discovery: DiscoveryOptions::default(),
        })
    }
}

fn kind(e: &OnegateError) -> GateErrorKind {
    match e {
        OnegateError::Connect { .. }
        | OnegateError::ConnectionClosed { .. }
        | OnegateError::Timeout { .. }
        | OnegateError::Tls { .. } => GateErrorKind::Unreachable,
        OnegateError::Server { .. } | OnegateError::UnexpectedStatus { status: 429, .. } => {
            GateErrorKind::Server
        }
        OnegateError::Unauthorized { .. } => GateErrorKind::Unauthorized,
        OnegateError::NotFound { .. } => GateErrorKind::NotFound,
        OnegateError::BadJson { .. } | OnegateError::TooLarge { .. } => GateErrorKind::BadResponse,
        _ => GateErrorKind::Other,
    }
}

fn gate_err(e: OnegateError) -> GateError {
    // The client scrubs the token from server texts; Display never holds it.
    GateError {
        kind: kind(&e),
        retry_after_ms: e
            .retry_after()
            .map(|d| d.as_millis().min(u128::from(u64::MAX)) as u64),
        detail: e.to_string(),
    }
}

impl Gate for OneGateGate {
    fn publish(&mut self, pairs: &[(String, String)]) -> Result<(), GateError> {
        let attrs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.client
            .update_vm_attrs(VmRef::Current, &attrs)
            .map_err(gate_err)
    }

    fn superlink(&mut self) -> Result<Option<SuperlinkInfo>, GateError> {
        let service = self.client.service(false).map_err(gate_err)?;
        let id = match onegate::superlink_vm_id(&service, &self.discovery.role) {
            Ok(Discovery::Found(id)) => id,
            Ok(Discovery::NotYet(_)) => return Ok(None),
            Err(e) => {
                return Err(GateError {
                    kind: GateErrorKind::BadResponse,
                    detail: e.to_string(),
                    retry_after_ms: None,
                })
            }
        };
        let vm = match self.client.vm_by_id(id) {
            Ok(vm) => vm,
            // The VM is listed but not visible yet: same as "not published".
            Err(OnegateError::NotFound { .. }) => return Ok(Some(SuperlinkInfo::default())),
            Err(e) => return Err(gate_err(e)),
        };
        let ca_cert_b64 = vm
            .vm
            .user_attr(FL_CA_CERT_ATTR)
            .filter(|s| !s.trim().is_empty());
        let endpoint = match onegate::superlink_address(id, &vm, self.discovery.default_port) {
            Ok(Discovery::Found(a)) => Some(a.address),
            Ok(Discovery::NotYet(_)) => None,
            Err(e) => {
                return Err(GateError {
                    kind: GateErrorKind::BadResponse,
                    detail: e.to_string(),
                    retry_after_ms: None,
                })
            }
        };
        Ok(Some(SuperlinkInfo {
            endpoint,
            ca_cert_b64,
        }))
    }

    fn partition(&mut self, vmid: &str) -> Result<Option<(usize, usize)>, GateError> {
        let service = self.client.service(false).map_err(gate_err)?;
        Ok(
            onegate::partition(&service, vmid, onegate::discovery::DEFAULT_SUPERNODE_ROLE)
                .found()
                .map(|p| (p.id, p.count)),
        )
    }
}
