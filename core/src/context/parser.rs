//! Zero-copy parser for `context.sh` (and, leniently, `one_env`).
//!
//! oned writes `context.sh` with one rule: every value is wrapped in single
//! quotes and a `'` inside it is written `'\''`. Nothing else is escaped, so a
//! newline stays a raw newline (values span lines) and `$`, backticks and
//! `$(...)` are literal. This parser reads exactly that, byte by byte, without
//! allocating: keys and escape-free values borrow the input; values holding
//! `'\''` are unescaped on demand into a caller buffer ([`Entry::value`]).
//!
//! Errors never stop the iteration: the parser reports the error with its
//! line, column and byte offset, then resynchronises at the next line that
//! starts an assignment (`KEY=`), so one pass reports every problem.

use core::fmt;

/// A position in the input: 1-based line and column (in characters), and the
/// 0-based byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in Unicode scalar values from the line start.
    pub column: u32,
    /// 0-based byte offset from the start of the input.
    pub offset: usize,
}

/// Which file format the parser accepts.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `context.sh` exactly as oned writes it: `KEY='value'` with `'\''`
    /// escapes, blank lines and `#` comments. Anything else is an error.
    ContextSh,
    /// Also accepts `export KEY="value"` (one-context's `one_env`: NO
    /// escaping, so lossy — see [`Entry::is_lossy`]) and plain `KEY=value`
    /// lines without whitespace or shell characters. Leading blanks are
    /// allowed. As one_env has no escapes, a double-quoted value ends at the
    /// first `"` followed only by blanks up to the end of a line (so a
    /// value in which `"` ends a line cannot be recovered).
    Lenient,
}

/// What went wrong while parsing.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// A line is neither blank, a `#` comment nor an assignment: it does not
    /// start with a letter or `_`.
    ExpectedKey,
    /// The variable name holds a character outside `A-Z a-z 0-9 _`.
    InvalidKey,
    /// The variable name is not followed by `=`.
    MissingEquals,
    /// [`Dialect::ContextSh`]: the value after `=` does not start with `'`.
    ExpectedQuote,
    /// The input ends inside a quoted value.
    UnterminatedQuote,
    /// Something other than blanks follows the closing quote on its line.
    TrailingCharacters,
    /// The value (or name) is not valid UTF-8.
    InvalidUtf8,
    /// [`Dialect::Lenient`]: an unquoted value contains whitespace, a quote
    /// or a shell character (`$`, backtick, `\`, `;`, `&`, `|`, `<`, `>`,
    /// `(`, `)`), which a shell would not read as a plain value.
    UnquotedSpecial,
    /// [`collect`](super::collect): the fixed-capacity variable table is
    /// full; this and later variables were not stored.
    TooManyVariables,
    /// [`collect`](super::collect): the scratch buffer cannot hold this
    /// unescaped value (a buffer as long as the input always suffices).
    ScratchTooSmall,
}

impl ParseErrorKind {
    /// One-line description, ending with what is allowed.
    pub const fn message(self) -> &'static str {
        match self {
            ParseErrorKind::ExpectedKey => {
                "expected a variable assignment (allowed: KEY='value', a # comment or a blank line)"
            }
            ParseErrorKind::InvalidKey => {
                "invalid character in variable name (allowed: A-Z, a-z, 0-9 and _, not starting with a digit)"
            }
            ParseErrorKind::MissingEquals => "expected '=' after the variable name",
            ParseErrorKind::ExpectedQuote => {
                "value must be single-quoted (allowed: KEY='value', a ' inside written as '\\'')"
            }
            ParseErrorKind::UnterminatedQuote => "unterminated quoted value: the closing quote is missing",
            ParseErrorKind::TrailingCharacters => {
                "unexpected characters after the closing quote (allowed: end of line; a ' inside a value is written '\\'')"
            }
            ParseErrorKind::InvalidUtf8 => "value is not valid UTF-8",
            ParseErrorKind::UnquotedSpecial => {
                "unquoted value contains whitespace, a quote or a shell character (allowed: quote the value)"
            }
            ParseErrorKind::TooManyVariables => "too many variables for the fixed-capacity table",
            ParseErrorKind::ScratchTooSmall => "scratch buffer too small for the unescaped value",
        }
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A parse error: what and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where it went wrong.
    pub pos: Pos,
}

