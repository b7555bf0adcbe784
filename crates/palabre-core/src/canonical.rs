//! Canonical JSON (RFC 8785, JCS) with Palabre's extra rules for signed content:
//! integers only (|n| ≤ 2^53 − 1), no `null`, bounded nesting.
//!
//! Received signed content is checked to be *already* canonical: it is parsed, encoded
//! again, and the two byte strings must be equal. Nothing received is ever re-encoded
//! to be verified. This file knows nothing of events; `event` builds on it.

use serde::Serialize;
use serde_json::Value;

use crate::limits::{MAX_JSON_DEPTH, MAX_SAFE_INTEGER};

/// Why some JSON is not acceptable signed content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Not UTF-8 JSON at all (`malformed`); carries the parser's message.
    #[error("not valid UTF-8 JSON: {0}")]
    Malformed(String),
    /// A fraction, an exponent or a number beyond ±(2^53 − 1) (`not_an_integer`).
    #[error("a number is not an integer of at most 2^53 − 1 in magnitude")]
    NotAnInteger,
    /// A `null` anywhere (`null_value`).
    #[error("null is not allowed in signed content")]
    Null,
    /// Objects and arrays nested deeper than [`MAX_JSON_DEPTH`] (`too_deep`).
    #[error("JSON nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    /// Valid JSON, but not byte for byte its RFC 8785 encoding (`not_canonical`).
    #[error("the bytes are not the RFC 8785 canonical form of their JSON")]
    NotCanonical,
}

/// The canonical bytes of a value built by us (for signing), checked against the same
/// content rules as received data.
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let json = serde_json::to_value(value).map_err(|e| CanonicalError::Malformed(e.to_string()))?;
    check_content(&json, 0)?;
    encode(&json)
}

/// Parses received bytes, accepting them only if they are exactly canonical.
pub fn parse_canonical(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let json: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Malformed(e.to_string()))?;
    check_content(&json, 0)?;
    if encode(&json)? != bytes {
        return Err(CanonicalError::NotCanonical);
    }
    Ok(json)
}

/// RFC 8785 encoding of a value that already passed `check_content`.
pub fn encode(json: &Value) -> Result<Vec<u8>, CanonicalError> {
    serde_json_canonicalizer::to_vec(json).map_err(|e| CanonicalError::Malformed(e.to_string()))
}

fn check_content(json: &Value, depth: usize) -> Result<(), CanonicalError> {
    match json {
        Value::Null => Err(CanonicalError::Null),
        Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(n) => {
            let in_range = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                (None, None) => false,
            };
            if in_range {
                Ok(())
            } else {
                Err(CanonicalError::NotAnInteger)
            }
        }
        Value::Array(items) => {
            if depth >= MAX_JSON_DEPTH {
                return Err(CanonicalError::TooDeep);
            }
            items.iter().try_for_each(|v| check_content(v, depth + 1))
        }
        Value::Object(map) => {
            if depth >= MAX_JSON_DEPTH {
                return Err(CanonicalError::TooDeep);
            }
            map.values().try_for_each(|v| check_content(v, depth + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<(), CanonicalError>) {
        let got = parse_canonical(input.as_bytes()).map(|_| ());
        assert_eq!(got, expected, "input: {input}");
    }

    #[test]
    fn table() {
        use CanonicalError::*;
        check(r#"{"a":1,"b":"x"}"#, Ok(()));
        check(r#"{"b":1,"a":2}"#, Err(NotCanonical));
        check(r#"{"a": 1}"#, Err(NotCanonical));
        check(r#"{"a":1.5}"#, Err(NotAnInteger));
        check(r#"{"a":1.0}"#, Err(NotAnInteger));
        check(r#"{"a":1e3}"#, Err(NotAnInteger));
        check(r#"{"a":9007199254740992}"#, Err(NotAnInteger));
        check(r#"{"a":9007199254740991}"#, Ok(()));
        check(r#"{"a":-9007199254740991}"#, Ok(()));
        check(r#"{"a":-0}"#, Err(NotAnInteger));
        check(r#"{"a":null}"#, Err(Null));
        check(r#"{"a":1,"a":2}"#, Err(NotCanonical));
        check(r#"{"a":"\u00e9"}"#, Err(NotCanonical));
        check("{\"a\":\"é\"}", Ok(()));
        check(r#"{"a":"\u001f"}"#, Ok(()));
        check(r#"[[[[[[[[[1]]]]]]]]]"#, Err(TooDeep));
        check(r#"[[[[[[[[1]]]]]]]]"#, Ok(()));
        check("{\"a\":1} ", Err(NotCanonical));
        assert!(matches!(parse_canonical(b"\xff"), Err(Malformed(_))));
    }

    #[test]
    fn rfc8785_key_order_is_by_utf16_code_units() {
        // RFC 8785 §3.2.3: sorting by UTF-16 code units puts U+FB33 (one unit) after
        // U+1F600 (a surrogate pair starting 0xD83D).
        check("{\"\u{1F600}\":1,\"\u{FB33}\":2}", Ok(()));
    }

    proptest::proptest! {
        #[test]
        fn canonical_bytes_round_trip(
            keys in proptest::collection::vec("[a-z\u{e9}\u{1F600} ]{0,8}", 0..6),
            ints in proptest::collection::vec(-1_000_000i64..1_000_000, 0..6),
            text in "\\PC{0,20}",
        ) {
            let mut map = serde_json::Map::new();
            for (k, i) in keys.iter().zip(ints.iter()) {
                map.insert(k.clone(), serde_json::json!({"n": i, "t": text}));
            }
            let value = Value::Object(map);
            let bytes = to_canonical(&value).expect("integers and strings are valid content");
            let parsed = parse_canonical(&bytes).expect("our own canonical bytes parse");
            proptest::prop_assert_eq!(&parsed, &value);
            proptest::prop_assert_eq!(encode(&parsed).expect("valid"), bytes);
        }
    }
}
