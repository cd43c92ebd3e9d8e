//! `FL_NODE_CONFIG`: the value of Flower's `--node-config`.
//!
//! Flower (1.42, `flwr.common.config.parse_config_args`) finds pairs with the
//! pattern `key=value`, where the value is `'…'` (no `'` inside), `"…"` (no
//! `"` inside) or a run of non-space characters, then reads each pair as a
//! TOML `key = value` line. So a value must be a TOML boolean, integer,
//! float, basic string or literal string; keys are TOML bare keys, possibly
//! dotted (`a.b`, flattened by Flower).
//!
//! stamen accepts exactly that, and is stricter where Flower silently drops
//! text: every non-blank piece must be part of a pair, pairs are separated by
//! whitespace, and a key may appear only once (TOML rejects duplicates too).
//! Quoted keys are not supported, nor is Flower's other form, a single path
//! ending in `.toml` (the context carries values, not files).

use super::parser::BufferTooSmall;
use core::fmt;

/// What is wrong with a node config.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeConfigErrorKind {
    /// A piece of text has no `=`.
    MissingEquals,
    /// The key is empty or not a TOML bare/dotted key (`A-Z a-z 0-9 _ -`,
    /// parts separated by `.`).
    InvalidKey,
    /// Nothing follows `=`.
    EmptyValue,
    /// A quoted string has no closing quote.
    UnterminatedString,
    /// A closing quote is followed by something other than whitespace.
    TrailingCharacters,
    /// A basic string holds an escape TOML does not know (allowed: `\b \t \n
    /// \f \r \\ \uXXXX \UXXXXXXXX`).
    InvalidEscape,
    /// A string holds a control character (other than tab).
    ControlCharacter,
    /// An unquoted value is not a TOML boolean, integer or float (strings
    /// must be quoted).
    InvalidValue,
    /// An integer does not fit in 64 bits.
    IntegerOutOfRange,
    /// A float literal is too long (over 128 characters) to convert.
    FloatTooLong,
    /// A key appears twice (or both as `a` and `a.b`).
    DuplicateKey,
}

impl NodeConfigErrorKind {
    /// One-line description.
    pub const fn message(self) -> &'static str {
        match self {
            NodeConfigErrorKind::MissingEquals => "expected key=value",
            NodeConfigErrorKind::InvalidKey => "invalid key (allowed: A-Z a-z 0-9 _ - and dots)",
            NodeConfigErrorKind::EmptyValue => "missing value after '='",
            NodeConfigErrorKind::UnterminatedString => "unterminated string",
            NodeConfigErrorKind::TrailingCharacters => {
                "unexpected characters after the closing quote"
            }
            NodeConfigErrorKind::InvalidEscape => "invalid escape in string",
            NodeConfigErrorKind::ControlCharacter => "control character in string",
            NodeConfigErrorKind::InvalidValue => {
                "value is not a boolean, integer, float or quoted string"
            }
            NodeConfigErrorKind::IntegerOutOfRange => "integer out of 64-bit range",
            NodeConfigErrorKind::FloatTooLong => "float literal too long",
            NodeConfigErrorKind::DuplicateKey => "duplicate key",
        }
    }
}

/// A node-config error with the byte offset (in the value) where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeConfigError {
    /// What is wrong.
    pub kind: NodeConfigErrorKind,
    /// 0-based byte offset in the node-config text.
    pub offset: usize,
}

impl fmt::Display for NodeConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind.message(), self.offset)
    }
}

impl core::error::Error for NodeConfigError {}

/// A string value: TOML literal (`'…'`, no escapes) or basic (`"…"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TomlStr<'a> {
    /// Text between the quotes.
    raw: &'a str,
    basic: bool,
}

impl<'a> TomlStr<'a> {
    /// The text between the quotes, escapes unresolved.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True for `"…"` strings (which may hold escapes).
    pub fn is_basic(&self) -> bool {
        self.basic
    }

