//! Scalars that YAML writers spell several ways: `on`/`off` next to `true`/`false`, and tag
//! values that YAML would otherwise read as booleans or numbers (`keep: true`, `days: 30`).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// `on`, `off`, `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnOff(pub bool);

impl<'de> Deserialize<'de> for OnOff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OnOff;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("on, off, true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<OnOff, E> {
                Ok(OnOff(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OnOff, E> {
                match v {
                    "on" | "true" => Ok(OnOff(true)),
                    "off" | "false" => Ok(OnOff(false)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for OnOff {
    fn schema_name() -> Cow<'static, str> {
        "OnOff".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "oneOf": [ { "type": "boolean" }, { "enum": ["on", "off"] } ] })
    }
}

/// A tag value: text, or a YAML boolean or number read as its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagValue(pub String);

impl<'de> Deserialize<'de> for TagValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TagValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tag value (text, a number or a boolean)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TagValue, E> {
                Ok(TagValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TagValue, E> {
                Ok(TagValue(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TagValue, E> {
                Ok(TagValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TagValue, E> {
                Ok(TagValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TagValue, E> {
                Ok(TagValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for TagValue {
    fn schema_name() -> Cow<'static, str> {
        "TagValue".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "boolean", "number"] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_off_and_tag_values_accept_the_usual_spellings() {
        let v: Vec<OnOff> = serde_yaml::from_str("[on, off, true, false]").unwrap();
        assert_eq!(
            v,
            vec![OnOff(true), OnOff(false), OnOff(true), OnOff(false)]
        );
        assert!(serde_yaml::from_str::<OnOff>("maybe").is_err());
        let t: Vec<TagValue> = serde_yaml::from_str("[archived, true, 30]").unwrap();
        assert_eq!(t[1].0, "true");
        assert_eq!(t[2].0, "30");
        assert!(serde_yaml::from_str::<TagValue>("[a]").is_err());
    }
}
