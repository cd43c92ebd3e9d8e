//! INTERIM stand-ins for core APIs being written on other branches
//! (ctx: the context loader). Replaced by the real
//! ones once merged; the shapes mirror the announced APIs.

/// INTERIM context.sh reader (replaced by `ctxfile` from the ctx branch):
/// `KEY='value'` lines, `'\''` escapes, values may span lines.
/// Returns `(key, value, line)` triples or errors with line numbers.
pub fn parse_context_sh(text: &str) -> Result<Vec<(String, String, usize)>, Vec<String>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let lineno = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once('=') else {
            errs.push(format!("line {lineno}: expected KEY='value'"));
            continue;
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            errs.push(format!("line {lineno}: bad key {key:?}"));
            continue;
        }
        let Some(mut rest) = rest.strip_prefix('\'').map(str::to_string) else {
            errs.push(format!(
                "line {lineno}, key {key}: value must be single-quoted"
            ));
            continue;
        };
        let mut value = String::new();
        loop {
            // Consume up to the closing quote, handling '\'' escapes.
            if let Some(pos) = rest.find('\'') {
                value.push_str(&rest[..pos]);
                let after = &rest[pos + 1..];
                if let Some(a) = after.strip_prefix("\\''") {
                    value.push('\'');
                    rest = a.to_string();
                    continue;
                }
                if !after.is_empty() {
                    errs.push(format!(
                        "line {lineno}, key {key}: text after the closing quote"
                    ));
                }
                break;
            }
            value.push_str(&rest);
            match lines.next() {
                Some((_, next)) => {
                    value.push('\n');
                    rest = next.to_string();
                }
                None => {
                    errs.push(format!("line {lineno}, key {key}: unterminated quote"));
                    break;
                }
            }
        }
        out.push((key.to_string(), value, lineno));
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}
