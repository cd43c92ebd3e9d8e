//! The OneGate client library against the in-test server: timeouts,
//! oversized and malformed responses, retries, status classes, token
//! redaction, proxies, TLS, and discovery end to end. Loopback only; every
//! wait is bounded.

mod support;

use stamen_agent::onegate::{
    discover_superlink, partition, Client, ClientConfig, Discovery, DiscoveryOptions, Endpoint,
    EndpointSource, NotYet, OnegateError, ProxyMode, Timeouts, TlsMode, Token, VmRef,
};
use std::time::{Duration, Instant};
use support::{closed_port, run_stamen, Reply, TestServer};

const TOKEN: &str = "dO0R8Lm5mSxW5cUo6ZQ1Yw==";

fn config(url: &str) -> ClientConfig {
    let mut c = ClientConfig::new(
        Endpoint::parse(url).unwrap(),
        Some("42".to_string()),
        Some(Token::new(TOKEN).unwrap()),
    );
    c.proxy = ProxyMode::Disabled;
    c
}

fn client(url: &str) -> Client {
    Client::new(config(url)).unwrap()
}

#[test]
fn server_that_never_answers_times_out_within_the_bound() {
    let server = TestServer::start(vec![Reply::Hang(Duration::from_secs(20))]);
    let mut cfg = config(&server.url());
    cfg.timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_millis(300),
        overall: Duration::from_secs(2),
    };
    let c = Client::new(cfg).unwrap();
    let start = Instant::now();
    let err = c.vm().unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, OnegateError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    // Correctness bound (no retry on timeout, configured 0.3 s read): far below the hang.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(server.requests().len(), 1, "timeouts are not retried");
}