    /// The string borrowed from the input when it holds no escape.
    pub fn borrowed(&self) -> Option<&'a str> {
        if self.basic && self.raw.contains('\\') {
            None
        } else {
            Some(self.raw)
        }
    }

    /// The string: borrowed when possible, else unescaped into `buf`.
    pub fn value<'b>(&'b self, buf: &'b mut [u8]) -> Result<&'b str, BufferTooSmall>
    where
        'a: 'b,
    {
        if let Some(s) = self.borrowed() {
            return Ok(s);
        }
        let mut at = 0usize;
        let mut rest = self.raw;
        // `raw` was validated by `NodeConfig::parse`.
        while let Some(i) = rest.find('\\') {
            let (head, tail) = rest.split_at_checked(i).unwrap_or((rest, ""));
            at = put(buf, at, head.as_bytes())?;
            let (ch, used) = decode_escape(tail).unwrap_or(('\u{FFFD}', tail.len().max(1)));
            let mut tmp = [0u8; 4];
            at = put(buf, at, ch.encode_utf8(&mut tmp).as_bytes())?;
            rest = tail.get(used..).unwrap_or("");
        }
        at = put(buf, at, rest.as_bytes())?;
        let out: &'b [u8] = buf.get(..at).unwrap_or(&[]);
        core::str::from_utf8(out).map_err(|_| BufferTooSmall { needed: at })
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<usize, BufferTooSmall> {
    let end = at.saturating_add(bytes.len());
    match buf.get_mut(at..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(end)
        }
        None => Err(BufferTooSmall { needed: end }),
    }
}

/// Decodes one escape at the start of `s` (which starts with `\`): the
/// character and the bytes used.
fn decode_escape(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let c = match b.get(1)? {
        b'b' => '\u{8}',
        b't' => '\t',
        b'n' => '\n',
        b'f' => '\u{C}',
        b'r' => '\r',
        b'\\' => '\\',
        b'u' | b'U' => {
            let n = if b.get(1) == Some(&b'u') { 4 } else { 8 };
            let hex = s.get(2..2usize.saturating_add(n))?;
            if hex.len() != n || !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(hex, 16).ok()?;
            return char::from_u32(v).map(|c| (c, 2usize.saturating_add(n)));
        }
        _ => return None,
    };
    Some((c, 2))
}

/// A typed node-config value.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeConfigValue<'a> {
    /// `true` / `false`.
    Bool(bool),
    /// A TOML integer (decimal, `0x`, `0o`, `0b`; `_` between digits).
    Int(i64),
    /// A TOML float (`1.5`, `1e3`, `inf`, `nan`).
    Float(f64),
    /// A quoted string.
    Str(TomlStr<'a>),
}

/// One `key=value` pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeConfigPair<'a> {
    /// The key as written (bare or dotted).
    pub key: &'a str,
    /// The value as written (quotes included).
    pub raw_value: &'a str,
    /// The typed value.
    pub value: NodeConfigValue<'a>,
}

/// A validated node config (checked view); [`NodeConfig::iter`] yields the pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeConfig<'a> {
    text: &'a str,
    len: usize,
}

impl<'a> NodeConfig<'a> {
    /// What is accepted, for error messages.
    pub const ALLOWED: &'static str =
        "space-separated key=value pairs, values true/false, integers, floats or quoted strings, e.g. partition-id=0 name=\"edge 1\"";

    /// The empty config.
    pub const EMPTY: Self = NodeConfig { text: "", len: 0 };

    /// Validates `text`. Blank text is a valid, empty config.
    pub fn parse(text: &'a str) -> Result<Self, NodeConfigError> {
        let mut len = 0usize;
        let outer = Pairs { text, at: 0 };
        for pair in outer {
            let (start, pair) = pair?;
            let mut inner = Pairs { text, at: 0 };
            for _ in 0..len {
                if let Some(Ok((_, earlier))) = inner.next() {
                    if keys_conflict(earlier.key, pair.key) {
                        return Err(NodeConfigError {
                            kind: NodeConfigErrorKind::DuplicateKey,
                            offset: start,
                        });
                    }
                }
            }
            len = len.saturating_add(1);
        }
        Ok(NodeConfig { text, len })
    }

