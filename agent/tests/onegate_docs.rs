//! Typed documents and discovery over the reference documents the official
//! client printed (tests/vectors/onegate/reference-client-results.jsonl).

use serde_json::Value;
use stamen_agent::onegate::{
    partition, superlink_address, superlink_vm_id, Discovery, ServiceDocument, VmDocument,
};

const RESULTS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/onegate/reference-client-results.jsonl"
));

fn stdout_of(case: &str) -> String {
    RESULTS
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|v| v["case"] == case)
        .and_then(|v| v["stdout"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("case {case} in vectors"))
}

#[test]
fn reference_vm_documents() {
    let vm: VmDocument = serde_json::from_str(&stdout_of("vm_show_json")).unwrap();
    assert_eq!(vm.vm.id.as_deref(), Some("42"));
    assert_eq!(vm.vm.name.as_deref(), Some("x_0_(service_7)"));
    let ips: Vec<_> = vm
        .vm
        .template
        .nics
        .iter()
        .filter_map(|n| n.ip.as_deref())
        .collect();
    assert_eq!(ips, ["10.10.0.42", "192.0.2.42"]);
    assert!(vm.vm.template.nic_aliases.is_empty());
    assert_eq!(
        vm.vm.user_attr("ONEGATE_EDGE_STATUS").as_deref(),
        Some("running")
    );
    let other: VmDocument = serde_json::from_str(&stdout_of("vms_show_id_json")).unwrap();
    assert_eq!(other.vm.id_u64(), Some(43));
}

#[test]
fn reference_extended_service() {
    let svc: ServiceDocument =
        serde_json::from_str(&stdout_of("service_show_extended_json")).unwrap();
    assert_eq!(svc.service.id.as_deref(), Some("7"));
    let x = svc.role("x").unwrap();
    assert_eq!(x.cardinality.as_deref(), Some("2"));
    let vm42 = x.nodes[0].vm_info.as_ref().unwrap();
    assert_eq!(vm42.vm.template.nics.len(), 2, "several NICs: an array");
    assert_eq!(
        vm42.vm.template.context.get("VMID"),
        Some(&Value::from("42"))
    );
    let db = svc.role("db").unwrap();
    let vm44 = db.nodes[0].vm_info.as_ref().unwrap();
    assert_eq!(vm44.vm.template.nics.len(), 1, "one NIC: an object");
    assert_eq!(vm44.vm.template.nics[0].ip.as_deref(), Some("10.10.0.44"));

    // Discovery with "db" standing in for the SuperLink role, on extended vm_info.
    assert_eq!(superlink_vm_id(&svc, "db"), Ok(Discovery::Found(44)));
    let addr = superlink_address(44, vm44, 8000).unwrap().found().unwrap();
    assert_eq!(addr.address, "10.10.0.44:8000");
    assert_eq!(
        partition(&svc, "43", "x").found().unwrap().node_config(),
        "partition-id=1 num-partitions=2"
    );

    let plain: ServiceDocument = serde_json::from_str(&stdout_of("service_show_json")).unwrap();
    assert_eq!(plain.service.roles.len(), 2);
    assert!(plain.role("x").unwrap().nodes[1]
        .vm_info
        .as_ref()
        .unwrap()
        .vm
        .template
        .nics
        .is_empty());
}
