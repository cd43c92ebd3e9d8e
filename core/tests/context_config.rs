//! EdgeConfig: defaults, precedence, every error with key/value/allowed,
//! SuperLink and OneGate addresses, node-config syntax, the token rule.

use stamen_core::context::{
    collect, select_token, AddrError, BackoffStrategy, ConfigErrorKind, Dialect, EdgeConfig, Host,
    Isolation, LogLevel, NodeConfig, NodeConfigErrorKind, NodeConfigValue, OnegateEndpoint, Scheme,
    SuperlinkAddr, TokenError, TokenSource, Var,
};

fn var<'a>(key: &'a str, value: &'a str) -> Var<'a> {
    Var {
        key,
        value,
        pos: None,
    }
}

#[test]
fn defaults_when_nothing_is_set() {
    let cfg = EdgeConfig::from_vars::<_, 4>([var("OTHER", "x")]).unwrap();
    assert_eq!(cfg, EdgeConfig::default());
    assert_eq!(cfg.superlink(), None);
    assert_eq!(cfg.backoff(), BackoffStrategy::Exponential);
    assert_eq!(cfg.max_backoff_secs(), 300);
    assert_eq!(cfg.max_retries(), 0);
    assert_eq!(cfg.max_wait_time_secs(), 0);
    assert!(cfg.node_config().is_empty());
    assert_eq!(cfg.isolation(), Isolation::Subprocess);
    assert_eq!(cfg.log_level(), LogLevel::Info);
    assert!(cfg.tls_enabled());
    assert_eq!(cfg.min_fit_clients(), None);
    assert_eq!(cfg.vmid(), None);
}

#[test]
fn every_field_parsed() {
    let vars = [
        var("FL_SUPERLINK_ADDRESS", "[2001:db8::1]:9092"),
        var("FL_EDGE_BACKOFF", "FIXED"),
        var("FL_EDGE_MAX_BACKOFF", "60"),
        var("FL_MAX_RETRIES", "5"),
        var("FL_MAX_WAIT_TIME", "120"),
        var("FL_NODE_CONFIG", "partition-id=1 num-partitions=4"),
        var("FL_ISOLATION", "process"),
        var("FL_LOG_LEVEL", "debug"),
        var("FL_TLS_ENABLED", "NO"),
        var("FL_MIN_FIT_CLIENTS", "2"),
        var("VMID", "43"),
        var("ONEGATE_ENDPOINT", "http://169.254.16.9:5030"),
        var("TOKEN", "YES"),
    ];
    let cfg = EdgeConfig::from_vars::<_, 4>(vars).unwrap();
    let addr = cfg.superlink().unwrap();
    assert_eq!(addr.port(), 9092);
    assert_eq!(addr.host(), Host::Ipv6("2001:db8::1".parse().unwrap()));
    assert_eq!(cfg.backoff(), BackoffStrategy::Fixed);
    assert_eq!(cfg.max_backoff_secs(), 60);
    assert_eq!(cfg.max_retries(), 5);
    assert_eq!(cfg.max_wait_time_secs(), 120);
    assert_eq!(cfg.node_config().len(), 2);
    assert_eq!(cfg.isolation(), Isolation::Process);
    assert_eq!(cfg.log_level(), LogLevel::Debug);
    assert!(!cfg.tls_enabled());
    assert_eq!(cfg.min_fit_clients(), Some(2));
    assert_eq!(cfg.vmid(), Some(43));
    let ep = cfg.onegate_endpoint().unwrap();
    assert_eq!((ep.scheme(), ep.port()), (Scheme::Http, 5030));
}

