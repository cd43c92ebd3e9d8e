//! INTERIM stand-ins for core APIs being written on other branches
//! (`backoff`: ipc::decode). Replaced by the real
//! ones once merged; the shapes mirror the announced APIs.

/// Decoded IPC report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// 1, 2, 3.
    pub status: u8,
    /// Round.
    pub round: Option<u64>,
}

/// Decode `stamen/1 status=<1|2|3>[ round=<u64>]\n?`.
pub fn decode(b: &[u8]) -> Result<Report, &'static str> {
    if b.len() > 128 {
        return Err("datagram longer than 128 bytes");
    }
    let s = core::str::from_utf8(b).map_err(|_| "not UTF-8")?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    let rest = s
        .strip_prefix("stamen/1 status=")
        .ok_or("expected `stamen/1 status=`")?;
    let (st, round) = match rest.split_once(' ') {
        Some((st, r)) => {
            let r = r.strip_prefix("round=").ok_or("expected ` round=`")?;
            if r.is_empty() || !r.bytes().all(|c| c.is_ascii_digit()) {
                return Err("round is not an unsigned integer");
            }
            (
                st,
                Some(r.parse::<u64>().map_err(|_| "round out of range")?),
            )
        }
        None => (rest, None),
    };
    let status = match st {
        "1" => 1,
        "2" => 2,
        "3" => 3,
        _ => return Err("status must be 1, 2 or 3"),
    };
    Ok(Report { status, round })
}

/// INTERIM context.sh reader (replaced by `ctxfile` from the ctx branch):
/// `KEY='value'` lines, `'\''` escapes, values may span lines.
/// Returns `(key, value, line)` triples or errors with line numbers.
pub fn parse_context_sh(text: &str) -> Result<Vec<(String, String, usize)>, Vec<String>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let lineno = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once('=') else {
            errs.push(format!("line {lineno}: expected KEY='value'"));
            continue;
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            errs.push(format!("line {lineno}: bad key {key:?}"));
            continue;
        }
        let Some(mut rest) = rest.strip_prefix('\'').map(str::to_string) else {
            errs.push(format!(
                "line {lineno}, key {key}: value must be single-quoted"
            ));
            continue;
        };
        let mut value = String::new();
        loop {
            // Consume up to the closing quote, handling '\'' escapes.
            if let Some(pos) = rest.find('\'') {
                value.push_str(&rest[..pos]);
                let after = &rest[pos + 1..];
                if let Some(a) = after.strip_prefix("\\''") {
                    value.push('\'');
                    rest = a.to_string();
                    continue;
                }
                if !after.is_empty() {
                    errs.push(format!(
                        "line {lineno}, key {key}: text after the closing quote"
                    ));
                }
                break;
            }
            value.push_str(&rest);
            match lines.next() {
                Some((_, next)) => {
                    value.push('\n');
                    rest = next.to_string();
                }
                None => {
                    errs.push(format!("line {lineno}, key {key}: unterminated quote"));
                    break;
                }
            }
        }
        out.push((key.to_string(), value, lineno));
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// INTERIM OneGate gate over ureq (replaced by the onegate branch's client).
pub mod gate {
    use crate::run::{Gate, GateError, GateErrorKind, SuperlinkInfo};
    use serde_json::Value;
    use std::time::Duration;

    /// Minimal client.
    pub struct HttpGate {
        agent: ureq::Agent,
        base: String,
        token: String,
        vmid: String,
    }

