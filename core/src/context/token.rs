//! The OneGate token rule: `ONEGATE_TOKEN` in the context wins, else the
//! `TOKENTXT` environment variable, else `token.txt` next to `context.sh`.
//! Reading the environment and the file is the caller's job; this module
//! picks and checks. The token is a secret: no error here carries it.

use core::fmt;

/// Where the token came from.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// `ONEGATE_TOKEN` in the context.
    Context,
    /// The `TOKENTXT` environment variable (or one_env's `export TOKENTXT=`).
    Environment,
    /// `token.txt` next to the context file.
    File,
}

impl TokenSource {
    /// Human-readable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenSource::Context => "ONEGATE_TOKEN in the context",
            TokenSource::Environment => "TOKENTXT environment variable",
            TokenSource::File => "token.txt",
        }
    }
}

/// Why the selected token is unusable. Never contains the token.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenError {
    /// The token spans several lines.
    MultipleLines,
    /// The token holds a character outside the base64 alphabets
    /// (`A-Z a-z 0-9 + / - _ =`).
    NotBase64,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::MultipleLines => "token must be one line (allowed: one base64 line)",
            TokenError::NotBase64 => {
                "token holds a non-base64 character (allowed: A-Z a-z 0-9 + / - _ =)"
            }
        })
    }
}

impl core::error::Error for TokenError {}

/// Strips surrounding whitespace (token.txt ends with a newline).
fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|t| !t.is_empty())
}

/// Picks the token by the rule above (empty candidates do not count) and
/// checks it is one base64 line. `Ok(None)` when there is no token at all.
pub fn select_token<'a>(
    context: Option<&'a str>,
    env: Option<&'a str>,
    file: Option<&'a str>,
) -> Result<Option<(&'a str, TokenSource)>, (TokenSource, TokenError)> {
    let picked = [
        (clean(context), TokenSource::Context),
        (clean(env), TokenSource::Environment),
        (clean(file), TokenSource::File),
    ]
    .into_iter()
    .find_map(|(t, s)| t.map(|t| (t, s)));
    let Some((token, source)) = picked else {
        return Ok(None);
    };
    if token.contains('\n') {
        return Err((source, TokenError::MultipleLines));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
    {
        return Err((source, TokenError::NotBase64));
    }
    Ok(Some((token, source)))
}
