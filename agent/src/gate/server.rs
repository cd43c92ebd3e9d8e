//! The OneGate HTTP API: routing and the checks of `onegate-server.rb`,
//! over the [`State`]. [`handle`] is pure request →
//! response logic; [`serve`] runs it on tiny_http worker threads.

use super::model::{vm_state, State, VmEvent, J};
use super::template::{parse_update, unescape_data};
use super::Shared;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted (OneGate bodies are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// Attributes a VM may not set or erase (`RESTRICTED_ATTRS` of onegate-server.rb).
pub const RESTRICTED_ATTRS: [&str; 3] = ["SCHED_REQUIREMENTS", "SERVICE_ID", "ROLE_NAME"];
/// Actions a VM may not trigger (`RESTRICTED_ACTIONS` of onegate-server.rb).
pub const RESTRICTED_ACTIONS: [&str; 1] = ["reboot"];

/// The content type OneGate puts on every response (Sinatra `before` filter).
pub const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// A request, independent of the HTTP library.
#[derive(Debug, Clone, Default)]
pub struct Req {
    /// Method, upper-case.
    pub method: String,
    /// Request target as sent (origin form, or absolute form through a proxy).
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response: status and body (JSON for successes, plain text for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
}

fn halt(status: u16, body: impl Into<String>) -> Resp {
    Resp {
        status,
        body: body.into(),
    }
}

fn ok_json(j: &J) -> Resp {
    Resp {
        status: 200,
        body: j.to_json(),
    }
}

/// Ruby's `String#to_i`: optional leading whitespace and sign, then the
/// longest digit prefix; anything else gives 0.
pub fn ruby_to_i(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for c in rest.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

fn pct_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Handles one request. Returns the response and the VMs it created or
/// removed (the caller runs hooks for them, outside the lock).
pub fn handle(shared: &Shared, req: &Req) -> (Resp, Vec<VmEvent>) {
    let mut events = Vec::new();
    let resp = route(shared, req, &mut events);
    (resp, events)
}

enum Route<'a> {
    Root,
    Vm,
    Service,
    ScaleRole(String),
    Vms(&'a str),
    VmsAction(&'a str),
    Vrouter,
    Vnet(&'a str),
}

fn route(shared: &Shared, req: &Req, events: &mut Vec<VmEvent>) -> Resp {
    // Absolute form (request through an HTTP proxy): keep only the path.
    let mut target = req.url.as_str();
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            target = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    // Sinatra answers HEAD on every GET route (tiny_http drops the body).
    let m = match req.method.as_str() {
        "HEAD" => "GET",
        other => other,
    };
    let r = match (m, segs.as_slice()) {
        ("GET", [""]) => Some(Route::Root),
        ("GET" | "PUT", ["vm"]) => Some(Route::Vm),
        ("GET", ["service"]) => Some(Route::Service),
        ("PUT", ["service", "role", role]) if !role.is_empty() => {
            Some(Route::ScaleRole(pct_decode(role)))
        }
        ("GET" | "PUT", ["vms", id]) if !id.is_empty() => Some(Route::Vms(id)),
        ("POST", ["vms", id, "action"]) if !id.is_empty() => Some(Route::VmsAction(id)),
        ("GET", ["vrouter"]) => Some(Route::Vrouter),
        ("GET", ["vnet", id]) if !id.is_empty() => Some(Route::Vnet(id)),
        _ => None,
    };
    let Some(r) = r else {
        return halt(400, "OneGate server doesn't support this feature");
    };

    // Sinatra params: query, then the form body (form wins).
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let is_form = req
        .header("Content-Type")
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if is_form {
        for (k, v) in form_urlencoded::parse(&req.body) {
            params.retain(|(pk, _)| pk != k.as_ref());
            params.push((k.into_owned(), v.into_owned()));
        }
    }
    let params = Params(params);
    let param = |name: &str| params.get(name);

    let now = (shared.clock)();
    let mut st = match shared.state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    st.expire_cooldowns(now);

    // OneGateCloudAuth#do_auth.
    let Some(token) = req.header("X-ONEGATE-TOKEN") else {
        shared.log("auth: X_ONEGATE_TOKEN header not present");
        return halt(401, "Not authorized");
    };
    let Some(vmid_h) = req.header("X-ONEGATE-VMID") else {
        shared.log("auth: X_ONEGATE_VMID header not present");
        return halt(401, "Not authorized");
    };
    let vmid = ruby_to_i(vmid_h);
    let Some(source) = u32::try_from(vmid).ok().and_then(|i| st.vms.get(&i)) else {
        shared.log(&format!("auth: VMID:{vmid} vm.info error: no such VM"));
        return halt(401, "Not authorized");
    };
    if !st.verify_token(token, source) {
        shared.log(&format!("auth: VMID:{vmid} token content does not match"));
        return halt(401, "Not authorized");
    }
    let source_id = source.id;

    match r {
        Route::Root => {
            let host = req.header("Host").unwrap_or("localhost");
            ok_json(&J::O(vec![
                ("vm_info".into(), J::S(format!("http://{host}/vm"))),
                (
                    "service_info".into(),
                    J::S(format!("http://{host}/service")),
                ),
            ]))
        }
        Route::Vm if m == "GET" => ok_json(&st.vm_show(&st.vms[&source_id])),
        Route::Vm => update(&mut st, source_id, req, &params),
        Route::Service => {
            let sid = service_id_of(&st, source_id);
            if let Err(e) = check_vm_in_service(&st, source_id, sid.as_deref()) {
                return e;
            }
            // `params['extended']` is truthy for any value, even "false".
            ok_json(&st.service_doc(param("extended").is_some()))
        }
        Route::Vms(id) => {
            let rid = match requested_vm(&st, source_id, id) {
                Ok(v) => v,
                Err(e) => return e,
            };
            if m == "GET" {
                ok_json(&st.vm_show(&st.vms[&rid]))
            } else {
                update(&mut st, rid, req, &params)
            }
        }
        Route::VmsAction(id) => {
            let rid = match requested_vm(&st, source_id, id) {
                Ok(v) => v,
                Err(e) => return e,
            };
            action(shared, &mut st, rid, &req.body, now, events)
        }
        Route::ScaleRole(role) => {
            let sid = service_id_of(&st, source_id);
            if let Err(e) = check_vm_in_service(&st, source_id, sid.as_deref()) {
                return e;
            }
            scale(shared, &mut st, &role, &req.body, now, events)
        }
        Route::Vrouter => {
            let Some(vr) = st.vrouter_of(source_id) else {
                return halt(400, "Empty or invalid VROUTER_ID");
            };
            ok_json(&st.vrouter_doc(vr))
        }
        Route::Vnet(id) => {
            let Ok(net_id) = id.parse::<u32>() else {
                return halt(
                    400,
                    format!(
                        "Invalid id format (ID: {}). ID must be an integer.",
                        pct_decode(id)
                    ),
                );
            };
            let Some(vr) = st.vrouter_of(source_id) else {
                return halt(
                    400,
                    "Virtual networks information can only be retrieved from Virtual Routers.",
                );
            };
            let Some(net) = st.network(net_id) else {
                return halt(404, format!("Virtual network {net_id} not found"));
            };
            if !st.vrouter_networks(vr).contains(&net_id) {
                return halt(
                    400,
                    format!(
                        "Virtual Network {net_id} cannot be retrieved from Virtual router {}.",
                        vr.id
                    ),
                );
            }
            let extended = param("extended").is_some_and(|e| e.eq_ignore_ascii_case("true"));
            ok_json(&st.vnet_doc(net, extended))
        }
    }
}

/// Request parameters (query, then form body).
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn service_id_of(st: &State, vm_id: u32) -> Option<String> {
    st.vms
        .get(&vm_id)
        .and_then(|v| v.user_template.get("SERVICE_ID"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// `check_vm_in_service` (with `get_service`'s checks first).
fn check_vm_in_service(st: &State, requested: u32, service_id: Option<&str>) -> Result<(), Resp> {
    let sid = match service_id {
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => return Err(halt(400, "Empty or invalid SERVICE_ID")),
    };
    if sid.parse::<u32>().ok() != Some(st.service_id) {
        return Err(halt(404, format!("Service {sid} not found")));
    }
    if !st.roles.iter().any(|r| r.nodes.contains(&requested)) {
        return Err(halt(
            400,
            format!("Service {sid} does not contain VM {requested}."),
        ));
    }
    Ok(())
}

/// `get_requested_vm`: the source VM itself, or a VM of the same service or
/// virtual router.
fn requested_vm(st: &State, source: u32, id: &str) -> Result<u32, Resp> {
    let want = ruby_to_i(&pct_decode(id));
    if want == i64::from(source) {
        return Ok(source);
    }
    let not_found = || {
        halt(
            404,
            format!("[one.vm.info] Error getting virtual machine [{want}]."),
        )
    };
    if let Some(sid) = service_id_of(st, source) {
        let w = u32::try_from(want)
            .map_err(|_| halt(400, format!("Service {sid} does not contain VM {want}.")))?;
        check_vm_in_service(st, w, Some(&sid))?;
        return st.vms.get(&w).map(|v| v.id).ok_or_else(not_found);
    }
    if let Some(vr) = st.vrouter_of(source) {
        let w = u32::try_from(want).ok().filter(|w| vr.vms.contains(w));
        let Some(w) = w else {
            return Err(halt(
                400,
                format!("Virtual Router {} does not contain VM {want}.", vr.id),
            ));
        };
        return st.vms.get(&w).map(|v| v.id).ok_or_else(not_found);
    }
    Err(halt(
        400,
        "This VM does not belong to any Virtual Router or Service, so it cannot retrieve information from other VMs",
    ))
}

/// OneGate's `update` helper: type 1 merges attributes into the
/// USER_TEMPLATE, anything else erases one.
fn update(st: &mut State, vm_id: u32, req: &Req, params: &Params) -> Resp {
    let raw = match params.get("data") {
        Some(d) => d.to_string(),
        None => String::from_utf8_lossy(&req.body).into_owned(),
    };
    let ty = params.get("type").map(ruby_to_i).unwrap_or(1);
    let data = unescape_data(&raw);
    let verb = if ty == 1 {
        "cannot be modified"
    } else {
        "cannot be deleted"
    };
    for line in data.split('\n') {
        let first = line.split('=').next().unwrap_or("");
        let norm = first.trim().to_ascii_uppercase();
        if RESTRICTED_ATTRS.contains(&norm.as_str()) {
            return halt(403, format!("Attribute ({first}) {verb}"));
        }
    }
    let Some(vm) = st.vms.get_mut(&vm_id) else {
        return halt(
            500,
            format!("[one.vm.info] Error getting virtual machine [{vm_id}]."),
        );
    };
    if ty == 1 {
        match parse_update(&data) {
            Ok(attrs) => {
                for (k, v) in attrs {
                    vm.user_template.insert(k, v);
                }
            }
            Err(e) => return halt(500, format!("[one.vm.update] Error parsing template: {e}")),
        }
    } else if vm.user_template.remove(data.as_str()).is_none() {
        return halt(500, "attribute not found");
    }
    halt(200, "")
}

fn action(
    shared: &Shared,
    st: &mut State,
    vm_id: u32,
    body: &[u8],
    now: u64,
    events: &mut Vec<VmEvent>,
) -> Resp {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return halt(400, e.to_string()),
    };
    let Some(obj) = v.as_object() else {
        return halt(500, "Internal Server Error");
    };
    let Some(act) = obj.get("action") else {
        return halt(400, "Error parsing JSON: Wrong resource type");
    };
    let perform = act.get("perform").and_then(|p| p.as_str()).unwrap_or("");
    if RESTRICTED_ACTIONS.contains(&perform.to_ascii_lowercase().as_str()) {
        return halt(
            403,
            format!("Action ({perform}) is not allowed on this resource"),
        );
    }
    let set = |st: &mut State, s: u32, l: u32| {
        if let Some(vm) = st.vms.get_mut(&vm_id) {
            vm.state = s;
            vm.lcm_state = l;
        }
    };
    match perform {
        "terminate" | "delete" | "shutdown" => {
            if let Some(e) = st.terminate_vm(vm_id) {
                shared.log(&format!(
                    "VM {vm_id} terminated by OneGate action {perform}"
                ));
                events.push(e);
            }
        }
        "poweroff" => set(st, vm_state::POWEROFF, 0),
        "suspend" => set(st, vm_state::SUSPENDED, 0),
        "stop" => set(st, vm_state::STOPPED, 0),
        "undeploy" => set(st, vm_state::UNDEPLOYED, 0),
        "hold" => set(st, vm_state::HOLD, 0),
        "resume" | "release" | "resched" | "unresched" | "recover" => {
            set(st, vm_state::ACTIVE, vm_state::LCM_RUNNING)
        }
        // Accepted and recorded, but they change nothing an emulated VM has.
        "deploy" | "livemigrate" | "migrate" | "saveas" | "snapshot_create" | "snapshot_revert"
        | "snapshot_delete" | "chown" | "chmod" | "resize" | "attachdisk" | "detachdisk"
        | "attachnic" | "detachnic" | "rename" => {
            shared.log(&format!(
                "VM {vm_id}: action {perform} accepted (no effect in the emulator)"
            ));
        }
        other => {
            return halt(
                500,
                format!("{other} action not  available for this resource"),
            );
        }
    }
    let _ = now;
    halt(204, "")
}

fn scale(
    shared: &Shared,
    st: &mut State,
    role: &str,
    body: &[u8],
    now: u64,
    events: &mut Vec<VmEvent>,
) -> Resp {
    let sid = st.service_id;
    let fail = |why: &str| {
        shared.log(&format!("scale: service {sid} role {role}: {why}"));
        halt(
            400,
            format!("Error performing action on service {sid} role {role}"),
        )
    };
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return halt(500, "Internal Server Error"),
    };
    let card = match v.get("cardinality") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse::<u64>().ok()
        }
        _ => None,
    };
    let Some(card) = card.and_then(|c| u32::try_from(c).ok()) else {
        return fail("cardinality must be a non-negative integer");
    };
    let Some(ri) = st.role_index(role) else {
        return fail(&format!("Role '{role}' not found"));
    };
    if let Err(e) = st.check_can_scale() {
        return fail(&e);
    }
    let cooldown = st.roles[ri].cooldown;
    match st.scale(ri, card, cooldown, now) {
        Ok(ev) => {
            shared.log(&format!(
                "scale: role {role} cardinality {card} (via OneGate), cooldown {cooldown}s"
            ));
            events.extend(ev);
            halt(200, "")
        }
        Err(e) => fail(&e),
    }
}

/// Serves requests until `shared.stop` is set; each worker polls with a short
/// timeout so stopping is bounded.
pub fn serve(server: Arc<tiny_http::Server>, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let rq = match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => break,
        };
        serve_one(rq, &shared);
    }
}

fn serve_one(mut rq: tiny_http::Request, shared: &Arc<Shared>) {
    let headers: Vec<(String, String)> = rq
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let too_big = match rq
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
    {
        Ok(n) => n > MAX_BODY,
        Err(_) => {
            let _ = rq.respond(text(400, "Bad request body"));
            return;
        }
    };
    if too_big {
        let _ = rq.respond(text(413, "Request body too large"));
        return;
    }
    let req = Req {
        method: rq.method().as_str().to_ascii_uppercase(),
        url: rq.url().to_string(),
        headers,
        body,
    };
    let (resp, events) = handle(shared, &req);
    let path_only = req.url.split('?').next().unwrap_or("");
    shared.log(&format!("{} {} -> {}", req.method, path_only, resp.status));
    // Hooks run before the answer so a client that saw the 200 of a scale
    // also sees its hooks' effects; hooks must be quick (spawn, not wait).
    shared.run_hooks(events);
    let _ = rq.respond(text(resp.status, &resp.body));
}

fn text(status: u16, body: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let body = if status == 204 { "" } else { body };
    tiny_http::Response::from_string(body)
        .with_status_code(status)
        .with_header(content_type())
}

fn content_type() -> tiny_http::Header {
    tiny_http::Header::from_bytes(&b"Content-Type"[..], CONTENT_TYPE.as_bytes())
        .expect("a static ASCII header is always valid")
}