#[test]
fn oneapp_prefix_wins_and_empty_means_unset() {
    // ONEAPP_ wins regardless of order.
    let cfg = EdgeConfig::from_vars::<_, 4>([
        var("ONEAPP_FL_EDGE_MAX_BACKOFF", "30"),
        var("FL_EDGE_MAX_BACKOFF", "90"),
    ])
    .unwrap();
    assert_eq!(cfg.max_backoff_secs(), 30);
    let cfg = EdgeConfig::from_vars::<_, 4>([
        var("FL_EDGE_MAX_BACKOFF", "90"),
        var("ONEAPP_FL_EDGE_MAX_BACKOFF", "30"),
    ])
    .unwrap();
    assert_eq!(cfg.max_backoff_secs(), 30);
    // An empty ONEAPP_ value is "unset": FL_ applies.
    let cfg = EdgeConfig::from_vars::<_, 4>([
        var("ONEAPP_FL_EDGE_MAX_BACKOFF", ""),
        var("FL_EDGE_MAX_BACKOFF", "90"),
    ])
    .unwrap();
    assert_eq!(cfg.max_backoff_secs(), 90);
    // Both empty: default.
    let cfg = EdgeConfig::from_vars::<_, 4>([
        var("ONEAPP_FL_EDGE_MAX_BACKOFF", ""),
        var("FL_EDGE_MAX_BACKOFF", ""),
    ])
    .unwrap();
    assert_eq!(cfg.max_backoff_secs(), 300);
    // Same key twice: last wins (shell semantics).
    let cfg =
        EdgeConfig::from_vars::<_, 4>([var("FL_MAX_RETRIES", "1"), var("FL_MAX_RETRIES", "2")])
            .unwrap();
    assert_eq!(cfg.max_retries(), 2);
}

#[test]
fn all_errors_collected_with_exact_messages() {
    let vars = [
        var("FL_SUPERLINK_ADDRESS", "host"),
        var("ONEAPP_FL_EDGE_BACKOFF", "linear"),
        var("FL_EDGE_MAX_BACKOFF", "0"),
        var("FL_MAX_RETRIES", "-1"),
        var("FL_MAX_WAIT_TIME", "1e3"),
        var("FL_NODE_CONFIG", "a=1 a=2"),
        var("FL_ISOLATION", "thread"),
        var("FL_LOG_LEVEL", "TRACE"),
        var("FL_TLS_ENABLED", "true"),
        var("FL_MIN_FIT_CLIENTS", "0"),
        var("VMID", "x"),
        var("ONEGATE_ENDPOINT", "ftp://h"),
    ];
    let errs = EdgeConfig::from_vars::<_, 16>(vars).unwrap_err();
    let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        msgs,
        vec![
            "FL_SUPERLINK_ADDRESS: invalid value \"host\": missing port (allowed: IPv4:port, [IPv6]:port or dns-name:port with port 1-65535)",
            "ONEAPP_FL_EDGE_BACKOFF: invalid value \"linear\" (allowed: exponential, fixed)",
            "FL_EDGE_MAX_BACKOFF: invalid value \"0\" (allowed: an integer from 1 to 4294967295)",
            "FL_MAX_RETRIES: invalid value \"-1\" (allowed: an integer from 0 to 4294967295)",
            "FL_MAX_WAIT_TIME: invalid value \"1e3\" (allowed: an integer from 0 to 4294967295)",
            "FL_NODE_CONFIG: invalid value \"a=1 a=2\": duplicate key at offset 4 (allowed: space-separated key=value pairs, values true/false, integers, floats or quoted strings, e.g. partition-id=0 name=\"edge 1\")",
            "FL_ISOLATION: invalid value \"thread\" (allowed: subprocess, process)",
            "FL_LOG_LEVEL: invalid value \"TRACE\" (allowed: DEBUG, INFO, WARNING, ERROR)",
            "FL_TLS_ENABLED: invalid value \"true\" (allowed: YES, NO)",
            "FL_MIN_FIT_CLIENTS: invalid value \"0\" (allowed: an integer from 1 to 4294967295)",
            "VMID: invalid value \"x\" (allowed: an integer from 0 to 4294967295)",
            "ONEGATE_ENDPOINT: invalid value \"ftp://h\": scheme must be http:// or https:// (allowed: http://host[:port][/path] or https://host[:port][/path])",
        ]
    );
    // The build variant still yields a config with defaults in place.
    let (cfg, errs) = EdgeConfig::build::<_, 2>([
        var("FL_MAX_RETRIES", "x"),
        var("FL_MAX_WAIT_TIME", "y"),
        var("FL_LOG_LEVEL", "z"),
        var("FL_ISOLATION", "process"),
    ]);
    assert_eq!(errs.len(), 2);
    assert_eq!(errs.dropped(), 1);
    assert!(!errs.is_empty());
    assert_eq!(cfg.isolation(), Isolation::Process);
    assert_eq!(cfg.max_retries(), 0);
}

