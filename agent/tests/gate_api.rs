//! OneGate checks of `stamen gate`, in-process on a free loopback port:
//! tokens, restricted attributes, update/erase, service scoping, scaling
//! bounds, routes, virtual routers/networks, files and hooks.
#![cfg(feature = "emulator")]

mod gate_util;

use gate_util::*;
use stamen_agent::gate::spec::ServiceSpec;
use stamen_agent::gate::{Gate, GateConfig, GateError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const NOW: u64 = 1_718_000_400;
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");

#[test]
fn tokens_are_checked_like_onegate() {
    let dir = temp_dir("gate-api-tokens");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    let t42 = token_of(&dir, 42);
    let t43 = token_of(&dir, 43);
    let get = |tok: Option<&str>, vmid: Option<&str>| {
        let mut h = Vec::new();
        if let Some(t) = tok {
            h.push(("X-ONEGATE-TOKEN", t));
        }
        if let Some(v) = vmid {
            h.push(("X-ONEGATE-VMID", v));
        }
        send(g.addr(), "GET", "/vm", &h, b"")
    };
    let ok = get(Some(&t42), Some("42"));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["VM"]["ID"], "42");
    // The token file holds exactly what the API accepts, and it is 43's own.
    assert_eq!(get(Some(&t43), Some("43")).json()["VM"]["ID"], "43");
    for (tok, vmid, why) in [
        (Some(t43.as_str()), Some("42"), "token of another VM"),
        (Some(t42.as_str()), Some("43"), "VMID of another VM"),
        (
            Some("dO0R8Lm5mSxW5cUo6ZQ1Yw=="),
            Some("42"),
            "token made with another password",
        ),
        (Some("garbage!"), Some("42"), "not base64"),
        (Some(""), Some("42"), "empty token"),
        (Some(t42.as_str()), Some("999"), "unknown VM"),
        (Some(t42.as_str()), Some("abc"), "VMID not a number"),
        (None, Some("42"), "no token header"),
        (Some(t42.as_str()), None, "no VMID header"),
    ] {
        let r = get(tok, vmid);
        assert_eq!(
            (r.status, r.text().as_str()),
            (401, "Not authorized"),
            "{why}"
        );
    }
    g.stop();
}

#[test]
fn restricted_attributes_are_refused() {
    let dir = temp_dir("gate-api-restricted");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    for (data, ty, msg) in [
        (
            "SERVICE_ID=9",
            1,
            "Attribute (SERVICE_ID) cannot be modified",
        ),
        ("role_name=y", 1, "Attribute (role_name) cannot be modified"),
        (
            "A=1\nSCHED_REQUIREMENTS=ID>0",
            1,
            "Attribute (SCHED_REQUIREMENTS) cannot be modified",
        ),
        ("ROLE_NAME", 2, "Attribute (ROLE_NAME) cannot be deleted"),
    ] {
        let r = as_vm(&g, &dir, 42, "PUT", "/vm", FORM, &form(data, ty));
        assert_eq!((r.status, r.text()), (403, msg.to_string()), "{data}");
    }
    let s = g.snapshot();
    let ut = &s.vms[&42].user_template;
    assert_eq!(ut["SERVICE_ID"], "7");
    assert_eq!(ut["ROLE_NAME"], "x");
    assert!(!ut.contains_key("A"), "a refused update changes nothing");
    g.stop();
}

