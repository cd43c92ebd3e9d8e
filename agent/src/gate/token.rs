//! OneGate tokens, made and checked the way OpenNebula does.
//!
//! Facts, from OpenNebula's source (`OpenNebula/one`):
//! - Each user gets `TOKEN_PASSWORD` in its template at creation
//!   (`UserPool::allocate`: `one_util::random_password()`, the hex SHA-256 of a
//!   random integer, i.e. 64 lower-case hex characters).
//! - oned writes `token.txt` on the context CD when `CONTEXT/TOKEN=YES`
//!   (`VirtualMachine::generate_token_context`): the plaintext is
//!   `"<VMID>:<STIME>"`, encrypted with `one_util::aes256cbc_encrypt(plain,
//!   token_password)` of the VM's owner (`CREATED_BY`), base64, one line.
//! - `aes256cbc_encrypt` (src/common/NebulaUtil.cc) calls
//!   `EVP_EncryptInit(ctx, EVP_aes_256_cbc(), password.c_str(), NULL)`: the key
//!   is the first 32 bytes of the password string itself (no digest), the IV is
//!   NULL, i.e. all zeros, and EVP's default PKCS#7 padding applies.
//! - OneGate (`OneGateCloudAuth#decrypt`) mirrors it in Ruby:
//!   `cipher.key = token_password[0..31]`, no IV, `Base64::decode64`, then
//!   `split(':')` and both parts must equal the VM's `ID` and `STIME` strings.
//!
//! The password and tokens are secrets: [`TokenKey`]'s `Debug` is redacted
//! and no error message here contains either.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use std::fmt;

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// The AES-256 key derived from an owner's `TOKEN_PASSWORD`.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// Why a token password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    /// Shorter than the 32 bytes AES-256 needs (oned would read past the end
    /// of the string; OneGate's Ruby OpenSSL raises "key must be 32 bytes").
    TooShort,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooShort => {
                f.write_str("token_password must be at least 32 bytes (oned uses its first 32 as the AES-256 key)")
            }
        }
    }
}

impl std::error::Error for PasswordError {}

impl TokenKey {
    /// Key from a `TOKEN_PASSWORD`: its first 32 bytes.
    pub fn from_password(password: &str) -> Result<TokenKey, PasswordError> {
        let b = password.as_bytes();
        let first: [u8; 32] = b
            .get(..32)
            .and_then(|s| s.try_into().ok())
            .ok_or(PasswordError::TooShort)?;
        Ok(TokenKey(first))
    }

    /// The token oned writes to `token.txt` for a VM (without the newline).
    pub fn token_for(&self, vm_id: u32, stime: &str) -> String {
        let plain = format!("{vm_id}:{stime}");
        let ct = Enc::new(&self.0.into(), &[0u8; 16].into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(ct)
    }

    /// Decrypts a token; `None` when it is not base64, not a whole number of
    /// blocks, or its padding is wrong (OneGate answers 401 to all of these).
    pub fn decrypt(&self, token: &str) -> Option<Vec<u8>> {
        // Ruby's Base64.decode64 ignores characters outside the alphabet (such
        // as a trailing newline); accept surrounding whitespace the same way.
        let ct = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        Dec::new(&self.0.into(), &[0u8; 16].into())
            .decrypt_padded_vec_mut::<Pkcs7>(&ct)
            .ok()
    }

    /// OneGate's check: the token decrypts and its `ID:STIME` parts equal the
    /// VM's `ID` and `STIME` strings.
    pub fn verify(&self, token: &str, vm_id: &str, stime: &str) -> bool {
        let Some(plain) = self.decrypt(token) else {
            return false;
        };
        let Ok(plain) = std::str::from_utf8(&plain) else {
            return false;
        };
        let mut parts = plain.split(':');
        parts.next() == Some(vm_id) && parts.next() == Some(stime)
    }
}

/// A fresh password in oned's format: 64 lower-case hex characters.
pub fn random_password() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("cannot get random bytes: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers computed independently with OpenSSL, the library oned
    // uses:  PW=$(printf 'stamen-gate-test' | sha256sum | cut -c1-64)
    //        printf '42:1718000000' | openssl enc -aes-256-cbc \
    //          -K $(printf %s "${PW:0:32}" | xxd -p -c 64) -iv 0…0 | base64
    const PW: &str = "af07ce14aeaf85deeb9a49bf92cdfb1e903622fc86019155db393d63bc813af7";

    #[test]
    fn matches_openssl_known_answers() {
        let k = TokenKey::from_password(PW).unwrap();
        assert_eq!(k.token_for(42, "1718000000"), "sToDHL2V/7fuMMgMjKpOPA==");
        assert_eq!(k.token_for(43, "1718000010"), "EZ/NdqB02d2BiG5cy+ojow==");
        assert_eq!(
            k.token_for(1234567, "1718000000123"),
            "qQWVEcHa1zbmnys5WxJxovek8iYEkyjt+ynOcanIMX4="
        );
    }

    #[test]
    fn verify_checks_id_and_stime() {
        let k = TokenKey::from_password(PW).unwrap();
        let t = k.token_for(42, "1718000000");
        assert!(k.verify(&t, "42", "1718000000"));
        assert!(k.verify(&format!("{t}\n"), "42", "1718000000"));
        assert!(!k.verify(&t, "43", "1718000000"));
        assert!(!k.verify(&t, "42", "1718000001"));
        assert!(!k.verify("not base64!!", "42", "1718000000"));
        assert!(!k.verify("AAAA", "42", "1718000000"));
        let other = TokenKey::from_password(&PW.replace('a', "b")).unwrap();
        assert!(!other.verify(&t, "42", "1718000000"));
    }

    #[test]
    fn short_password_refused_and_debug_redacted() {
        assert_eq!(
            TokenKey::from_password("short").unwrap_err(),
            PasswordError::TooShort
        );
        let k = TokenKey::from_password(PW).unwrap();
        assert!(!format!("{k:?}").contains("af07"));
        let p = random_password().unwrap();
        assert_eq!(p.len(), 64);
        assert!(TokenKey::from_password(&p).is_ok());
    }
}
