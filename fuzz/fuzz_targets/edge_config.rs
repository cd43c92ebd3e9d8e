//! EdgeConfig and the values that reach a command line: the context is
//! collected and built (every error reported, nothing panics), and whatever
//! is accepted as a SuperLink address, node config or token is safe to put
//! into one argv element / header (no whitespace, no option-like leading `-`
//! for the address, one base64 line for the token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamen_core::context::{
    collect, select_token, Dialect, EdgeConfig, NodeConfig, NodeConfigValue, OnegateEndpoint,
    SuperlinkAddr, Var,
};

fn check_addr(text: &str) {
    if let Ok(a) = SuperlinkAddr::parse(text) {
        let s = a.as_str();
        assert!(
            !s.starts_with('-'),
            "an address must not look like an option: {s:?}"
        );
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)),
            "address with a character outside host:port: {s:?}"
        );
        assert!(a.port() >= 1);
        let _ = format!("{}", a.host());
    }
    if let Ok(e) = OnegateEndpoint::parse(text) {
        let _ = (e.scheme(), e.host(), e.port(), e.as_str());
    }
}

fn check_node_config(text: &str) {
    if let Ok(nc) = NodeConfig::parse(text) {
        let mut buf = [0u8; 1024];
        let mut n = 0;
        for p in nc.iter() {
            n += 1;
            assert!(!p.key.is_empty());
            if let NodeConfigValue::Str(s) = p.value {
                let _ = s.value(&mut buf);
            }
        }
        assert_eq!(n, nc.len());
    }
}

fuzz_target!(|data: &[u8]| {
    // The whole input as a context file.
    let mut scratch = [0u8; 4096];
    let c = collect::<64, 8>(data, Dialect::ContextSh, &mut scratch);
    let (cfg, errs) = EdgeConfig::build::<_, 8>(c.vars().iter().copied());
    for e in errs.iter() {
        let _ = format!("{e}");
    }
    if let Some(a) = cfg.superlink() {
        check_addr(a.as_str());
    }
    let _ = (
        cfg.backoff(),
        cfg.max_backoff_secs(),
        cfg.max_retries(),
        cfg.max_wait_time_secs(),
        cfg.isolation(),
        cfg.log_level(),
        cfg.tls_enabled(),
        cfg.min_fit_clients(),
        cfg.vmid(),
        cfg.onegate_endpoint(),
    );
    check_node_config(cfg.node_config().as_str());

    // The raw input as each single value.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_addr(text);
    check_node_config(text);
    if let Ok(Some((tok, _))) = select_token(Some(text), None, None) {
        assert!(!tok.is_empty());
        assert!(
            !tok.bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control()),
            "a token must be one header-safe line"
        );
    }
    for key in EdgeConfig::FL_SETTINGS {
        let vars = [Var {
            key,
            value: text,
            pos: None,
        }];
        let (_cfg, errs) = EdgeConfig::build::<_, 2>(vars);
        for e in errs.iter() {
            let _ = format!("{e}");
        }
    }
});
