//! Reading a router's JSON object so that a value which broke out of its
//! string is caught. RouterOS scripts build the body by pasting `$user` and
//! friends into a string, so an account name holding `"` or `\` could end
//! its string and write another field, or spell one with a `\u` escape. A
//! router's script never writes an escape itself (every value is an
//! address, a name from the router, an interface or digits), so a key given
//! twice or any escape in a key or a string value means a value broke out:
//! the body is refused, naming the field.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Why a well-formed JSON object cannot be a router's own.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
    Twice(String),
    Escaped(String),
}

/// Parses `body` as a JSON object; `Ok(Err(_))` for an object that shows
/// a value broke out of its string.
pub fn parse(body: &[u8]) -> Result<Result<Map<String, Value>, Broken>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let entries = de.deserialize_map(Entries)?;
    de.end()?;
    let mut map = Map::new();
    for (key, key_escaped, value, value_escaped) in entries {
        if key_escaped || map.contains_key(&key) {
            return Ok(Err(Broken::Twice(key)));
        }
        if value_escaped {
            return Ok(Err(Broken::Escaped(key)));
        }
        map.insert(key, value);
    }
    Ok(Ok(map))
}

type Entry = (String, bool, Value, bool);

struct Entries;

impl<'de> Visitor<'de> for Entries {
    type Value = Vec<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some((key, key_escaped)) = map.next_key_seed(Text)? {
            let (value, escaped) = map.next_value_seed(Any)?;
            out.push((key, key_escaped, value, escaped));
        }
        Ok(out)
    }
}

/// A string, and whether it had escapes: serde_json lends the input's own
/// bytes only when there were none.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = (String, bool);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = (String, bool);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((v.to_owned(), false))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((v.to_owned(), true))
    }
}

/// Any value; strings say whether they had escapes, other values are kept
/// as they are (the field readers refuse them by type).
struct Any;

impl<'de> DeserializeSeed<'de> for Any {
    type Value = (Value, bool);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = (Value, bool);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((Value::String(v.to_owned()), false))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Value::String(v.to_owned()), true))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok((Value::Bool(v), false))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok((Value::from(v), false))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok((Value::from(v), false))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok((Value::from(v), false))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, false))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok((v, false))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok((v, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_objects_pass_and_broken_out_values_are_named() {
        let ok = parse(r#"{"user":"Иван Петров","n":1,"z":null}"#.as_bytes());
        assert!(ok.unwrap().is_ok());
        let twice = parse(br#"{"user":"x","user":"alice"}"#).unwrap();
        assert_eq!(twice, Err(Broken::Twice("user".into())));
        let escaped = parse(br#"{"user":"bo\u0062"}"#).unwrap();
        assert_eq!(escaped, Err(Broken::Escaped("user".into())));
        let quote = parse(br#"{"caller_id":"a\"b"}"#).unwrap();
        assert_eq!(quote, Err(Broken::Escaped("caller_id".into())));
        assert!(parse(br#"{"user":"a"b"}"#).is_err());
        assert!(parse(br#"[1]"#).is_err());
    }
}
