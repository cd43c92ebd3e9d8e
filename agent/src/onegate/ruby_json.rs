//! `--json` output byte-compatible with the official client, which prints
//! `JSON.pretty_generate(JSON.parse(body))` (Ruby json 2.x): keys in server
//! order (a repeated key keeps its first position and its last value), two
//! spaces of indent, `"key": value`, an empty object as `{` newline indent
//! `}` and an empty array as `[` newline newline indent `]`, strings
//! re-escaped (`"`, `\`, control characters; `/` and non-ASCII kept), floats
//! in Ruby's `Float#to_s` form.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;

/// A JSON value that keeps object key order.
#[derive(Debug, Clone, PartialEq)]
enum RValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Arr(Vec<RValue>),
    Obj(Vec<(String, RValue)>),
}

impl<'de> Deserialize<'de> for RValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RVisitor)
    }
}

struct RVisitor;

impl<'de> Visitor<'de> for RVisitor {
    type Value = RValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<RValue, E> {
        Ok(RValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RValue, E> {
        Ok(RValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RValue, E> {
        Ok(RValue::Int(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RValue, E> {
        Ok(RValue::Int(i128::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RValue, E> {
        Ok(RValue::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RValue, E> {
        Ok(RValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RValue, E> {
        Ok(RValue::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RValue, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(RValue::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RValue, A::Error> {
        let mut entries: Vec<(String, RValue)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some((k, v)) = map.next_entry::<String, RValue>()? {
            match index.get(&k) {
                Some(&i) => {
                    if let Some(slot) = entries.get_mut(i) {
                        slot.1 = v;
                    }
                }
                None => {
                    index.insert(k.clone(), entries.len());
                    entries.push((k, v));
                }
            }
        }
        Ok(RValue::Obj(entries))
    }
}

/// Re-prints a JSON document the way `JSON.pretty_generate` does, with the
/// trailing newline `puts` adds.
pub fn pretty_generate(body: &[u8]) -> Result<String, serde_json::Error> {
    let v: RValue = serde_json::from_slice(body)?;
    let mut out = String::with_capacity(body.len() * 2);
    write_value(&mut out, &v, 0);
    out.push('\n');
    Ok(out)
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, v: &RValue, depth: usize) {
    match v {
        RValue::Null => out.push_str("null"),
        RValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        RValue::Int(i) => out.push_str(&i.to_string()),
        RValue::Float(f) => out.push_str(&ruby_float(*f)),
        RValue::Str(s) => write_str(out, s),
        RValue::Arr(items) => {
            out.push_str("[\n");
            if items.is_empty() {
                out.push('\n');
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            if !items.is_empty() {
                out.push('\n');
            }
            indent(out, depth);
            out.push(']');
        }
        RValue::Obj(entries) => {
            out.push_str("{\n");
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_str(out, k);
                out.push_str(": ");
                write_value(out, item, depth + 1);
            }
            if !entries.is_empty() {
                out.push('\n');
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Ruby `Float#to_s`: shortest round-trip digits; plain notation with at
/// least one decimal for 1e-4 <= |f| < 1e16, else `d.ddde+XX` (two-digit
/// minimum exponent).
fn ruby_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let a = f.abs();
    if (1e-4..1e16).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{f:e}"); // e.g. 1e20, 1.5e-7
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.to_string()
        } else {
            format!("{mant}.0")
        };
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mant}e{sign}{digits:0>2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_containers_like_ruby() {
        let out = pretty_generate(br#"{"a":{},"b":[],"c":{"d":[{}]}}"#).unwrap();
        assert_eq!(out, "{\n  \"a\": {\n  },\n  \"b\": [\n\n  ],\n  \"c\": {\n    \"d\": [\n      {\n      }\n    ]\n  }\n}\n");
    }

    #[test]
    fn order_duplicates_scalars() {
        let out = pretty_generate(
            br#"{"z":1,"a":"x\/y\u00e9\u0001\"","z":null,"f":[1.5,1e20,-2,true,1e-5,100.0]}"#,
        )
        .unwrap();
        assert_eq!(
            out,
            "{\n  \"z\": null,\n  \"a\": \"x/y\u{e9}\\u0001\\\"\",\n  \"f\": [\n    1.5,\n    1.0e+20,\n    -2,\n    true,\n    1.0e-05,\n    100.0\n  ]\n}\n"
        );
        assert_eq!(pretty_generate(b"\"s\"").unwrap(), "\"s\"\n");
        assert!(pretty_generate(b"{\"a\":").is_err());
    }
}