#[test]
fn shadowed_invalid_value_is_still_an_error() {
    let errs = EdgeConfig::from_vars::<_, 4>([
        var("ONEAPP_FL_ISOLATION", "process"),
        var("FL_ISOLATION", "bogus"),
    ])
    .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs.as_slice()[0].key, "FL_ISOLATION");
}

#[test]
fn value_is_escaped_in_messages() {
    let errs = EdgeConfig::from_vars::<_, 4>([var("FL_ISOLATION", "a\"b\nc")]).unwrap_err();
    assert_eq!(
        errs.as_slice()[0].to_string(),
        "FL_ISOLATION: invalid value \"a\\\"b\\nc\" (allowed: subprocess, process)"
    );
}

#[test]
fn token_yes_requires_vmid_and_endpoint() {
    let text = b"TOKEN='YES'\nVMID=''\n";
    let mut scratch = [0u8; 64];
    let c = collect::<8, 4>(text, Dialect::ContextSh, &mut scratch);
    let errs = EdgeConfig::from_vars::<_, 4>(c.vars().iter().copied()).unwrap_err();
    let got: Vec<(String, u32)> = errs
        .iter()
        .map(|e| (e.to_string(), e.pos.unwrap().line))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "VMID: missing (OpenNebula sets it whenever TOKEN=YES)".to_string(),
                1
            ),
            (
                "ONEGATE_ENDPOINT: missing (OpenNebula sets it whenever TOKEN=YES)".to_string(),
                1
            ),
        ]
    );
    assert!(matches!(
        errs.as_slice()[0].kind,
        ConfigErrorKind::Missing { .. }
    ));
}

#[test]
fn error_positions_come_from_the_file() {
    let text = b"# Context variables generated by OpenNebula\nA='1'\nFL_LOG_LEVEL='loud'\n";
    let mut scratch = [0u8; 64];
    let c = collect::<8, 4>(text, Dialect::ContextSh, &mut scratch);
    let errs = EdgeConfig::from_vars::<_, 4>(c.vars().iter().copied()).unwrap_err();
    let e = errs.as_slice()[0];
    let p = e.pos.unwrap();
    assert_eq!((p.line, p.column), (3, 1));
    assert_eq!(
        format!("context.sh:{}:{}: {}", p.line, p.column, e),
        "context.sh:3:1: FL_LOG_LEVEL: invalid value \"loud\" (allowed: DEBUG, INFO, WARNING, ERROR)"
    );
}

#[test]
fn superlink_addresses_accepted() {
    for (text, host, port) in [
        (
            "10.0.0.5:9092",
            Host::Ipv4("10.0.0.5".parse().unwrap()),
            9092,
        ),
        ("[::1]:8000", Host::Ipv6("::1".parse().unwrap()), 8000),
        ("superlink.example:1", Host::Dns("superlink.example"), 1),
        ("superlink:65535", Host::Dns("superlink"), 65535),
        ("a-b.c-d.:8000", Host::Dns("a-b.c-d."), 8000),
        ("x:08000", Host::Dns("x"), 8000),
    ] {
        let a = SuperlinkAddr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((a.host(), a.port(), a.as_str()), (host, port, text));
        assert_eq!(a.to_string(), text);
    }
}