impl fmt::Display for ParseError {
    /// `LINE:COL: message` (prefix the file name yourself).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.column, self.kind)
    }
}

impl core::error::Error for ParseError {}

/// Returned by [`Entry::value_into`] when the caller's buffer cannot hold the
/// unescaped value. `needed` is [`Entry::unescaped_len`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferTooSmall {
    /// Bytes the value needs.
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer too small: the value needs {} bytes", self.needed)
    }
}

impl core::error::Error for BufferTooSmall {}

/// How a value was written.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quoting {
    /// `KEY='value'` (oned's form). The raw text may contain `'\''`.
    Single,
    /// `KEY="value"` (one_env's form, no escaping: the raw text is the value).
    Double,
    /// `KEY=value`: the raw text is the value.
    Bare,
}

/// The oned escape for a single quote inside a single-quoted value.
const ESCAPED_QUOTE: &str = "'\\''";

/// One `KEY=value` assignment. A checked view: the key is a valid name and
/// the raw value is valid UTF-8 whose only `'` characters are `'\''` escapes.
///
/// `Debug` prints `<redacted>` for the value of a secret key
/// ([`is_secret_key`](super::is_secret_key)).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    key: &'a str,
    raw: &'a str,
    quoting: Quoting,
    escaped: bool,
    key_pos: Pos,
    value_pos: Pos,
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw: &dyn fmt::Debug = if super::is_secret_key(self.key) {
            &"<redacted>"
        } else {
            &self.raw
        };
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("raw", raw)
            .field("quoting", &self.quoting)
            .field("escaped", &self.escaped)
            .field("key_pos", &self.key_pos)
            .field("value_pos", &self.value_pos)
            .finish()
    }
}

impl<'a> Entry<'a> {
    /// The variable name, borrowed from the input.
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The value as it appears between the quotes (escapes not resolved).
    pub fn raw_value(&self) -> &'a str {
        self.raw
    }

    /// How the value was quoted.
    pub fn quoting(&self) -> Quoting {
        self.quoting
    }

    /// Position of the first character of the key.
    pub fn key_pos(&self) -> Pos {
        self.key_pos
    }

    /// Position of the first character after `=`.
    pub fn value_pos(&self) -> Pos {
        self.value_pos
    }

    /// The value, borrowed from the input, when it holds no escape.
    pub fn borrowed(&self) -> Option<&'a str> {
        if self.escaped {
            None
        } else {
            Some(self.raw)
        }
    }

    /// Length in bytes of the unescaped value.
    pub fn unescaped_len(&self) -> usize {
        if !self.escaped {
            return self.raw.len();
        }
        let n = self.raw.matches(ESCAPED_QUOTE).count();
        // Each 4-byte escape becomes one byte.
        self.raw.len().saturating_sub(n.saturating_mul(3))
    }

    /// The unescaped value as a sequence of borrowed pieces (no buffer
    /// needed): concatenated, they are the value.
    pub fn chunks(&self) -> ValueChunks<'a> {
        ValueChunks {
            rest: self.raw,
            escaped: self.escaped,
        }
    }

    /// The value: borrowed from the input when it has no escapes, else
    /// unescaped into `buf`.
    pub fn value<'b>(&'b self, buf: &'b mut [u8]) -> Result<&'b str, BufferTooSmall>
    where
        'a: 'b,
    {
        match self.borrowed() {
            Some(v) => Ok(v),
            None => self.value_into(buf),
        }
    }

    /// The unescaped value, always written into `buf`.
    pub fn value_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, BufferTooSmall> {
        let needed = self.unescaped_len();
        let out = match buf.get_mut(..needed) {
            Some(out) => out,
            None => return Err(BufferTooSmall { needed }),
        };
        let mut at = 0usize;
        for chunk in self.chunks() {
            let end = at.saturating_add(chunk.len());
            match out.get_mut(at..end) {
                Some(dst) => dst.copy_from_slice(chunk.as_bytes()),
                None => return Err(BufferTooSmall { needed }),
            }
            at = end;
        }
        let out: &'b [u8] = out;
        // Concatenating whole `str` pieces yields valid UTF-8.
        core::str::from_utf8(out).map_err(|_| BufferTooSmall { needed })
    }

    /// True for a double-quoted one_env value that one-context may have
    /// corrupted: it holds `"`, `$`, a backtick or `\`, which one_env writes
    /// without escaping (and which a shell sourcing it would interpret).
    pub fn is_lossy(&self) -> bool {
        self.quoting == Quoting::Double
            && self
                .raw
                .bytes()
                .any(|b| matches!(b, b'"' | b'$' | b'`' | b'\\'))
    }
}

