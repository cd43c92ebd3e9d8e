//! The SuperLink CA certificate: decode `FL_CA_CERT` (base64 of a PEM file),
//! check it is a PEM certificate, and write it atomically with mode 0644.

use base64::Engine as _;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Decode and check `FL_CA_CERT`; returns the PEM text.
///
/// Accepts the base64 with or without line breaks/whitespace. The PEM must
/// contain at least one `CERTIFICATE` block whose body is base64 of a DER
/// SEQUENCE (first byte 0x30); text outside blocks is allowed (bundles often
/// carry comments).
pub fn decode_ca(b64: &str) -> Result<String, String> {
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err("FL_CA_CERT is empty".into());
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| format!("FL_CA_CERT is not valid base64: {e}"))?;
    let pem = String::from_utf8(raw)
        .map_err(|_| "FL_CA_CERT does not decode to text (PEM expected)".to_string())?;
    check_pem(&pem)?;
    Ok(pem)
}

/// Check that `pem` holds one or more well-formed certificate blocks.
pub fn check_pem(pem: &str) -> Result<(), String> {
    let mut rest = pem;
    let mut blocks = 0usize;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or_else(|| format!("certificate {} has no {END} line", blocks + 1))?;
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("certificate {} body is not base64: {e}", blocks + 1))?;
        if der.first() != Some(&0x30) || der.len() < 16 {
            return Err(format!(
                "certificate {} is not a DER certificate",
                blocks + 1
            ));
        }
        blocks += 1;
        rest = &after[end + END.len()..];
    }
    if blocks == 0 {
        return Err(format!("FL_CA_CERT holds no {BEGIN} block"));
    }
    Ok(())
}

/// Write `contents` to `path` atomically: a temporary file in the same
/// directory (mode 0644), fsync, rename over `path`, fsync the directory.
/// On error the temporary file is removed and `path` is left untouched.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "CA path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        // The umask may have removed bits; the mode is part of the contract.
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid PEM block (DER SEQUENCE header + filler bytes).
    fn fake_pem() -> String {
        let mut der = vec![0x30, 0x82, 0x01, 0x0a];
        der.extend(std::iter::repeat_n(0x42u8, 40));
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("{BEGIN}\n{body}\n{END}\n")
    }

    #[test]
    fn decode_accepts_pem_and_rejects_garbage() {
        let pem = fake_pem();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
        assert_eq!(decode_ca(&b64).unwrap(), pem);
        // Line-wrapped base64 is fine.
        let wrapped: String = b64
            .as_bytes()
            .chunks(20)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_ca(&wrapped).unwrap(), pem);
        assert!(decode_ca("").unwrap_err().contains("empty"));
        assert!(decode_ca("!!!").unwrap_err().contains("base64"));
        let not_pem = base64::engine::general_purpose::STANDARD.encode("hello");
        assert!(decode_ca(&not_pem).unwrap_err().contains("no -----BEGIN"));
        let bad_body = base64::engine::general_purpose::STANDARD.encode(format!(
            "{BEGIN}\nSGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=\n{END}\n"
        ));
        assert!(decode_ca(&bad_body).unwrap_err().contains("not a DER"));
        let unterminated =
            base64::engine::general_purpose::STANDARD.encode(format!("{BEGIN}\nMII\n"));
        assert!(decode_ca(&unterminated)
            .unwrap_err()
            .contains("no -----END"));
    }

    #[test]
    fn atomic_write_mode_and_failure() {
        let dir = std::env::temp_dir().join(format!("stamen-ca-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ca.pem");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let missing = dir.join("no/such/dir/ca.pem");
        assert!(write_atomic(&missing, b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