#[test]
fn stalled_body_times_out() {
    // Head promises 100 bytes, 10 arrive, then nothing.
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"VM\":{\"ID".to_vec();
    let server = TestServer::start(vec![Reply::RawThenHang(head, Duration::from_secs(20))]);
    let mut cfg = config(&server.url());
    cfg.timeouts = Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_millis(300),
        overall: Duration::from_secs(2),
    };
    let start = Instant::now();
    let err = Client::new(cfg).unwrap().vm().unwrap_err();
    assert!(matches!(err, OnegateError::Timeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn truncated_body_is_a_closed_connection_and_get_is_retried_once() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"VM\":{\"ID".to_vec();
    let server = TestServer::start(vec![Reply::Raw(head.clone()), Reply::Raw(head)]);
    let err = client(&server.url()).vm().unwrap_err();
    assert!(
        matches!(err, OnegateError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn oversized_response_is_an_error() {
    let big = vec![b' '; (8 * 1024 * 1024) + 1];
    let server = TestServer::start(vec![Reply::json(big)]);
    let err = client(&server.url()).vm().unwrap_err();
    assert_eq!(
        err,
        OnegateError::TooLarge {
            limit: 8 * 1024 * 1024
        }
    );

    let server = TestServer::start(vec![Reply::json(vec![b'x'; 2048])]);
    let mut cfg = config(&server.url());
    cfg.max_body_bytes = 1024;
    let err = Client::new(cfg).unwrap().vm().unwrap_err();
    assert_eq!(err, OnegateError::TooLarge { limit: 1024 });
}

#[test]
fn bad_json_and_wrong_document() {
    let server = TestServer::start(vec![
        Reply::json("{\"VM\": "),
        Reply::json("{\"SERVICE\":{}}"),
    ]);
    let c = client(&server.url());
    let err = c.vm().unwrap_err();
    assert!(
        matches!(&err, OnegateError::BadJson { detail } if detail.contains("line 1")),
        "{err:?}"
    );
    let err = c.vm().unwrap_err();
    assert!(
        matches!(&err, OnegateError::BadJson { detail } if detail.contains("VM")),
        "{err:?}"
    );
}

#[test]
fn connection_refused_is_a_connect_error() {
    let c = client(&format!("http://127.0.0.1:{}", closed_port()));
    let err = c.vm().unwrap_err();
    assert!(matches!(err, OnegateError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn status_classes_carry_the_server_text() {
    let server = TestServer::start(vec![
        Reply::text(400, "bad route"),
        Reply::text(401, "Not authorized"),
        Reply::text(403, "Attribute (SERVICE_ID) cannot be modified"),
        Reply::text(404, "VM 99 not found"),
        Reply::text(503, "down"),
        Reply::text(418, "teapot"),
    ]);
    let c = client(&server.url());
    let got: Vec<OnegateError> = (0..6).map(|_| c.vm().unwrap_err()).collect();
    assert_eq!(
        got[0],
        OnegateError::BadRequest {
            message: "bad route".into()
        }
    );
    assert_eq!(
        got[1],
        OnegateError::Unauthorized {
            message: "Not authorized".into()
        }
    );
    assert_eq!(
        got[2],
        OnegateError::Forbidden {
            message: "Attribute (SERVICE_ID) cannot be modified".into()
        }
    );
    assert_eq!(
        got[3],
        OnegateError::NotFound {
            message: "VM 99 not found".into()
        }
    );
    assert_eq!(
        got[4],
        OnegateError::Server {
            status: 503,
            message: "down".into(),
            retry_after: None
        }
    );
    assert_eq!(
        got[5],
        OnegateError::UnexpectedStatus {
            status: 418,
            message: "teapot".into(),
            retry_after: None
        }
    );
}

#[test]
fn retry_after_hint_and_core_status_body() {
    let busy = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
    let server = TestServer::start(vec![
        Reply::Raw(busy.to_vec()),
        Reply::Respond {
            status: 200,
            content_type: None,
            body: vec![],
        },
    ]);
    let c = client(&server.url());
    let mut buf = [0u8; 256];
    let status = stamen_core::status::FlStatus::new(stamen_core::status::ClientStatus::Training, 3);
    let n = stamen_core::form::status_body(&status, &mut buf).unwrap();
    let err = c.update_vm_form(VmRef::Current, &buf[..n]).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_transient());
    assert_eq!(err.client_message(), "busy");
    c.update_vm_form(VmRef::Current, &buf[..n]).unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        2,
        "a 503 is not retried by the client (the caller backs off)"
    );
    assert_eq!(reqs[1].body, &buf[..n]);
    assert_eq!(
        reqs[1].header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[test]
fn redirects_are_not_followed() {
    let moved = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 5\r\nConnection: close\r\n\r\nmoved";
    let server = TestServer::start(vec![Reply::Raw(moved.to_vec())]);
    let err = client(&server.url()).vm().unwrap_err();
    assert_eq!(
        err,
        OnegateError::UnexpectedStatus {
            status: 302,
            message: "moved".into(),
            retry_after: None
        }
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn client_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
    assert_send_sync::<OnegateError>();
}

#[test]
fn token_never_appears_in_errors_or_debug() {
    let server = TestServer::start(vec![Reply::text(
        500,
        format!("bad token {TOKEN} for VM 42"),
    )]);
    let c = client(&server.url());
    let err = c.vm().unwrap_err();
    for text in [
        err.to_string(),
        format!("{err:?}"),
        err.client_message(),
        format!("{c:?}"),
    ] {
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert_eq!(err.client_message(), "bad token <redacted> for VM 42");
    // ... while the header itself carries it.
    assert_eq!(server.requests()[0].header("X-ONEGATE-TOKEN"), Some(TOKEN));
}

#[test]
fn idempotent_calls_retry_once_post_never() {
    // GET: drop, drop → error after exactly two attempts.
    let server = TestServer::start(vec![Reply::Drop, Reply::Drop, Reply::json("{}")]);
    let err = client(&server.url()).vm().unwrap_err();
    assert!(
        matches!(err, OnegateError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 2);

    // PUT: drop, ok → success, same body twice.
    let server = TestServer::start(vec![
        Reply::Drop,
        Reply::Respond {
            status: 200,
            content_type: None,
            body: vec![],
        },
    ]);
    client(&server.url())
        .update_vm_attrs(
            VmRef::Current,
            &[("FL_CLIENT_STATUS", "2"), ("FL_ROUND_NUMBER", "7")],
        )
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(
        reqs[1].body,
        b"data=FL_CLIENT_STATUS%3D2%0AFL_ROUND_NUMBER%3D7&type=1"
    );

    // POST: one attempt only.
    let server = TestServer::start(vec![
        Reply::Drop,
        Reply::Respond {
            status: 204,
            content_type: None,
            body: vec![],
        },
    ]);
    let err = client(&server.url())
        .vm_action(43, "resume", false)
        .unwrap_err();
    assert!(
        matches!(err, OnegateError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn attribute_validation() {
    let c = client("http://127.0.0.1:9");
    for bad in [[("", "v")], [("A=B", "v")], [("A", "x\ny")]] {
        assert!(matches!(
            c.update_vm_attrs(VmRef::Current, &bad),
            Err(OnegateError::InvalidArgument { .. })
        ));
    }
}

#[test]
fn explicit_proxy_tunnels_with_connect() {
    let proxy = TestServer::start(vec![Reply::json(r#"{"VM":{"ID":"42"}}"#)]);
    let mut cfg = config("http://onegate.example.invalid:5030");
    cfg.proxy = ProxyMode::Url(proxy.url());
    let c = Client::new(cfg).unwrap();
    assert_eq!(c.proxy(), Some(proxy.url().as_str()));
    assert_eq!(c.vm().unwrap().vm.id.as_deref(), Some("42"));
    let reqs = proxy.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("CONNECT", "onegate.example.invalid:5030")
    );
    assert_eq!((reqs[1].method.as_str(), reqs[1].path()), ("GET", "/vm"));
    assert_eq!(reqs[1].header("Host"), Some("onegate.example.invalid:5030"));
}

#[test]
fn binary_honours_http_proxy_and_no_proxy() {
    let vm = r#"{"VM":{"ID":"42","NAME":"n"}}"#;
    // no_proxy matches the endpoint: the (dead) proxy is bypassed.
    let server = TestServer::start(vec![Reply::json(vm)]);
    let dead_proxy = format!("http://127.0.0.1:{}", closed_port());
    let url = server.url();
    let env = [
        ("ONEGATE_ENDPOINT", url.as_str()),
        ("VMID", "42"),
        ("TOKENTXT", TOKEN),
        ("http_proxy", dead_proxy.as_str()),
        ("no_proxy", "localhost,127.0.0.1"),
    ];
    let out = run_stamen(&["onegate", "vm", "show"], &env, Duration::from_secs(30));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.code, Some(0));
    assert_eq!(server.requests().len(), 1);

    // Without no_proxy the dead proxy is used and the call fails.
    let out = run_stamen(
        &["onegate", "vm", "show"],
        &env[..4],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(255));
    assert_eq!(
        server.requests().len(),
        1,
        "nothing reached the server directly"
    );
}

#[test]
fn tls_modes() {
    let vm = r#"{"VM":{"ID":"42"}}"#;
    let server = TestServer::start_tls(vec![Reply::json(vm), Reply::json(vm)]);
    let err = client(&server.url()).vm().unwrap_err();
    assert!(matches!(err, OnegateError::Tls { .. }), "{err:?}");
    assert!(!err.is_transient());

    let mut cfg = config(&server.url());
    cfg.tls = TlsMode::CustomCa(std::fs::read(support::test_ca_path()).unwrap());
    assert_eq!(
        Client::new(cfg).unwrap().vm().unwrap().vm.id.as_deref(),
        Some("42")
    );

    let mut cfg = config(&server.url());
    cfg.tls = TlsMode::Insecure;
    assert_eq!(
        Client::new(cfg).unwrap().vm().unwrap().vm.id.as_deref(),
        Some("42")
    );

    let mut cfg = config(&server.url());
    cfg.tls = TlsMode::CustomCa(b"not a pem".to_vec());
    assert!(matches!(
        Client::new(cfg),
        Err(OnegateError::InvalidArgument { .. })
    ));
}

const SERVICE: &str = r#"{"SERVICE":{"name":"fl","id":"7","state":2,"roles":[
  {"name":"superlink","cardinality":1,"state":2,"nodes":[{"deploy_id":40,"vm_info":{"VM":{"ID":"40","NAME":"sl"}}}]},
  {"name":"supernode","cardinality":2,"state":2,"nodes":[
     {"deploy_id":41,"vm_info":{"VM":{"ID":"41"}}},{"deploy_id":42,"vm_info":{"VM":{"ID":"42"}}}]}]}}"#;

#[test]
fn discovery_end_to_end() {
    let superlink_vm =
        r#"{"VM":{"ID":"40","USER_TEMPLATE":{},"TEMPLATE":{"NIC":{"IP":"10.0.0.40"}}}}"#;
    let server = TestServer::start(vec![Reply::json(SERVICE), Reply::json(superlink_vm)]);
    let c = client(&server.url());
    let found = discover_superlink(&c, &DiscoveryOptions::default())
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(
        (found.address.as_str(), found.vm_id, found.source),
        ("10.0.0.40:8000", 40, EndpointSource::NicIp)
    );
    let reqs = server.requests();
    assert_eq!((reqs[0].path(), reqs[1].path()), ("/service", "/vms/40"));
    assert!(
        reqs[0].body.is_empty(),
        "discovery asks for the plain service document"
    );

    // Role not there yet → NotYet, one request only.
    let server = TestServer::start(vec![Reply::json(r#"{"SERVICE":{"roles":[]}}"#)]);
    let got = discover_superlink(&client(&server.url()), &DiscoveryOptions::default()).unwrap();
    assert_eq!(
        got,
        Discovery::NotYet(NotYet::RoleMissing {
            role: "superlink".into()
        })
    );

    // The SuperLink VM vanished between the calls → NotYet.
    let server = TestServer::start(vec![
        Reply::json(SERVICE),
        Reply::text(404, "VM 40 not found"),
    ]);
    let got = discover_superlink(&client(&server.url()), &DiscoveryOptions::default()).unwrap();
    assert_eq!(got, Discovery::NotYet(NotYet::NoEndpoint { vm_id: 40 }));

    // 401 is a hard error.
    let server = TestServer::start(vec![Reply::text(401, "Not authorized")]);
    assert!(discover_superlink(&client(&server.url()), &DiscoveryOptions::default()).is_err());

    // Partition id of this VM (42) from the same document.
    let server = TestServer::start(vec![Reply::json(SERVICE)]);
    let svc = client(&server.url()).service(false).unwrap();
    assert_eq!(
        partition(&svc, "42", "supernode")
            .found()
            .unwrap()
            .node_config(),
        "partition-id=1 num-partitions=2"
    );
}

#[test]
fn binary_reads_the_context_file_when_the_environment_is_empty() {
    let server = TestServer::start(vec![Reply::json(r#"{"VM":{"ID":"42","NAME":"ctx"}}"#)]);
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("context.sh");
    std::fs::write(
        &ctx,
        format!(
            "# Context variables generated by OpenNebula\nONEGATE_ENDPOINT='{}'\nTOKEN='YES'\nVMID='42'\n",
            server.url()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("token.txt"), format!("{TOKEN}\n")).unwrap();
    let ctx_arg = ctx.to_string_lossy().to_string();
    let out = run_stamen(
        &["onegate", "--context", &ctx_arg, "vm", "show"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.code, Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "VM 42\nNAME                : ctx                 \n"
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].header("X-ONEGATE-TOKEN"), Some(TOKEN));
    assert_eq!(reqs[0].header("X-ONEGATE-VMID"), Some("42"));

    let missing = dir.path().join("nope.sh").to_string_lossy().to_string();
    let out = run_stamen(
        &["onegate", "--context", &missing, "vm", "show"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--context"));
}