/// Iterator over the pieces of an unescaped value; see [`Entry::chunks`].
/// (`Debug` shows only the remaining length: the value may be a secret.)
#[derive(Clone)]
pub struct ValueChunks<'a> {
    rest: &'a str,
    escaped: bool,
}

impl fmt::Debug for ValueChunks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueChunks")
            .field("remaining_bytes", &self.rest.len())
            .finish()
    }
}

impl<'a> Iterator for ValueChunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        if !self.escaped {
            let all = self.rest;
            self.rest = "";
            return Some(all);
        }
        match self.rest.find(ESCAPED_QUOTE) {
            Some(0) => {
                self.rest = self.rest.get(ESCAPED_QUOTE.len()..).unwrap_or("");
                Some("'")
            }
            Some(i) => {
                let (head, tail) = self.rest.split_at_checked(i).unwrap_or((self.rest, ""));
                self.rest = tail;
                Some(head)
            }
            None => {
                let all = self.rest;
                self.rest = "";
                Some(all)
            }
        }
    }
}

/// Encodes `value` the way oned does (`'` → `'\''`) into `out`, without the
/// surrounding quotes. Returns the written length, or `None` if `out` is too
/// small. Useful for tests and for writing context files.
pub fn escape_into(value: &str, out: &mut [u8]) -> Option<usize> {
    let mut at = 0usize;
    for piece in value.split_inclusive('\'') {
        let (text, quote) = match piece.strip_suffix('\'') {
            Some(t) => (t, true),
            None => (piece, false),
        };
        let end = at.checked_add(text.len())?;
        out.get_mut(at..end)?.copy_from_slice(text.as_bytes());
        at = end;
        if quote {
            let end = at.checked_add(ESCAPED_QUOTE.len())?;
            out.get_mut(at..end)?
                .copy_from_slice(ESCAPED_QUOTE.as_bytes());
            at = end;
        }
    }
    Some(at)
}

/// Streaming parser: an iterator of `Result<Entry, ParseError>`.
///
/// ```
/// use stamen_core::context::{Dialect, Parser};
/// let text = b"# Context variables generated by OpenNebula\nA='it'\\''s'\nB='x'\n";
/// let mut buf = [0u8; 16];
/// let mut p = Parser::new(text, Dialect::ContextSh);
/// let a = p.next().unwrap().unwrap();
/// assert_eq!((a.key(), a.value(&mut buf).unwrap()), ("A", "it's"));
/// let b = p.next().unwrap().unwrap();
/// assert_eq!(b.borrowed(), Some("x"));
/// assert!(p.next().is_none());
/// ```
///
/// `Debug` shows the position, not the input (which holds the token).
#[derive(Clone)]
pub struct Parser<'a> {
    input: &'a [u8],
    dialect: Dialect,
    at: usize,
    line: u32,
    line_start: usize,
}

