//! OneGate JSON documents as the agent reads them: `/vm`, `/vms/:id` and
//! `/service` bodies into the typed documents, both discovery steps, the
//! auto partition-id, and the Ruby `JSON.pretty_generate` printer (whose
//! output must be JSON that means the same).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamen_agent::onegate::discovery::{partition, superlink_address, superlink_vm_id, Discovery};
use stamen_agent::onegate::docs::{ServiceDocument, VmDocument};
use stamen_agent::onegate::ruby_json::pretty_generate;

fuzz_target!(|data: &[u8]| {
    if let Ok(svc) = serde_json::from_slice::<ServiceDocument>(data) {
        let _ = superlink_vm_id(&svc, "superlink");
        let _ = partition(&svc, "42", "supernode");
        for role in &svc.service.roles {
            for node in &role.nodes {
                let _ = node.vm_id();
            }
        }
    }
    if let Ok(vm) = serde_json::from_slice::<VmDocument>(data) {
        let _ = vm.vm.id_u64();
        match superlink_address(7, &vm, 8000) {
            Ok(Discovery::Found(a)) => {
                // Whatever discovery accepts reaches the SuperNode argv.
                assert!(!a.address.starts_with('-'));
                assert!(!a.address.bytes().any(|b| b.is_ascii_whitespace()));
            }
            Ok(_) => {}
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if let Ok(text) = pretty_generate(data) {
        let a: serde_json::Value = serde_json::from_slice(data).expect("it parsed once");
        let b: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("pretty_generate printed invalid JSON ({e}): {text:?}"));
        assert_eq!(a, b);
    }
});
