//! An FL-aware autoscaling scenario on `examples/services/flower.json`:
//! SuperNodes publish their status through OneGate, the autoscaler scales
//! the `supernode` role up while they train and down when they idle,
//! honouring cooldowns, creating/removing VMs and running hooks; and the
//! background loop scales on its own with a real clock.
#![cfg(feature = "emulator")]

mod gate_util;

use gate_util::*;
use stamen_agent::gate::model::VmEvent;
use stamen_agent::gate::spec::ServiceSpec;
use stamen_agent::gate::{Gate, GateConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn publish(g: &stamen_agent::gate::GateHandle, dir: &std::path::Path, vms: &[u32], data: &str) {
    for vm in vms {
        let r = as_vm(g, dir, *vm, "PUT", "/vm", FORM, &form(data, 1));
        assert_eq!(r.status, 200);
    }
}

#[test]
fn flower_supernodes_scale_up_while_training_and_down_when_idle() {
    let t0: u64 = 1_800_000_000;
    let clock = Arc::new(Mutex::new(t0));
    let events: Arc<Mutex<Vec<VmEvent>>> = Arc::new(Mutex::new(Vec::new()));
    let logs = Arc::new(Mutex::new(Vec::<String>::new()));
    let dir = temp_dir("gate-flower");
    let spec = ServiceSpec::load(&root().join("examples/services/flower.json")).unwrap();
    let mut cfg = GateConfig::new(spec);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.state_dir = Some(dir.clone());
    let c2 = clock.clone();
    cfg.clock = Some(Arc::new(move || *c2.lock().unwrap()));
    let (e1, e2) = (events.clone(), events.clone());
    cfg.on_vm_add = Some(Arc::new(move |e| e1.lock().unwrap().push(e.clone())));
    cfg.on_vm_remove = Some(Arc::new(move |e| e2.lock().unwrap().push(e.clone())));
    let l2 = logs.clone();
    cfg.log = Some(Arc::new(move |l: &str| {
        l2.lock().unwrap().push(l.to_string())
    }));
    let g = Gate::start(cfg).unwrap();
    let tick = |t: u64| {
        *clock.lock().unwrap() = t;
        g.tick(Some(t))
    };
    let card = || g.snapshot().roles[1].cardinality;
    assert_eq!(g.snapshot().roles[1].nodes, vec![101, 102]);

    publish(
        &g,
        &dir,
        &[101, 102],
        "FL_CLIENT_STATUS=2\nFL_TRAINING_ACTIVE=1",
    );
    let r = tick(t0);
    assert_eq!(
        (r[1].decision.diff, card()),
        (0, 2),
        "1st true evaluation of 2"
    );
    let r = tick(t0 + 30);
    assert_eq!((r[1].decision.diff, card()), (1, 3), "2nd: scale up");
    assert_eq!(r[1].decision.cooldown, Some(60));
    let s = g.snapshot();
    assert_eq!(
        (s.service_state, s.roles[1].nodes.clone()),
        (10, vec![101, 102, 103])
    );
    assert!(dir.join("vm-103/context.sh").exists());
    assert!(tick(t0 + 60).is_empty(), "COOLDOWN holds the service");
    let r = tick(t0 + 90);
    assert_eq!(g.snapshot().service_state, 2);
    assert_eq!(r[1].decision.diff, 0, "counters restart after scaling");

    // Training is over: everyone idles. Scale-down needs 4 periods.
    publish(
        &g,
        &dir,
        &[101, 102, 103],
        "FL_CLIENT_STATUS=1\nFL_TRAINING_ACTIVE=0",
    );
    for (i, t) in [120, 150, 180].iter().enumerate() {
        let r = tick(t0 + t);
        assert_eq!(
            (r[1].decision.diff, card()),
            (0, 3),
            "idle period {}",
            i + 1
        );
    }
    let r = tick(t0 + 210);
    assert_eq!(
        (r[1].decision.diff, r[1].decision.cooldown),
        (-1, Some(300))
    );
    assert_eq!(
        g.snapshot().roles[1].nodes,
        vec![101, 102],
        "newest VM removed"
    );

    let ev = events.lock().unwrap().clone();
    let summary: Vec<(u32, bool)> = ev.iter().map(|e| (e.id, e.added)).collect();
    assert_eq!(
        summary,
        vec![
            (100, true),
            (101, true),
            (102, true),
            (103, true),
            (103, false)
        ]
    );
    let logs = logs.lock().unwrap().join("\n");
    assert!(logs.contains("FL_CLIENT_STATUS[2.0] > 1.5"), "{logs}");
    assert!(
        logs.contains("FL_CLIENT_STATUS[1.0] < 1.5 && FL_TRAINING_ACTIVE[0.0] < 0.5"),
        "{logs}"
    );
    // The superlink role has no policies and stays put.
    assert_eq!(g.snapshot().roles[0].cardinality, 1);
    g.stop();
}

#[test]
fn background_loop_scales_with_the_real_clock() {
    let spec = ServiceSpec::parse(
        r#"{"name":"bg","roles":[{"name":"w","cardinality":1,"min_vms":1,"max_vms":3,"cooldown":0,
            "elasticity_policies":[{"type":"CHANGE","adjust":1,"expression":"LOAD > 1","period":0,"period_number":1}]}]}"#,
    )
    .unwrap();
    let dir = temp_dir("gate-bg");
    let mut cfg = GateConfig::new(spec);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.state_dir = Some(dir.clone());
    cfg.period = Some(Duration::from_millis(100));
    cfg.log = Some(Arc::new(|_: &str| {}));
    let g = Gate::start(cfg).unwrap();
    let first = g.snapshot().roles[0].nodes[0];
    publish(&g, &dir, &[first], "LOAD=5");
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.snapshot().roles[0].cardinality < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = g.snapshot();
    assert_eq!(s.roles[0].cardinality, 3, "scaled to max_vms within 10 s");
    assert_eq!(s.vms.len(), 3);
    // max_vms caps it: it stays at 3.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(g.snapshot().roles[0].cardinality, 3);
    g.stop();
}
