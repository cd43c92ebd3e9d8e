//! The IPC datagram decoder is total: every byte string decodes or gives an
//! error whose offset is inside the datagram (or at MAX_LEN), and whatever
//! decodes re-encodes to a datagram that decodes to the same report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamen_core::ipc::{self, IpcError};

fuzz_target!(|data: &[u8]| {
    match ipc::decode(data) {
        Ok(report) => {
            assert!(data.len() <= ipc::MAX_LEN);
            let mut buf = [0u8; ipc::MAX_ENCODED_LEN];
            let n = ipc::encode(&report, &mut buf).expect("a decoded report encodes");
            assert_eq!(ipc::decode(&buf[..n]), Ok(report));
            // The canonical encoding is the input without its optional newline.
            let canonical = data.strip_suffix(b"\n").unwrap_or(data);
            assert_eq!(&buf[..n], canonical);
        }
        Err(e) => {
            let _ = e.to_string();
            if let IpcError::TooLong { .. } = e {
                assert!(data.len() > ipc::MAX_LEN);
            }
        }
    }
});
