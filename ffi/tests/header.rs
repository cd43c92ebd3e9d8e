//! The committed `include/stamen.h` is exactly what the pinned cbindgen
//! generates from the sources. To update it after an API change:
//! `STAMEN_BLESS=1 cargo test -p stamen-ffi --test header`.

use std::path::PathBuf;

fn generate() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn header_matches_generated() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/stamen.h");
    let fresh = generate();
    if std::env::var_os("STAMEN_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/stamen.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or(committed.lines().count().min(fresh.lines().count()), |i| i);
        panic!(
            "include/stamen.h is out of date (first difference at line {}); \
             regenerate with STAMEN_BLESS=1 cargo test -p stamen-ffi --test header",
            line + 1
        );
    }
}

#[test]
fn header_lists_every_result_code() {
    let header = generate();
    let mut in_header: Vec<u32> = header
        .lines()
        .filter_map(|l| l.trim().strip_prefix("STAMEN_RESULT_"))
        .filter_map(|l| l.split('=').nth(1))
        .map(|v| {
            v.trim()
                .trim_end_matches(',')
                .parse()
                .expect("numeric code")
        })
        .collect();
    in_header.sort_unstable();
    let mut known: Vec<u32> = stamen::stamen_result::ALL
        .iter()
        .map(|r| *r as u32)
        .collect();
    known.sort_unstable();
    assert_eq!(
        in_header, known,
        "stamen_result::ALL must list every variant"
    );
}

#[test]
fn header_version_macros_match_cargo_toml() {
    let header = generate();
    let define = |name: &str| -> String {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} missing from the header"))
            .trim()
            .to_string()
    };
    assert_eq!(
        define("STAMEN_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        define("STAMEN_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        define("STAMEN_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    // STAMEN_VERSION is stringified from the three numbers (the C tests
    // compare it with stamen_version() at run time).
    assert!(define("STAMEN_VERSION").starts_with('\\'));
}
