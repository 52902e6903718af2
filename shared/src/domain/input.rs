//! How request bodies are read: a plain serde struct per request (unknown fields refused),
//! converted with `TryFrom` into domain types, every field's problem collected.
//!
//! The structs' fields are [`Field`]s rather than the target types so that a wrong type is
//! one more collected `"field: reason"` in the answer, not a deserialisation error that stops
//! at the first problem and speaks serde's language.

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::Value;

use super::FieldError;

/// A request body type: its wire field names (for the message that lists them when an unknown
/// field is sent) and the response fields that are read-only.
pub trait RequestBody: DeserializeOwned {
    const FIELDS: &'static [&'static str];
    const READ_ONLY: &'static [&'static str] = &[];
}

/// One field of a request body as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
    /// Present, but not a `T`.
    Invalid(Value),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::Null);
        }
        Ok(match T::deserialize(&value) {
            Ok(parsed) => Self::Value(parsed),
            Err(_) => Self::Invalid(value),
        })
    }
}

impl<T> Field<T> {
    /// Absent or null.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Absent | Self::Null)
    }
}

impl Field<String> {
    /// The text, if one was sent; a non-string is recorded as `"field: must be a string"`.
    pub fn text(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<&str> {
        match self {
            Self::Absent | Self::Null => None,
            Self::Value(s) => Some(s),
            Self::Invalid(_) => {
                errors.push(FieldError::new(field, "must be a string"));
                None
            }
        }
    }

    /// Like [`Field::text`], but absent or null is `"field: is required"`.
    pub fn required_text(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<&str> {
        if self.is_missing() {
            errors.push(FieldError::new(field, "is required"));
            return None;
        }
        self.text(field, errors)
    }
}

impl Field<Value> {
    /// The JSON value, if one (not null) was sent.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Self::Value(v) | Self::Invalid(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }
}

/// Records a parse result's error, keeps its value.
pub fn collect<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// `Ok(value)` when no error was collected.
pub fn finish<T>(value: Option<T>, errors: Vec<FieldError>) -> Result<T, Vec<FieldError>> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(errors),
    }
}