#[test]
fn superlink_addresses_rejected() {
    for (text, err) in [
        ("", AddrError::Empty),
        ("host", AddrError::MissingPort),
        ("host:", AddrError::MissingPort),
        ("host:0", AddrError::PortZero),
        ("host:000", AddrError::PortZero),
        ("host:65536", AddrError::PortOutOfRange),
        ("host:99999999999999999999", AddrError::PortOutOfRange),
        ("host:+80", AddrError::ForbiddenChar('+')),
        ("host:8o", AddrError::InvalidPort),
        ("host :80", AddrError::Whitespace),
        ("host:80\n", AddrError::Whitespace),
        ("host;rm -rf /:80", AddrError::ForbiddenChar(';')),
        ("host;id:80", AddrError::ForbiddenChar(';')),
        ("$(id):80", AddrError::ForbiddenChar('$')),
        ("`id`:80", AddrError::ForbiddenChar('`')),
        ("h'x:80", AddrError::ForbiddenChar('\'')),
        ("user@host:80", AddrError::ForbiddenChar('@')),
        ("http://host:80", AddrError::ForbiddenChar('/')),
        ("::1:8000", AddrError::UnbracketedIpv6),
        ("[::1]", AddrError::MissingPort),
        ("[::1]8000", AddrError::InvalidIpv6),
        ("[nope]:80", AddrError::InvalidIpv6),
        ("[::1:80", AddrError::InvalidIpv6),
        ("[fe80::1%eth0]:80", AddrError::ForbiddenChar('%')),
        ("999.1.1.1:80", AddrError::InvalidIpv4),
        ("1.2.3:80", AddrError::InvalidIpv4),
        ("-host:80", AddrError::InvalidHostname),
        ("a..b:80", AddrError::InvalidHostname),
        ("under_score:80", AddrError::ForbiddenChar('_')),
        ("höst:80", AddrError::ForbiddenChar('ö')),
        (":80", AddrError::InvalidHostname),
    ] {
        assert_eq!(SuperlinkAddr::parse(text), Err(err), "{text:?}");
    }
    let long = format!("{}:80", "a".repeat(300));
    assert_eq!(SuperlinkAddr::parse(&long), Err(AddrError::TooLong));
    let label = format!("{}.x:80", "a".repeat(64));
    assert_eq!(
        SuperlinkAddr::parse(&label),
        Err(AddrError::InvalidHostname)
    );
}

#[test]
fn onegate_endpoint() {
    let e = OnegateEndpoint::parse("http://169.254.16.9:5030").unwrap();
    assert_eq!(e.host(), Host::Ipv4("169.254.16.9".parse().unwrap()));
    assert_eq!(e.port(), 5030);
    let e = OnegateEndpoint::parse("https://onegate.example/RPC2").unwrap();
    assert_eq!((e.scheme(), e.port()), (Scheme::Https, 443));
    let e = OnegateEndpoint::parse("http://[fd00::1]").unwrap();
    assert_eq!(e.port(), 80);
    assert_eq!(
        OnegateEndpoint::parse("169.254.16.9:5030"),
        Err(AddrError::InvalidScheme)
    );
    assert_eq!(
        OnegateEndpoint::parse("http://h:0"),
        Err(AddrError::PortZero)
    );
    assert_eq!(OnegateEndpoint::parse(""), Err(AddrError::Empty));
}

fn pairs(text: &str) -> Vec<(String, String)> {
    let cfg = NodeConfig::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    cfg.iter()
        .map(|p| {
            let v = match p.value {
                NodeConfigValue::Bool(b) => format!("bool:{b}"),
                NodeConfigValue::Int(i) => format!("int:{i}"),
                NodeConfigValue::Float(f) => format!("float:{f}"),
                NodeConfigValue::Str(s) => {
                    let mut buf = [0u8; 64];
                    format!("str:{}", s.value(&mut buf).unwrap())
                }
                _ => unreachable!("no other value kinds"),
            };
            (p.key.to_string(), v)
        })
        .collect()
}

#[test]
fn node_config_values_as_flower_reads_them() {
    let got = pairs(
        "partition-id=0 num-partitions=2 name=\"edge 1\" lit='a \"b\"' on=true off=false \
         lr=0.01 big=1e3 neg=-5 hex=0xff oct=0o17 bin=0b101 u=1_000 f=+1_0.5 i=inf \
         esc=\"tab\\there\\u00e9\" data.path='/x'",
    );
    let want: Vec<(&str, &str)> = vec![
        ("partition-id", "int:0"),
        ("num-partitions", "int:2"),
        ("name", "str:edge 1"),
        ("lit", "str:a \"b\""),
        ("on", "bool:true"),
        ("off", "bool:false"),
        ("lr", "float:0.01"),
        ("big", "float:1000"),
        ("neg", "int:-5"),
        ("hex", "int:255"),
        ("oct", "int:15"),
        ("bin", "int:5"),
        ("u", "int:1000"),
        ("f", "float:10.5"),
        ("i", "float:inf"),
        ("esc", "str:tab\there\u{e9}"),
        ("data.path", "str:/x"),
    ];
    let want: Vec<(String, String)> = want
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    assert!(NodeConfig::parse("").unwrap().is_empty());
    assert!(NodeConfig::parse("  \t ").unwrap().is_empty());
    let c = NodeConfig::parse(" k=\"v 2\"  k2=1 ").unwrap();
    assert_eq!(c.len(), 2);
    let raw: Vec<&str> = c.iter().map(|p| p.raw_value).collect();
    assert_eq!(raw, vec!["\"v 2\"", "1"]);
}