#[test]
fn update_merges_and_erase_removes_one_key() {
    let dir = temp_dir("gate-api-update");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    let put = |data: &str, ty: u8| as_vm(&g, &dir, 42, "PUT", "/vm", FORM, &form(data, ty));
    assert_eq!(put("FL_CLIENT_STATUS=2\nFL_ROUND_NUMBER=1", 1).status, 200);
    assert_eq!(put("FL_ROUND_NUMBER=2", 1).status, 200);
    // The client's literal backslash-n separates attributes too.
    assert_eq!(put("X=1\\nY=2", 1).status, 200);
    let ut = g.snapshot().vms[&42].user_template.clone();
    assert_eq!(
        ut["FL_CLIENT_STATUS"], "2",
        "type 1 merges: other keys stay"
    );
    assert_eq!(ut["FL_ROUND_NUMBER"], "2");
    assert_eq!((ut["X"].as_str(), ut["Y"].as_str()), ("1", "2"));
    assert_eq!(
        ut["LOGO"], "images/logos/debian.png",
        "initial attributes stay"
    );
    // GET /vm shows it.
    let doc = as_vm(&g, &dir, 42, "GET", "/vm", None, b"").json();
    assert_eq!(doc["VM"]["USER_TEMPLATE"]["FL_ROUND_NUMBER"], "2");
    // Erase: one key; a missing one is OneGate's 500.
    assert_eq!(put("FL_ROUND_NUMBER", 2).status, 200);
    let r = put("FL_ROUND_NUMBER", 2);
    assert_eq!((r.status, r.text().as_str()), (500, "attribute not found"));
    let ut = g.snapshot().vms[&42].user_template.clone();
    assert!(!ut.contains_key("FL_ROUND_NUMBER"));
    assert_eq!(ut["FL_CLIENT_STATUS"], "2");
    // Without a form content type the raw body is the data, type 1.
    assert_eq!(
        as_vm(&g, &dir, 42, "PUT", "/vm", None, b"RAW=yes").status,
        200
    );
    assert_eq!(g.snapshot().vms[&42].user_template["RAW"], "yes");
    // Quoted values lose their quotes; vector attributes become objects.
    assert_eq!(put("Q=\"a b\"\nV=[K1=1,K2=\"x\"]", 1).status, 200);
    let doc = as_vm(&g, &dir, 42, "GET", "/vm", None, b"").json();
    assert_eq!(doc["VM"]["USER_TEMPLATE"]["Q"], "a b");
    assert_eq!(doc["VM"]["USER_TEMPLATE"]["V"]["K2"], "x");
    g.stop();
}

#[test]
fn other_vms_only_within_the_service() {
    let dir = temp_dir("gate-api-vms");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    let r = as_vm(&g, &dir, 42, "GET", "/vms/999", None, b"");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Service 7 does not contain VM 999.")
    );
    let r = as_vm(&g, &dir, 42, "PUT", "/vms/999", FORM, &form("A=1", 1));
    assert_eq!(r.status, 400);
    // 44 is in another role of the same service: allowed.
    let r = as_vm(&g, &dir, 42, "GET", "/vms/44", None, b"");
    assert_eq!(
        (r.status, r.json()["VM"]["NAME"].as_str()),
        (200, Some("db_0_(service_7)"))
    );
    assert_eq!(
        as_vm(&g, &dir, 42, "PUT", "/vms/44", FORM, &form("SEEN_BY=42", 1)).status,
        200
    );
    assert_eq!(g.snapshot().vms[&44].user_template["SEEN_BY"], "42");
    // Single NIC stays an array in the VM document.
    let nics = &as_vm(&g, &dir, 44, "GET", "/vm", None, b"").json()["VM"]["TEMPLATE"]["NIC"];
    assert_eq!(nics.as_array().map(|a| a.len()), Some(1));
    g.stop();
}

