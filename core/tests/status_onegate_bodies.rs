//! The OneGate form bodies against the official Ruby client's requests
//! (`tests/vectors/onegate/reference-requests.jsonl`), byte for byte.

use proptest::prelude::*;
use serde_json::Value;
use stamen_core::form::{self, FormError, UpdateBody};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/onegate/reference-requests.jsonl"
));

fn is_vm_put(path: &str) -> bool {
    path == "/vm"
        || path
            .strip_prefix("/vms/")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn bodies_match_the_official_client() {
    let mut checked = 0;
    let mut saw_literal_backslash_n = false;
    for (lineno, line) in VECTORS.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("reference-requests.jsonl:{}: {e}", lineno + 1));
        if v["method"] != "PUT" || !is_vm_put(v["path"].as_str().unwrap()) {
            continue;
        }
        let argv: Vec<&str> = v["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let body = v["body"].as_str().unwrap().as_bytes();
        let flag = argv.iter().position(|a| *a == "--data" || *a == "--erase");
        let Some(i) = flag else {
            panic!("line {}: PUT without --data/--erase: {argv:?}", lineno + 1)
        };
        let arg = argv[i + 1];
        let mut buf = [0u8; 512];
        let n = if argv[i] == "--data" {
            form::update_body(arg, &mut buf).unwrap()
        } else {
            form::erase_body(arg, &mut buf).unwrap()
        };
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            std::str::from_utf8(body).unwrap(),
            "case {} (line {})",
            v["case"],
            lineno + 1
        );
        if arg.contains("\\n") {
            // The Ruby client does not turn a typed backslash-n into a newline.
            assert!(v["body"].as_str().unwrap().contains("%5Cn"));
            saw_literal_backslash_n = true;
        }
        checked += 1;
    }
    // vm_update_* (7 cases), vms_update_id, two probe_retry_put requests.
    assert_eq!(checked, 10, "number of PUT /vm and /vms/:id vectors");
    assert!(saw_literal_backslash_n);
}

#[test]
fn builder_reproduces_the_real_newline_vector() {
    // vm_update_data_real_newline: `--data $'A=1\nB=2'`.
    let mut buf = [0u8; 64];
    let mut b = UpdateBody::new(&mut buf);
    b.attr("A", "1").unwrap();
    b.attr("B", "2").unwrap();
    let n = b.finish().unwrap();
    assert_eq!(&buf[..n], b"data=A%3D1%0AB%3D2&type=1");
}

/// Reference percent-decoder for `application/x-www-form-urlencoded`.
fn decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = std::str::from_utf8(&s[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

proptest! {
    #[test]
    fn encoding_round_trips_and_uses_only_safe_bytes(input in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut buf = vec![0u8; form::encoded_len(&input)];
        let n = form::encode_component(&input, &mut buf).unwrap();
        prop_assert_eq!(n, buf.len());
        prop_assert!(buf.iter().all(|b| b.is_ascii_alphanumeric() || b"*-._+%".contains(b)));
        // Every escape is `%` and two upper-case hex digits.
        for (i, _) in buf.iter().enumerate().filter(|(_, b)| **b == b'%') {
            let hex = &buf[i + 1..i + 3];
            prop_assert!(hex.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)), "{:?}", hex);
        }
        prop_assert_eq!(decode(&buf), input);
    }

    #[test]
    fn short_buffers_error_never_truncate(data in "\\PC{0,40}", size in 0usize..120) {
        let mut full = [0u8; 512];
        let want = form::update_body(&data, &mut full).unwrap();
        let mut buf = vec![0u8; size];
        match form::update_body(&data, &mut buf) {
            Ok(n) => { prop_assert_eq!(n, want); prop_assert_eq!(&buf[..n], &full[..want]); }
            Err(FormError::BufferTooSmall { needed }) => {
                prop_assert_eq!(needed, want);
                prop_assert!(size < want);
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn builder_values_decode_to_lines(vals in proptest::collection::vec("[^\r\n\u{0}]{0,20}", 1..5)) {
        let mut buf = [0u8; 2048];
        let mut b = UpdateBody::new(&mut buf);
        for (i, v) in vals.iter().enumerate() {
            b.attr(&format!("K{i}"), v).unwrap();
        }
        let n = b.finish().unwrap();
        let body = &buf[..n];
        let data = body.strip_prefix(b"data=").unwrap().strip_suffix(b"&type=1").unwrap();
        let text = String::from_utf8(decode(data)).unwrap();
        let expect: Vec<String> = vals.iter().enumerate().map(|(i, v)| format!("K{i}={v}")).collect();
        prop_assert_eq!(text.split('\n').map(str::to_owned).collect::<Vec<_>>(), expect);
    }
}