    /// The text as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no pairs (Flower then gets no `--node-config`
    /// from the user and stamen derives the partition).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pairs in order.
    pub fn iter(&self) -> NodeConfigIter<'a> {
        NodeConfigIter {
            inner: Pairs {
                text: self.text,
                at: 0,
            },
        }
    }
}

fn keys_conflict(a: &str, b: &str) -> bool {
    let prefix = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    a == b || prefix(a, b) || prefix(b, a)
}

/// Iterator over a validated [`NodeConfig`].
#[derive(Clone, Debug)]
pub struct NodeConfigIter<'a> {
    inner: Pairs<'a>,
}

impl<'a> Iterator for NodeConfigIter<'a> {
    type Item = NodeConfigPair<'a>;

    fn next(&mut self) -> Option<NodeConfigPair<'a>> {
        match self.inner.next()? {
            Ok((_, p)) => Some(p),
            Err(_) => None,
        }
    }
}

#[derive(Clone, Debug)]
struct Pairs<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Pairs<'a> {
    fn err(&mut self, kind: NodeConfigErrorKind, offset: usize) -> NodeConfigError {
        self.at = self.text.len();
        NodeConfigError { kind, offset }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(usize, NodeConfigPair<'a>), NodeConfigError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.text.get(self.at..)?;
        let trimmed = rest.trim_start();
        let start = self
            .at
            .saturating_add(rest.len().saturating_sub(trimmed.len()));
        if trimmed.is_empty() {
            self.at = self.text.len();
            return None;
        }
        self.at = start;
        let word_end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let word = trimmed.get(..word_end).unwrap_or(trimmed);
        let eq = match word.find('=') {
            Some(i) => i,
            None => return Some(Err(self.err(NodeConfigErrorKind::MissingEquals, start))),
        };
        let key = word.get(..eq).unwrap_or("");
        if !valid_key(key) {
            return Some(Err(self.err(NodeConfigErrorKind::InvalidKey, start)));
        }
        let vstart = start.saturating_add(eq).saturating_add(1);
        let after = self.text.get(vstart..).unwrap_or("");
        let (raw_value, value) = match after.as_bytes().first() {
            Some(&q @ (b'\'' | b'"')) => {
                let inner = after.get(1..).unwrap_or("");
                let close = match inner.find(char::from(q)) {
                    Some(i) => i,
                    None => {
                        return Some(Err(
                            self.err(NodeConfigErrorKind::UnterminatedString, vstart)
                        ))
                    }
                };
                let content = inner.get(..close).unwrap_or("");
                let raw = after.get(..close.saturating_add(2)).unwrap_or(after);
                let end = vstart.saturating_add(raw.len());
                if self
                    .text
                    .get(end..)
                    .and_then(|s| s.chars().next())
                    .is_some_and(|c| !c.is_whitespace())
                {
                    return Some(Err(self.err(NodeConfigErrorKind::TrailingCharacters, end)));
                }
                if let Err(e) = check_string(content, q == b'"', vstart.saturating_add(1)) {
                    return Some(Err(self.err(e.kind, e.offset)));
                }
                (
                    raw,
                    NodeConfigValue::Str(TomlStr {
                        raw: content,
                        basic: q == b'"',
                    }),
                )
            }
            _ => {
                let tok_end = after.find(char::is_whitespace).unwrap_or(after.len());
                let tok = after.get(..tok_end).unwrap_or("");
                if tok.is_empty() {
                    return Some(Err(self.err(NodeConfigErrorKind::EmptyValue, vstart)));
                }
                match scalar(tok) {
                    Ok(v) => (tok, v),
                    Err(kind) => return Some(Err(self.err(kind, vstart))),
                }
            }
        };
        self.at = vstart.saturating_add(raw_value.len());
        Some(Ok((
            start,
            NodeConfigPair {
                key,
                raw_value,
                value,
            },
        )))
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

fn check_string(content: &str, basic: bool, base: usize) -> Result<(), NodeConfigError> {
    let mut iter = content.char_indices();
    while let Some((i, c)) = iter.next() {
        let offset = base.saturating_add(i);
        if (c.is_control() && c != '\t') || c == '\u{7f}' {
            return Err(NodeConfigError {
                kind: NodeConfigErrorKind::ControlCharacter,
                offset,
            });
        }
        if basic && c == '\\' {
            let tail = content.get(i..).unwrap_or("");
            match decode_escape(tail) {
                Some((_, used)) => {
                    // Skip the rest of the escape (all ASCII).
                    for _ in 1..used {
                        iter.next();
                    }
                }
                None => {
                    return Err(NodeConfigError {
                        kind: NodeConfigErrorKind::InvalidEscape,
                        offset,
                    })
                }
            }
        }
    }
    Ok(())
}

/// Digits with optional single `_` between digits.
fn digits(s: &str, radix: u32) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c == '_' || c.is_digit(radix))
}