#[test]
fn node_config_errors() {
    use NodeConfigErrorKind::*;
    for (text, kind, offset) in [
        ("novalue", MissingEquals, 0),
        ("a=1 junk", MissingEquals, 4),
        ("=1", InvalidKey, 0),
        ("a b=1", MissingEquals, 0),
        ("\"q\"=1", InvalidKey, 0),
        ("a..b=1", InvalidKey, 0),
        ("a=", EmptyValue, 2),
        ("a= 1", EmptyValue, 2),
        ("a=\"open", UnterminatedString, 2),
        ("a='open", UnterminatedString, 2),
        ("a='x'y", TrailingCharacters, 5),
        ("a=\"x\\q\"", InvalidEscape, 4),
        ("a=\"x\\u12\"", InvalidEscape, 4),
        ("a=\"x\\ud800\"", InvalidEscape, 4),
        ("a='x\u{1}'", ControlCharacter, 4),
        ("a=word", InvalidValue, 2),
        ("a=True", InvalidValue, 2),
        ("a=01", InvalidValue, 2),
        ("a=1__0", InvalidValue, 2),
        ("a=1.", InvalidValue, 2),
        ("a=.5", InvalidValue, 2),
        ("a=+0x1", InvalidValue, 2),
        ("a=[1,2]", InvalidValue, 2),
        ("a=9223372036854775808", IntegerOutOfRange, 2),
        ("a=1 a=2", DuplicateKey, 4),
        ("a=1 a.b=2", DuplicateKey, 4),
        ("a.b=1 a=2", DuplicateKey, 6),
    ] {
        let e = NodeConfig::parse(text).unwrap_err();
        assert_eq!((e.kind, e.offset), (kind, offset), "{text:?}");
    }
    assert_eq!(
        NodeConfig::parse("a=-9223372036854775808")
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .value,
        NodeConfigValue::Int(i64::MIN)
    );
    let long = format!("a=1.{}", "0".repeat(200));
    assert_eq!(
        NodeConfig::parse(&long).unwrap_err().kind,
        NodeConfigErrorKind::FloatTooLong
    );
}

#[test]
fn token_rule() {
    assert_eq!(
        select_token(Some("ctx=="), Some("env"), Some("file\n")),
        Ok(Some(("ctx==", TokenSource::Context)))
    );
    assert_eq!(
        select_token(Some(""), Some("env"), Some("file\n")),
        Ok(Some(("env", TokenSource::Environment)))
    );
    assert_eq!(
        select_token(None, Some("  "), Some("k8a5hvr1rN4UxGs2KIBQ6A==\n")),
        Ok(Some(("k8a5hvr1rN4UxGs2KIBQ6A==", TokenSource::File)))
    );
    assert_eq!(select_token(None, None, None), Ok(None));
    assert_eq!(
        select_token(None, None, Some("a\nb\n")),
        Err((TokenSource::File, TokenError::MultipleLines))
    );
    assert_eq!(
        select_token(Some("sec ret"), None, None),
        Err((TokenSource::Context, TokenError::NotBase64))
    );
    // The message never contains the token.
    let msg = TokenError::NotBase64.to_string();
    assert!(!msg.contains("sec"));
}

#[test]
fn unknown_fl_keys_are_recognised() {
    assert!(EdgeConfig::is_unknown_fl_key("FL_SUPERLINK_ADRESS"));
    assert!(EdgeConfig::is_unknown_fl_key("ONEAPP_FL_NUM_ROUNDS"));
    assert!(!EdgeConfig::is_unknown_fl_key(
        "ONEAPP_FL_SUPERLINK_ADDRESS"
    ));
    assert!(!EdgeConfig::is_unknown_fl_key("FL_MIN_FIT_CLIENTS"));
    assert!(!EdgeConfig::is_unknown_fl_key("ONEAPP_SITE_ID"));
    assert!(!EdgeConfig::is_unknown_fl_key("FLAG"));
    // build ignores them: no error, defaults kept.
    let cfg = EdgeConfig::from_vars::<_, 2>([var("FL_SUPERLINK_ADRESS", "x")]).unwrap();
    assert_eq!(cfg.superlink(), None);
}