    impl std::fmt::Debug for HttpGate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("HttpGate")
                .field("base", &self.base)
                .field("token", &"<redacted>")
                .finish()
        }
    }

    fn form_encode(s: &str) -> String {
        let mut o = String::new();
        for b in s.bytes() {
            match b {
                b' ' => o.push('+'),
                b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                    o.push(b as char)
                }
                _ => o.push_str(&format!("%{b:02X}")),
            }
        }
        o
    }

    fn err(kind: GateErrorKind, detail: String) -> GateError {
        GateError {
            kind,
            detail,
            retry_after_ms: None,
        }
    }

    impl HttpGate {
        /// Endpoint `scheme://host:port[/path]` (path ignored).
        pub fn new(
            endpoint: &str,
            token: &str,
            vmid: &str,
            timeout: Duration,
        ) -> Result<Self, String> {
            let (scheme, rest) = endpoint
                .split_once("://")
                .ok_or_else(|| format!("ONEGATE_ENDPOINT {endpoint:?} is not a URL"))?;
            if scheme != "http" && scheme != "https" {
                return Err(format!(
                    "ONEGATE_ENDPOINT {endpoint:?}: scheme must be http or https"
                ));
            }
            let host = rest.split('/').next().unwrap_or("");
            if host.is_empty() {
                return Err(format!("ONEGATE_ENDPOINT {endpoint:?} has no host"));
            }
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build()
                .into();
            Ok(HttpGate {
                agent,
                base: format!("{scheme}://{host}"),
                token: token.into(),
                vmid: vmid.into(),
            })
        }

        fn classify(status: u16, body: &str, retry_after: Option<u64>) -> GateError {
            let body: String = body.chars().take(200).collect();
            let kind = match status {
                401 => GateErrorKind::Unauthorized,
                404 => GateErrorKind::NotFound,
                500..=599 => GateErrorKind::Server,
                _ => GateErrorKind::Other,
            };
            GateError {
                kind,
                detail: format!("HTTP {status}: {}", body.trim()),
                retry_after_ms: retry_after,
            }
        }

        fn transport(e: ureq::Error) -> GateError {
            let kind = match e {
                ureq::Error::Timeout(_) => GateErrorKind::Unreachable,
                _ => GateErrorKind::Unreachable,
            };
            err(kind, format!("transport: {e}"))
        }

        fn get_json(&self, path: &str) -> Result<Value, GateError> {
            let mut resp = self
                .agent
                .get(format!("{}{path}", self.base))
                .header("X-ONEGATE-TOKEN", &self.token)
                .header("X-ONEGATE-VMID", &self.vmid)
                .call()
                .map_err(Self::transport)?;
            let status = resp.status().as_u16();
            let ra = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000));
            let body = resp.body_mut().read_to_string().map_err(Self::transport)?;
            if !(200..300).contains(&status) {
                return Err(Self::classify(status, &body, ra));
            }
            serde_json::from_str(&body).map_err(|e| {
                err(
                    GateErrorKind::BadResponse,
                    format!("bad JSON from {path}: {e}"),
                )
            })
        }
    }

    fn s(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn role_nodes<'a>(svc: &'a Value, role: &str) -> Option<&'a Vec<Value>> {
        svc.get("SERVICE")?
            .get("roles")?
            .as_array()?
            .iter()
            .find(|r| r.get("name").and_then(Value::as_str) == Some(role))?
            .get("nodes")?
            .as_array()
    }

    fn node_id(n: &Value) -> Option<String> {
        n.get("vm_info")
            .and_then(|v| v.get("VM"))
            .and_then(|v| v.get("ID"))
            .and_then(s)
            .or_else(|| n.get("deploy_id").and_then(s))
    }

    impl Gate for HttpGate {
        fn publish(&mut self, pairs: &[(String, String)]) -> Result<(), GateError> {
            let data: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let body = format!("data={}&type=1", form_encode(&data.join("\n")));
            let mut resp = self
                .agent
                .put(format!("{}/vm", self.base))
                .header("X-ONEGATE-TOKEN", &self.token)
                .header("X-ONEGATE-VMID", &self.vmid)
                .content_type("application/x-www-form-urlencoded")
                .send(body)
                .map_err(Self::transport)?;
            let status = resp.status().as_u16();
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(Self::classify(status, &body, None))
            }
        }

        fn superlink(&mut self) -> Result<Option<SuperlinkInfo>, GateError> {
            let svc = self.get_json("/service")?;
            let Some(id) = role_nodes(&svc, "superlink")
                .and_then(|n| n.first())
                .and_then(node_id)
            else {
                return Ok(None);
            };
            if !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(GateErrorKind::BadResponse, format!("bad VM id {id:?}")));
            }
            let vm = self.get_json(&format!("/vms/{id}"))?;
            let vm = vm.get("VM").unwrap_or(&Value::Null);
            let ut = vm.get("USER_TEMPLATE");
            let endpoint = ut
                .and_then(|u| u.get("FL_ENDPOINT"))
                .and_then(s)
                .filter(|e| !e.is_empty())
                .or_else(|| {
                    let nic = vm.get("TEMPLATE")?.get("NIC")?;
                    let first = if nic.is_array() { nic.get(0)? } else { nic };
                    first.get("IP").and_then(s).map(|ip| format!("{ip}:8000"))
                });
            let ca = ut.and_then(|u| u.get("FL_CA_CERT")).and_then(s);
            Ok(Some(SuperlinkInfo {
                endpoint,
                ca_cert_b64: ca,
            }))
        }

        fn partition(&mut self, vmid: &str) -> Result<Option<(usize, usize)>, GateError> {
            let svc = self.get_json("/service")?;
            let Some(nodes) = role_nodes(&svc, "supernode") else {
                return Ok(None);
            };
            let ids: Vec<String> = nodes.iter().filter_map(node_id).collect();
            Ok(ids.iter().position(|i| i == vmid).map(|i| (i, ids.len())))
        }
    }
}
