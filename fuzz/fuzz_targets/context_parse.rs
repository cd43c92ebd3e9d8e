//! The context parser in both dialects: every entry either unescapes into a
//! buffer of exactly `unescaped_len` bytes or reports a position inside the
//! input; `collect` never panics and keeps its capacity promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamen_core::context::{collect, escape_into, Dialect, Parser};

fuzz_target!(|data: &[u8]| {
    let mut buf = [0u8; 4096];
    for dialect in [Dialect::ContextSh, Dialect::Lenient] {
        let mut last_offset = 0usize;
        for item in Parser::new(data, dialect).take(10_000) {
            match item {
                Ok(e) => {
                    assert!(!e.key().is_empty());
                    let pos = e.key_pos();
                    assert!(pos.offset >= last_offset, "entries go forward");
                    assert!(pos.offset < data.len().max(1));
                    last_offset = pos.offset;
                    let need = e.unescaped_len();
                    let chunked: usize = e.chunks().map(str::len).sum();
                    assert_eq!(chunked, need, "chunks add up to the unescaped length");
                    match e.value(&mut buf) {
                        Ok(v) => {
                            assert_eq!(v.len(), need);
                            if let Some(b) = e.borrowed() {
                                assert_eq!(b, v);
                            }
                            // Re-escaping a context.sh value and parsing it again gives it back.
                            if dialect == Dialect::ContextSh {
                                roundtrip(e.key(), v);
                            }
                        }
                        Err(t) => assert!(t.needed > buf.len()),
                    }
                }
                Err(err) => {
                    assert!(err.pos.line >= 1);
                    let _ = format!("{err}");
                }
            }
        }
        let mut scratch = [0u8; 2048];
        let c = collect::<32, 4>(data, dialect, &mut scratch);
        assert!(c.vars().len() <= 32);
        assert!(c.errors().len() <= 4);
        for (i, v) in c.vars().iter().enumerate() {
            let _ = c.is_lossy(i);
            assert!(c.get(v.key).is_some());
        }
    }
});

fn roundtrip(key: &str, value: &str) {
    let mut esc = [0u8; 8192];
    let Some(n) = escape_into(value, &mut esc) else {
        return;
    };
    let mut line = Vec::with_capacity(key.len() + n + 4);
    line.extend_from_slice(key.as_bytes());
    line.extend_from_slice(b"='");
    line.extend_from_slice(&esc[..n]);
    line.extend_from_slice(b"'\n");
    let mut buf = [0u8; 8192];
    let mut it = Parser::new(&line, Dialect::ContextSh);
    let e = it
        .next()
        .expect("one entry")
        .expect("an escaped value parses");
    assert_eq!(e.key(), key);
    assert_eq!(e.value(&mut buf).expect("fits"), value);
}