fn scalar(tok: &str) -> Result<NodeConfigValue<'_>, NodeConfigErrorKind> {
    match tok {
        "true" => return Ok(NodeConfigValue::Bool(true)),
        "false" => return Ok(NodeConfigValue::Bool(false)),
        _ => {}
    }
    // Prefixed integers (no sign allowed in TOML).
    for (prefix, radix) in [("0x", 16u32), ("0o", 8), ("0b", 2)] {
        if let Some(d) = tok.strip_prefix(prefix) {
            if !digits(d, radix) {
                return Err(NodeConfigErrorKind::InvalidValue);
            }
            return accumulate(d, radix, false).map(NodeConfigValue::Int);
        }
    }
    let (neg, unsigned) = match tok.as_bytes().first() {
        Some(b'+') => (false, tok.get(1..).unwrap_or("")),
        Some(b'-') => (true, tok.get(1..).unwrap_or("")),
        _ => (false, tok),
    };
    if unsigned == "inf" {
        return Ok(NodeConfigValue::Float(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }));
    }
    if unsigned == "nan" {
        return Ok(NodeConfigValue::Float(f64::NAN));
    }
    // Split into integer part, fraction and exponent.
    let (mantissa, exp) = match unsigned.find(['e', 'E']) {
        Some(i) => (
            unsigned.get(..i).unwrap_or(""),
            Some(unsigned.get(i.saturating_add(1)..).unwrap_or("")),
        ),
        None => (unsigned, None),
    };
    let (int_part, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    if !digits(int_part, 10) || (int_part.len() > 1 && int_part.starts_with('0')) {
        return Err(NodeConfigErrorKind::InvalidValue);
    }
    if let Some(f) = frac {
        if !digits(f, 10) {
            return Err(NodeConfigErrorKind::InvalidValue);
        }
    }
    if let Some(e) = exp {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !digits(e, 10) {
            return Err(NodeConfigErrorKind::InvalidValue);
        }
    }
    if frac.is_none() && exp.is_none() {
        return accumulate(int_part, 10, neg).map(NodeConfigValue::Int);
    }
    // A float: drop underscores, then let core convert it.
    let mut buf = [0u8; 128];
    let mut n = 0usize;
    for b in tok.bytes().filter(|&b| b != b'_') {
        match buf.get_mut(n) {
            Some(slot) => *slot = b,
            None => return Err(NodeConfigErrorKind::FloatTooLong),
        }
        n = n.saturating_add(1);
    }
    core::str::from_utf8(buf.get(..n).unwrap_or(&[]))
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map(NodeConfigValue::Float)
        .ok_or(NodeConfigErrorKind::InvalidValue)
}

fn accumulate(d: &str, radix: u32, neg: bool) -> Result<i64, NodeConfigErrorKind> {
    let mut v: i64 = 0;
    for c in d.chars().filter(|&c| c != '_') {
        let digit = i64::from(c.to_digit(radix).ok_or(NodeConfigErrorKind::InvalidValue)?);
        v = v
            .checked_mul(i64::from(radix))
            .and_then(|v| {
                if neg {
                    v.checked_sub(digit)
                } else {
                    v.checked_add(digit)
                }
            })
            .ok_or(NodeConfigErrorKind::IntegerOutOfRange)?;
    }
    Ok(v)
}