impl fmt::Debug for Parser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parser")
            .field("dialect", &self.dialect)
            .field("input_len", &self.input.len())
            .field("offset", &self.at)
            .field("line", &self.line)
            .finish()
    }
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Parser<'a> {
    /// A parser over `input` in the given dialect.
    pub fn new(input: &'a [u8], dialect: Dialect) -> Self {
        Parser {
            input,
            dialect,
            at: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The dialect this parser accepts.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.input.get(self.at.saturating_add(n)).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at = self.at.saturating_add(1);
        if b == b'\n' {
            self.line = self.line.saturating_add(1);
            self.line_start = self.at;
        }
        Some(b)
    }

    fn pos_at(&self, offset: usize) -> Pos {
        // `offset` is always on the current line (>= line_start).
        let column = self
            .input
            .get(self.line_start..offset)
            .map(|s| s.iter().filter(|&&b| (b & 0xC0) != 0x80).count())
            .unwrap_or(0);
        Pos {
            line: self.line,
            column: u32::try_from(column).unwrap_or(u32::MAX).saturating_add(1),
            offset,
        }
    }

    fn pos(&self) -> Pos {
        self.pos_at(self.at)
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.bump() {
            if b == b'\n' {
                break;
            }
        }
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    /// True if the line starting at `self.at` looks like an assignment.
    fn line_starts_assignment(&self) -> bool {
        let mut i = self.at;
        let get = |i: usize| self.input.get(i).copied();
        if self.dialect == Dialect::Lenient {
            while get(i).is_some_and(is_blank) {
                i = i.saturating_add(1);
            }
            if self
                .input
                .get(i..)
                .is_some_and(|s| s.starts_with(b"export"))
                && get(i.saturating_add(6)).is_some_and(is_blank)
            {
                i = i.saturating_add(6);
                while get(i).is_some_and(is_blank) {
                    i = i.saturating_add(1);
                }
            }
        }
        if !get(i).is_some_and(is_key_start) {
            return false;
        }
        while get(i).is_some_and(is_key_char) {
            i = i.saturating_add(1);
        }
        get(i) == Some(b'=')
    }

    /// Skips to the next line that starts an assignment (or the end).
    fn resync(&mut self) {
        loop {
            self.skip_line();
            if self.peek().is_none() || self.line_starts_assignment() {
                return;
            }
        }
    }

    fn fail(&mut self, kind: ParseErrorKind, pos: Pos) -> ParseError {
        self.resync();
        ParseError { kind, pos }
    }

    /// After a closing quote: blanks, then end of line or input.
    fn end_of_line(&mut self) -> Result<(), ParseError> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.bump();
                Ok(())
            }
            Some(_) => {
                let pos = self.pos();
                Err(self.fail(ParseErrorKind::TrailingCharacters, pos))
            }
        }
    }

    fn utf8(&self, start: usize, end: usize, start_pos: Pos) -> Result<&'a str, ParseError> {
        let bytes = self.input.get(start..end).unwrap_or(&[]);
        core::str::from_utf8(bytes).map_err(|e| {
            let bad = start.saturating_add(e.valid_up_to());
            ParseError {
                kind: ParseErrorKind::InvalidUtf8,
                pos: self.pos_of(bad, start_pos),
            }
        })
    }

    /// Position of `offset`, scanning forward from a known earlier `from`.
    fn pos_of(&self, offset: usize, from: Pos) -> Pos {
        let mut line = from.line;
        let mut line_start = self
            .input
            .get(..from.offset)
            .and_then(|s| s.iter().rposition(|&b| b == b'\n'))
            .map(|p| p.saturating_add(1))
            .unwrap_or(0);
        if let Some(seg) = self.input.get(from.offset..offset) {
            for (i, &b) in seg.iter().enumerate() {
                if b == b'\n' {
                    line = line.saturating_add(1);
                    line_start = from.offset.saturating_add(i).saturating_add(1);
                }
            }
        }
        let column = self
            .input
            .get(line_start..offset)
            .map(|s| s.iter().filter(|&&b| (b & 0xC0) != 0x80).count())
            .unwrap_or(0);
        Pos {
            line,
            column: u32::try_from(column).unwrap_or(u32::MAX).saturating_add(1),
            offset,
        }
    }

    fn single_quoted(&mut self) -> Result<(usize, usize, bool), ParseError> {
        let open = self.pos();
        self.bump(); // opening '
        let start = self.at;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        kind: ParseErrorKind::UnterminatedQuote,
                        pos: open,
                    })
                }
                Some(b'\'') => {
                    if self.peek_at(1) == Some(b'\\')
                        && self.peek_at(2) == Some(b'\'')
                        && self.peek_at(3) == Some(b'\'')
                    {
                        escaped = true;
                        for _ in 0..4 {
                            self.bump();
                        }
                    } else {
                        let end = self.at;
                        self.bump(); // closing '
                        return Ok((start, end, escaped));
                    }
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(usize, usize), ParseError> {
        let open = self.pos();
        self.bump(); // opening "
        let start = self.at;
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        kind: ParseErrorKind::UnterminatedQuote,
                        pos: open,
                    })
                }
                Some(b'"') => {
                    // one_env has no escapes: the value ends at the first `"`
                    // followed only by blanks up to the end of the line.
                    let mut j = self.at.saturating_add(1);
                    while self.input.get(j).copied().is_some_and(is_blank) {
                        j = j.saturating_add(1);
                    }
                    let end = self.at;
                    self.bump();
                    if matches!(self.input.get(j), None | Some(b'\n')) {
                        return Ok((start, end));
                    }
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    fn entry(&mut self) -> Result<Entry<'a>, ParseError> {
        if self.dialect == Dialect::Lenient {
            self.skip_blanks();
            if self
                .input
                .get(self.at..)
                .is_some_and(|s| s.starts_with(b"export"))
                && self.peek_at(6).is_some_and(is_blank)
            {
                for _ in 0..6 {
                    self.bump();
                }
                self.skip_blanks();
            }
        }
        let key_pos = self.pos();
        if !self.peek().is_some_and(is_key_start) {
            return Err(self.fail(ParseErrorKind::ExpectedKey, key_pos));
        }
        let key_start = self.at;
        while self.peek().is_some_and(is_key_char) {
            self.bump();
        }
        let key_end = self.at;
        match self.peek() {
            Some(b'=') => {}
            Some(b) if b.is_ascii_whitespace() => {
                let pos = self.pos();
                return Err(self.fail(ParseErrorKind::MissingEquals, pos));
            }
            None => {
                let pos = self.pos();
                return Err(self.fail(ParseErrorKind::MissingEquals, pos));
            }
            Some(_) => {
                let pos = self.pos();
                return Err(self.fail(ParseErrorKind::InvalidKey, pos));
            }
        }
        // The key is ASCII by construction.
        let key =
            core::str::from_utf8(self.input.get(key_start..key_end).unwrap_or(&[])).unwrap_or("");
        self.bump(); // '='
        let value_pos = self.pos();
        let (start, end, quoting, escaped) = match (self.peek(), self.dialect) {
            (Some(b'\''), _) => {
                let (s, e, esc) = self.single_quoted()?;
                (s, e, Quoting::Single, esc)
            }
            (Some(b'"'), Dialect::Lenient) => {
                let (s, e) = self.double_quoted()?;
                (s, e, Quoting::Double, false)
            }
            (_, Dialect::Lenient) => {
                let start = self.at;
                while let Some(b) = self.peek() {
                    if b == b'\n' {
                        break;
                    }
                    if b.is_ascii_whitespace()
                        || matches!(
                            b,
                            b'\''
                                | b'"'
                                | b'$'
                                | b'`'
                                | b'\\'
                                | b';'
                                | b'&'
                                | b'|'
                                | b'<'
                                | b'>'
                                | b'('
                                | b')'
                        )
                    {
                        let pos = self.pos();
                        return Err(self.fail(ParseErrorKind::UnquotedSpecial, pos));
                    }
                    self.bump();
                }
                (start, self.at, Quoting::Bare, false)
            }
            (_, _) => return Err(self.fail(ParseErrorKind::ExpectedQuote, value_pos)),
        };
        let raw = self.utf8(start, end, value_pos);
        if quoting != Quoting::Bare {
            self.end_of_line()?;
        } else if self.peek() == Some(b'\n') {
            self.bump();
        }
        let raw = raw?;
        Ok(Entry {
            key,
            raw,
            quoting,
            escaped,
            key_pos,
            value_pos,
        })
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let b = self.peek()?;
            match b {
                b'\n' => {
                    self.bump();
                }
                b'#' => self.skip_line(),
                b' ' | b'\t' | b'\r' => {
                    // A blank line is fine; otherwise lenient mode allows
                    // indentation and strict mode reports it.
                    let mut j = self.at;
                    while self
                        .input
                        .get(j)
                        .is_some_and(|&c| c == b' ' || c == b'\t' || c == b'\r')
                    {
                        j = j.saturating_add(1);
                    }
                    if matches!(self.input.get(j), None | Some(b'\n')) {
                        self.skip_line();
                    } else if self.dialect == Dialect::Lenient {
                        return Some(self.entry());
                    } else {
                        let pos = self.pos();
                        return Some(Err(self.fail(ParseErrorKind::ExpectedKey, pos)));
                    }
                }
                _ => return Some(self.entry()),
            }
        }
    }
}