#[test]
fn scale_checks_bounds_and_creates_vms() {
    let dir = temp_dir("gate-api-scale");
    let added = Arc::new(Mutex::new(Vec::new()));
    let clock = Arc::new(AtomicU64::new(NOW));
    let mut cfg = GateConfig::new(reference_spec());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.state_dir = Some(dir.clone());
    let c2 = clock.clone();
    cfg.clock = Some(Arc::new(move || c2.load(Ordering::SeqCst)));
    cfg.log = Some(Arc::new(|_: &str| {}));
    let a2 = added.clone();
    cfg.on_vm_add = Some(Arc::new(move |e| {
        a2.lock().unwrap().push((e.id, e.role.clone()))
    }));
    let g = Gate::start(cfg).unwrap();
    assert_eq!(
        added.lock().unwrap().len(),
        3,
        "hooks run for the initial VMs"
    );
    let scale = |role: &str, body: &str, ct: Option<&str>| {
        as_vm(
            &g,
            &dir,
            42,
            "PUT",
            &format!("/service/role/{role}"),
            ct,
            body.as_bytes(),
        )
    };
    let fail = "Error performing action on service 7 role x";
    for body in [
        r#"{"cardinality":"5"}"#,
        r#"{"cardinality":"0"}"#,
        r#"{"cardinality":"-1"}"#,
        r#"{}"#,
    ] {
        let r = scale("x", body, JSON);
        assert_eq!((r.status, r.text().as_str()), (400, fail), "{body}");
    }
    assert_eq!(scale("nope", r#"{"cardinality":"2"}"#, JSON).status, 400);
    assert_eq!(scale("x", "not json", JSON).status, 500);
    assert_eq!(
        g.snapshot().roles[0].cardinality,
        2,
        "refused scales change nothing"
    );
    // The Ruby client sends the JSON with a form content type: still works.
    let r = scale("x", r#"{"cardinality":"3"}"#, FORM);
    assert_eq!((r.status, r.text().as_str()), (200, ""));
    let s = g.snapshot();
    assert_eq!(s.roles[0].cardinality, 3);
    assert_eq!(s.roles[0].nodes, vec![42, 43, 45]);
    assert_eq!(s.roles[0].state, 10, "COOLDOWN after scaling");
    assert_eq!(s.service_state, 10);
    assert_eq!(added.lock().unwrap().last(), Some(&(45, "x".to_string())));
    // The new VM has files, its token works, and it is in the service.
    let doc = as_vm(&g, &dir, 45, "GET", "/service", None, b"").json();
    let nodes = doc["SERVICE"]["roles"][0]["nodes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(nodes, 3);
    assert_eq!(doc["SERVICE"]["roles"][0]["cardinality"], 3);
    let vm45 = as_vm(&g, &dir, 45, "GET", "/vm", None, b"").json();
    assert_eq!(vm45["VM"]["NAME"], "x_2_(service_7)");
    assert_eq!(vm45["VM"]["USER_TEMPLATE"]["SERVICE_ID"], "7");
    assert_eq!(
        vm45["VM"]["TEMPLATE"]["NIC"][0]["IP"], "10.10.0.40",
        "first free lease"
    );
    assert_eq!(vm45["VM"]["TEMPLATE"]["NIC"][0]["MAC"], "02:00:0a:0a:00:28");
    // OneFlow scales only a RUNNING service: not during the cooldown (300 s).
    assert_eq!(scale("x", r#"{"cardinality":1}"#, JSON).status, 400);
    assert_eq!(
        g.scale("x", 1).unwrap_err(),
        "Service cannot be scaled in state: COOLDOWN"
    );
    clock.store(NOW + 300, Ordering::SeqCst);
    // Down to 1 removes the newest VMs.
    assert_eq!(scale("x", r#"{"cardinality":1}"#, JSON).status, 200);
    assert_eq!(g.snapshot().roles[0].nodes, vec![42]);
    let r = as_vm(&g, &dir, 45, "GET", "/vm", None, b"");
    assert_eq!(r.status, 401, "a removed VM is gone");
    g.stop();
}

#[test]
fn unknown_routes_and_oversized_bodies() {
    let dir = temp_dir("gate-api-routes");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    for (m, p) in [
        ("GET", "/nope"),
        ("DELETE", "/vm"),
        ("POST", "/vm"),
        ("GET", "/vms/43/action"),
        ("PUT", "/service"),
    ] {
        let r = as_vm(&g, &dir, 42, m, p, None, b"");
        assert_eq!(
            (r.status, r.text().as_str()),
            (400, "OneGate server doesn't support this feature"),
            "{m} {p}"
        );
    }
    // HEAD works on GET routes, without a body.
    let r = as_vm(&g, &dir, 42, "HEAD", "/vm", None, b"");
    assert_eq!((r.status, r.body.len()), (200, 0));
    // Unknown routes answer 400 even without credentials (checked first).
    assert_eq!(send(g.addr(), "GET", "/nope", &[], b"").status, 400);
    let big = vec![b'a'; 70 * 1024];
    assert_eq!(as_vm(&g, &dir, 42, "PUT", "/vm", None, &big).status, 413);
    // The root document.
    let r = as_vm(&g, &dir, 42, "GET", "/", None, b"");
    assert_eq!(r.status, 200);
    assert!(r.json()["vm_info"].as_str().unwrap().ends_with("/vm"));
    g.stop();
}

#[test]
fn vrouter_and_vnet_checks() {
    let dir = temp_dir("gate-api-vnet");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    let get = |vm: u32, p: &str| as_vm(&g, &dir, vm, "GET", p, None, b"");
    assert_eq!(get(42, "/vrouter").json()["VROUTER"]["ID"], "3");
    for (vm, p, st, msg) in [
        (43, "/vrouter", 400, "Empty or invalid VROUTER_ID"),
        (
            43,
            "/vnet/0",
            400,
            "Virtual networks information can only be retrieved from Virtual Routers.",
        ),
        (
            42,
            "/vnet/1",
            400,
            "Virtual Network 1 cannot be retrieved from Virtual router 3.",
        ),
        (42, "/vnet/9", 404, "Virtual network 9 not found"),
        (
            42,
            "/vnet/x1",
            400,
            "Invalid id format (ID: x1). ID must be an integer.",
        ),
    ] {
        let r = get(vm, p);
        assert_eq!((r.status, r.text().as_str()), (st, msg), "{vm} {p}");
    }
    // extended=true adds the NIC name per lease; `extended=false` does not.
    let e = get(42, "/vnet/0?extended=true").json();
    assert_eq!(
        e["VNET"]["AR_POOL"]["AR"][0]["LEASES"]["LEASE"][0]["NIC_NAME"],
        "NIC0"
    );
    let n = get(42, "/vnet/0?extended=false").json();
    assert!(n["VNET"]["AR_POOL"]["AR"][0]["LEASES"]["LEASE"][0]
        .get("NIC_NAME")
        .is_none());
    g.stop();
}

#[test]
fn non_loopback_listen_is_refused() {
    let mut cfg = GateConfig::new(reference_spec());
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    match Gate::start(cfg) {
        Err(GateError::RemoteRefused(a)) => assert_eq!(a.to_string(), "0.0.0.0:0"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(g) => {
            g.stop();
            panic!("a non-loopback address was accepted without allow_remote")
        }
    }
}

/// `context.sh` follows oned's rule and sources back to the exact values.
#[test]
fn context_sh_round_trips_through_bash() {
    let spec = ServiceSpec::parse(
        r#"{"name":"t","id":3,"roles":[{"name":"r","cardinality":1,
            "vm_template":{"context":{"MOTD":"it's \"q\" $5 `x` $(id)\nKEY=line2","EMPTY":""}}}]}"#,
    )
    .unwrap();
    let dir = temp_dir("gate-api-ctx");
    let (g, _l) = start(spec, &dir, NOW);
    let id = g.snapshot().roles[0].nodes[0];
    let path = dir.join(format!("vm-{id}/context.sh"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Context variables generated by OpenNebula\n"));
    let keys: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once("='").map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys are sorted");
    let Ok(out) = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"set -e; . "$1"; printf '%s\0' "$MOTD" "$VMID" "$TOKEN" "$ONEGATE_ENDPOINT" "$EMPTY""#)
        .arg("bash")
        .arg(&path)
        .output()
    else {
        eprintln!("SKIP sourcing check: bash is not installed");
        g.stop();
        return;
    };
    assert!(out.status.success());
    let vals: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert_eq!(vals[0], "it's \"q\" $5 `x` $(id)\nKEY=line2");
    assert_eq!(vals[1], id.to_string());
    assert_eq!(vals[2], "YES");
    assert_eq!(vals[3], g.endpoint());
    assert_eq!(vals[4], "");
    let mode = std::fs::metadata(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }
    let _ = mode;
    g.stop();
}

#[test]
fn terminate_runs_the_remove_hook_and_the_monitor_drops_the_vm() {
    let dir = temp_dir("gate-api-terminate");
    let removed = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = GateConfig::new(reference_spec());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.state_dir = Some(dir.clone());
    cfg.clock = Some(Arc::new(|| NOW));
    cfg.log = Some(Arc::new(|_: &str| {}));
    let r2 = removed.clone();
    cfg.on_vm_remove = Some(Arc::new(move |e| r2.lock().unwrap().push(e.id)));
    let g = Gate::start(cfg).unwrap();
    let body = br#"{"action":{"perform":"terminate","params":true}}"#;
    let r = as_vm(&g, &dir, 42, "POST", "/vms/43/action", JSON, body);
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert_eq!(*removed.lock().unwrap(), vec![43]);
    assert_eq!(
        g.snapshot().vms[&43].state,
        6,
        "DONE until the monitor pass"
    );
    g.tick(Some(NOW + 1));
    let s = g.snapshot();
    assert!(!s.vms.contains_key(&43));
    assert_eq!(
        (s.roles[0].cardinality, s.roles[0].nodes.clone()),
        (1, vec![42])
    );
    // Unknown and malformed actions.
    let r = as_vm(
        &g,
        &dir,
        42,
        "POST",
        "/vms/42/action",
        JSON,
        br#"{"action":{"perform":"fly"}}"#,
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "fly action not  available for this resource")
    );
    let r = as_vm(&g, &dir, 42, "POST", "/vms/42/action", JSON, br#"{"x":1}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Error parsing JSON: Wrong resource type")
    );
    let r = as_vm(
        &g,
        &dir,
        42,
        "POST",
        "/vms/42/action",
        JSON,
        br#"{"action":{"perform":"poweroff"}}"#,
    );
    assert_eq!(r.status, 204);
    assert_eq!(g.snapshot().vms[&42].state, 8);
    g.stop();
}

#[test]
fn bad_service_files_are_reported_with_location() {
    let dbg = format!("{:?}", reference_spec());
    assert!(
        !dbg.contains("af07ce14"),
        "the token password never shows in Debug"
    );
    let e = ServiceSpec::parse("{\"name\":\"x\",\n\"rolez\":[]}").unwrap_err();
    assert!(
        e.contains("unknown field `rolez`") && e.contains("line 2"),
        "{e}"
    );
    let e =
        ServiceSpec::parse(r#"{"name":"x","roles":[{"name":"a","cardinality":5,"max_vms":2}]}"#)
            .unwrap_err();
    assert_eq!(e, "roles[0].cardinality: 5 is above max_vms 2");
    let e = ServiceSpec::parse(
        r#"{"name":"x","roles":[{"name":"a","cardinality":1,"vm_template":{"nics":["nope"]}}]}"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("roles[0].vm_template.nics[0]: unknown network \"nope\""),
        "{e}"
    );
    let e = ServiceSpec::parse(
        r#"{"name":"x","token_password":"short","roles":[{"name":"a","cardinality":1}]}"#,
    )
    .unwrap_err();
    assert!(e.starts_with("token_password: "), "{e}");
    let e = ServiceSpec::parse(
        r#"{"name":"x","roles":[{"name":"a","cardinality":1,"vm_template":{"user_template":{"A":null}}}]}"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("roles[0].vm_template.user_template.A: null"),
        "{e}"
    );
    let e = ServiceSpec::parse(
        r#"{"name":"x","roles":[{"name":"a","cardinality":1,
            "elasticity_policies":[{"type":"CHANGE","adjust":true,"expression":"A > 1"}]}]}"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("roles[0].elasticity_policies[0].adjust: "),
        "{e}"
    );
}

#[test]
fn scaling_past_the_network_size_is_refused_whole() {
    let spec = ServiceSpec::parse(
        r#"{"name":"n","roles":[{"name":"w","cardinality":1,"max_vms":5,"vm_template":{"nics":["tiny"]}}],
            "networks":[{"id":0,"name":"tiny","ip_start":"10.0.0.1","size":2}]}"#,
    )
    .unwrap();
    let dir = temp_dir("gate-api-netfull");
    let (g, logs) = start(spec, &dir, NOW);
    let vm = g.snapshot().roles[0].nodes[0];
    let r = as_vm(
        &g,
        &dir,
        vm,
        "PUT",
        "/service/role/w",
        JSON,
        br#"{"cardinality":3}"#,
    );
    assert_eq!(r.status, 400);
    let s = g.snapshot();
    assert_eq!(
        (s.roles[0].cardinality, s.vms.len(), s.service_state),
        (1, 1, 2)
    );
    assert!(logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("network \"tiny\" has 1 free addresses, 2 needed")));
    let r = as_vm(
        &g,
        &dir,
        vm,
        "PUT",
        "/service/role/w",
        JSON,
        br#"{"cardinality":2}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(g.snapshot().vms.len(), 2);
    g.stop();
}

#[test]
fn concurrent_clients_are_all_served() {
    let dir = temp_dir("gate-api-concurrent");
    let (g, _l) = start(reference_spec(), &dir, NOW);
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let (g, dir) = (&g, &dir);
            s.spawn(move || {
                let vm = if t % 2 == 0 { 42 } else { 43 };
                for i in 0..25 {
                    let data = format!("T{t}={i}");
                    let r = as_vm(g, dir, vm, "PUT", "/vm", FORM, &form(&data, 1));
                    assert_eq!(r.status, 200);
                    let r = as_vm(g, dir, vm, "GET", "/service", None, b"");
                    assert_eq!(r.status, 200);
                }
            });
        }
    });
    let s = g.snapshot();
    for t in 0..8u32 {
        let vm = if t % 2 == 0 { 42 } else { 43 };
        assert_eq!(s.vms[&vm].user_template[&format!("T{t}")], "24");
    }
    g.stop();
}

#[test]
fn a_vm_claiming_another_service_gets_404() {
    // A pinned VM whose USER_TEMPLATE names a service the gate does not run.
    let spec = ServiceSpec::parse(
        r#"{"name":"s","id":5,"roles":[{"name":"r","cardinality":2,
            "vms":[{"id":10,"user_template":{"SERVICE_ID":"99"}},{"id":11,"user_template":{"SERVICE_ID":""}}]}]}"#,
    )
    .unwrap();
    let dir = temp_dir("gate-api-404");
    let (g, _l) = start(spec, &dir, NOW);
    let r = as_vm(&g, &dir, 10, "GET", "/service", None, b"");
    assert_eq!((r.status, r.text().as_str()), (404, "Service 99 not found"));
    let r = as_vm(&g, &dir, 11, "GET", "/service", None, b"");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Empty or invalid SERVICE_ID")
    );
    g.stop();
}
