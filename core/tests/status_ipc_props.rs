//! Properties of the `stamen/1` IPC datagram codec: round trip, canonical
//! form, and total decoding (never a panic, always a sane offset).

use proptest::prelude::*;
use stamen_core::ipc::{self, IpcError, Report, MAX_ENCODED_LEN, MAX_LEN};
use stamen_core::status::ClientStatus;

fn report() -> impl Strategy<Value = Report> {
    (
        1u8..=3,
        proptest::option::of(prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            any::<u64>(),
            0u64..1000
        ]),
    )
        .prop_map(|(c, round)| Report {
            status: ClientStatus::from_code(c).unwrap(),
            round,
        })
}

/// A slow reference encoder with `format!`, to compare the fast one with.
fn reference(r: &Report) -> String {
    match r.round {
        Some(n) => format!("stamen/1 status={} round={}", r.status.code(), n),
        None => format!("stamen/1 status={}", r.status.code()),
    }
}

fn offset_ok(e: &IpcError, len: usize) -> bool {
    match e {
        IpcError::TooLong { offset } => *offset == MAX_LEN,
        other => other.offset() <= len,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip(r in report(), newline in any::<bool>()) {
        let mut buf = [0u8; MAX_ENCODED_LEN + 1];
        let n = ipc::encode(&r, &mut buf).unwrap();
        let want = reference(&r);
        prop_assert_eq!(&buf[..n], want.as_bytes());
        prop_assert_eq!(ipc::decode(&buf[..n]), Ok(r));
        buf[n] = b'\n';
        let m = if newline { n + 1 } else { n };
        prop_assert_eq!(ipc::decode(&buf[..m]), Ok(r));
    }

    #[test]
    fn encode_into_any_buffer_size(r in report(), size in 0usize..60) {
        let mut buf = vec![0xAAu8; size];
        let want = reference(&r);
        match ipc::encode(&r, &mut buf) {
            Ok(n) => prop_assert_eq!(&buf[..n], want.as_bytes()),
            Err(IpcError::BufferTooSmall { needed }) => {
                prop_assert_eq!(needed, want.len());
                prop_assert!(size < needed);
                prop_assert!(buf.iter().all(|&b| b == 0xAA), "partial write");
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    /// Arbitrary bytes: no panic; an accepted datagram is exactly the
    /// canonical encoding (plus at most one `\n`).
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        match ipc::decode(&bytes) {
            Ok(r) => {
                let canon = reference(&r);
                let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                prop_assert_eq!(body, canon.as_bytes());
            }
            Err(e) => prop_assert!(offset_ok(&e, bytes.len()), "{e:?} for len {}", bytes.len()),
        }
    }

    /// Mutations of valid datagrams (the interesting neighbourhood): same.
    #[test]
    fn mutated_messages_are_accepted_only_if_canonical(
        r in report(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = reference(&r).into_bytes();
        for (idx, byte, kind) in edits {
            let i = idx.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.push(byte),
            }
        }
        match ipc::decode(&bytes) {
            Ok(got) => {
                let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                let canon = reference(&got);
                prop_assert_eq!(body, canon.as_bytes());
            }
            Err(e) => prop_assert!(offset_ok(&e, bytes.len())),
        }
    }

    /// Texts built from the grammar's own pieces, in the wrong combinations.
    #[test]
    fn grammar_pieces(parts in proptest::collection::vec(prop_oneof![
        Just("stamen/1"), Just("stamen/2"), Just(" "), Just("status="), Just("round="),
        Just("1"), Just("0"), Just("3"), Just("4"), Just("\n"), Just("99999999999999999999"),
    ], 0..10)) {
        let s: String = parts.concat();
        match ipc::decode(s.as_bytes()) {
            Ok(r) => prop_assert_eq!(s.trim_end_matches('\n'), reference(&r)),
            Err(e) => prop_assert!(offset_ok(&e, s.len())),
        }
    }
}

#[test]
fn length_limit_is_128_bytes_including_newline() {
    // Valid messages are far shorter; the limit applies to the datagram.
    let mut long = b"stamen/1 status=1 round=1".to_vec();
    long.resize(MAX_LEN, b' ');
    assert!(matches!(
        ipc::decode(&long),
        Err(IpcError::UnexpectedField { offset: 25 })
    ));
    long.push(b'\n');
    assert_eq!(ipc::decode(&long), Err(IpcError::TooLong { offset: 128 }));
}

#[test]
fn errors_display_offsets() {
    let e = ipc::decode(b"stamen/2 status=1").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("byte 7") && text.contains("stamen/1"),
        "{text}"
    );
    let e = ipc::decode(b"stamen/1 status=7").unwrap_err();
    assert!(e.to_string().contains("byte 16"));
}
