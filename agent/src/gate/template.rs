//! OpenNebula template values as OneGate shows them, the `PUT /vm` body
//! semantics, and the `context.sh` writer.
//!
//! oned keeps template attributes in a sorted multimap, so every template map
//! here is a [`BTreeMap`]: keys come out sorted, as in oned's XML and hence in
//! OneGate's JSON. All scalars are strings (XML text), nested elements are
//! maps, repeated elements are lists.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// A template map: attribute name → value, sorted by name like oned.
pub type Tmpl = BTreeMap<String, TVal>;

/// One value of an OpenNebula template, as the XML-to-hash conversion of the
/// Ruby bindings produces it.
#[derive(Clone, PartialEq, Eq)]
pub enum TVal {
    /// Text of a simple attribute (`<CPU>1</CPU>` → `"1"`).
    Str(String),
    /// A nested element (`<NIC><IP>…</IP></NIC>`); an empty element is an empty map.
    Map(Tmpl),
    /// A repeated element (two `<NIC>`s).
    List(Vec<TVal>),
}

impl fmt::Debug for TVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TVal::Str(s) => write!(f, "{s:?}"),
            TVal::Map(m) => f.debug_map().entries(m.iter()).finish(),
            TVal::List(l) => f.debug_list().entries(l.iter()).finish(),
        }
    }
}

impl TVal {
    /// A string value.
    pub fn s(v: impl Into<String>) -> TVal {
        TVal::Str(v.into())
    }

    /// The text of a simple attribute, `None` for a map or list.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            TVal::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts a JSON value from a service file. Numbers and booleans become
    /// their text (OneGate shows every scalar as a string); `null` is refused.
    pub fn from_json(v: &serde_json::Value, path: &str) -> Result<TVal, String> {
        use serde_json::Value;
        Ok(match v {
            Value::String(s) => TVal::Str(s.clone()),
            Value::Number(n) => TVal::Str(n.to_string()),
            Value::Bool(b) => TVal::Str(if *b { "YES" } else { "NO" }.to_string()),
            Value::Null => {
                return Err(format!(
                    "{path}: null is not a template value (use \"\" or {{}})"
                ))
            }
            Value::Array(a) => TVal::List(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| TVal::from_json(x, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => TVal::Map(tmpl_from_json_map(o, path)?),
        })
    }
}

/// Converts a JSON object into a template map (see [`TVal::from_json`]).
pub fn tmpl_from_json_map(
    o: &serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Result<Tmpl, String> {
    let mut m = Tmpl::new();
    for (k, x) in o {
        m.insert(k.clone(), TVal::from_json(x, &format!("{path}.{k}"))?);
    }
    Ok(m)
}

/// Converts a JSON value that must be an object into a template map.
pub fn tmpl_from_json(v: &serde_json::Value, path: &str) -> Result<Tmpl, String> {
    match v {
        serde_json::Value::Object(o) => tmpl_from_json_map(o, path),
        _ => Err(format!("{path}: expected an object of attributes")),
    }
}

impl Serialize for TVal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TVal::Str(v) => s.serialize_str(v),
            TVal::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            TVal::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
        }
    }
}

/// The elements of a possibly repeated attribute: a list gives its items, a
/// single map or string gives itself (the one-NIC-is-an-object rule).
pub fn items(v: Option<&TVal>) -> Vec<&TVal> {
    match v {
        None => Vec::new(),
        Some(TVal::List(l)) => l.iter().collect(),
        Some(other) => vec![other],
    }
}

/// Stores a repeated attribute the way the XML-to-hash conversion does: no
/// element → absent, one → the element itself, several → a list.
pub fn put_repeated(t: &mut Tmpl, key: &str, mut vals: Vec<TVal>) {
    match vals.len() {
        0 => {
            t.remove(key);
        }
        1 => {
            if let Some(v) = vals.pop() {
                t.insert(key.to_string(), v);
            }
        }
        _ => {
            t.insert(key.to_string(), TVal::List(vals));
        }
    }
}

/// OneGate's `escape_attr` step on the `data` of `PUT /vm`, reduced to what
/// it means for the attributes that reach oned: the two-character sequence
/// `\n` (backslash, n) separates attributes like a real newline does.
pub fn unescape_data(data: &str) -> String {
    data.replace("\\n", "\n")
}

/// Parses the attributes of a `PUT /vm` update (type 1) after
/// [`unescape_data`]: one `KEY=VALUE` per line. `KEY=[A=1,B=2]` gives a
/// vector attribute; a value wrapped in one pair of double quotes loses them;
/// otherwise the value is the rest of the line verbatim. Keys are upper-cased
/// like oned's template parser does. Blank lines are ignored.
pub fn parse_update(data: &str) -> Result<Vec<(String, TVal)>, String> {
    let mut out = Vec::new();
    for (i, line) in data.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "syntax error, line {}: expected KEY=VALUE, got {line:?}",
                i + 1
            ));
        };
        let key = k.trim().to_ascii_uppercase();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(format!(
                "syntax error, line {}: bad attribute name {k:?}",
                i + 1
            ));
        }
        let v = v.trim();
        let val = if let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let mut m = Tmpl::new();
            for part in inner.split(',') {
                if part.trim().is_empty() {
                    continue;
                }
                let Some((sk, sv)) = part.split_once('=') else {
                    return Err(format!(
                        "syntax error, line {}: expected SUB=VALUE inside [...], got {part:?}",
                        i + 1
                    ));
                };
                m.insert(
                    sk.trim().to_ascii_uppercase(),
                    TVal::s(strip_quotes(sv.trim())),
                );
            }
            TVal::Map(m)
        } else {
            TVal::s(strip_quotes(v))
        };
        out.push((key, val));
    }
    Ok(out)
}

fn strip_quotes(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Renders a `context.sh` exactly as oned writes it: the header comment, then
/// one `KEY='value'` line per variable in byte order of the key, every `'` in
/// a value written as `'\''`, newlines kept raw.
pub fn render_context_sh(vars: &BTreeMap<String, String>) -> String {
    let mut out = String::from("# Context variables generated by OpenNebula\n");
    for (k, v) in vars {
        out.push_str(k);
        out.push_str("='");
        out.push_str(&v.replace('\'', "'\\''"));
        out.push_str("'\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_lines_and_vectors() {
        let got = parse_update(&unescape_data("a=1\\nB=\"two words\"\nV=[X=1, Y=\"z\"]")).unwrap();
        assert_eq!(got[0], ("A".into(), TVal::s("1")));
        assert_eq!(got[1], ("B".into(), TVal::s("two words")));
        let mut m = Tmpl::new();
        m.insert("X".into(), TVal::s("1"));
        m.insert("Y".into(), TVal::s("z"));
        assert_eq!(got[2], ("V".into(), TVal::Map(m)));
        assert!(parse_update("novalue").is_err());
        assert!(parse_update("=x").is_err());
    }

    #[test]
    fn context_sh_matches_oned_rule() {
        let mut v = BTreeMap::new();
        v.insert("VMID".to_string(), "42".to_string());
        v.insert("A".to_string(), "it's\nx".to_string());
        assert_eq!(
            render_context_sh(&v),
            "# Context variables generated by OpenNebula\nA='it'\\''s\nx'\nVMID='42'\n"
        );
    }
}
