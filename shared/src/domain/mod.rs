//! Domain newtypes: every value that crosses the edge is parsed once into one of these, so the
//! rest of the code never re-checks a string.

pub mod access;
pub mod activity;
pub mod change;
pub mod decisions;
pub mod input;
pub mod ledger;
pub mod member;
pub mod organisation;
pub mod platform;
pub mod quotas;
pub mod records;
pub mod vat;
pub mod verification;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One field's problem, rendered as `"field: reason"` in an error's `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// A rule of the domain refused the request: what the caller is told, by kind. The HTTP layer
/// gives each kind its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The request breaks a rule (400); `details` name the fields at fault.
    #[error("{message}")]
    Invalid {
        message: String,
        details: Vec<String>,
    },
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing addressed does not exist, or the caller may not learn that it does (404).
    #[error("{0}")]
    NotFound(String),
}

impl Rejection {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A request whose fields failed validation.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        Self::Invalid {
            message: "The request is invalid.".to_owned(),
            details: errors.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The authenticated caller, as far as this service needs to know them (the HTTP layer builds
/// it from the token's claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: Subject,
    pub email: Option<Email>,
    /// Whether the identity provider verified `email`. Only a verified e-mail may claim an
    /// invitation.
    pub email_verified: bool,
    pub username: Option<String>,
}

impl Caller {
    /// The e-mail address the identity provider vouches for, if any.
    pub fn verified_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| self.email_verified)
    }
}

/// The URL-safe, immutable key of an organisation: lowercase `[a-z0-9-]`, derived from its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 63;

    /// Parses a slug given by a caller (a path parameter).
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let valid = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                "organisationSlug",
                "must be 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ))
        }
    }

    /// The slug to try for a new organisation, `attempt` 0 being the plain one. Collisions
    /// get `-2`, `-3`, … and, after a few, a random suffix so that a crowd creating the same
    /// name does not walk the same sequence.
    pub fn candidate(name: &OrganisationNameRef<'_>, attempt: u32) -> Self {
        let mut base = slug::slugify(name.0);
        if base.is_empty() {
            base = "organisation".to_owned();
        }
        base.truncate(40);
        let base = base.trim_end_matches('-');
        let value = match attempt {
            0 => base.to_owned(),
            1..=4 => format!("{base}-{}", attempt + 1),
            _ => format!("{base}-{:06x}", rand::random::<u32>() & 0xff_ffff),
        };
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Borrowed organisation name, for slug derivation.
pub struct OrganisationNameRef<'a>(pub &'a str);

/// An e-mail address that passed syntax validation (RFC 5322 via the `email_address` crate).
/// Kept as the caller wrote it; compared and indexed by [`Email::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(FieldError::new(field, "must be at most 254 characters"));
        }
        match email_address::EmailAddress::parse_with_options(
            value,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        ) {
            Ok(_) if value.contains('.') => Ok(Self(value.to_owned())),
            _ => Err(FieldError::new(field, "is not a valid e-mail address")),
        }
    }

    /// Parses the spec's `Email` object (`{"email": "..."}`) or a bare string.
    pub fn from_json(field: &str, value: &Value) -> Result<Self, FieldError> {
        match value {
            Value::String(s) => Self::parse(field, s),
            Value::Object(map) => match map.get("email") {
                Some(Value::String(s)) if map.len() == 1 => Self::parse(field, s),
                _ => Err(FieldError::new(
                    field,
                    "must be an e-mail address or an object {\"email\": \"...\"}",
                )),
            },
            _ => Err(FieldError::new(
                field,
                "must be an e-mail address or an object {\"email\": \"...\"}",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive identity of the address, for uniqueness and lookups.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `{"email": "..."}` object the spec uses in responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailObject {
    pub email: String,
}

/// Optional free text with an upper bound (company name and address, VAT number).
pub fn bounded_text(field: &str, value: &str, max: usize) -> Result<Option<String>, FieldError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// The `sub` claim of the caller's token: who the caller is, across organisations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subject(String);

impl Subject {
    pub fn parse(value: &str) -> Option<Self> {
        let valid = !value.is_empty()
            && value.len() <= 255
            && !value.contains('#')
            && !value.chars().any(char::is_control);
        valid.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_candidates_are_lowercase_and_suffixed_on_collision() {
        let name = OrganisationNameRef("Acme & Sons Cloud");
        assert_eq!(Slug::candidate(&name, 0).as_str(), "acme-sons-cloud");
        assert_eq!(Slug::candidate(&name, 1).as_str(), "acme-sons-cloud-2");
        let random = Slug::candidate(&name, 7);
        assert!(random.as_str().starts_with("acme-sons-cloud-"));
        assert!(Slug::parse(random.as_str()).is_ok());
        assert_eq!(
            Slug::candidate(&OrganisationNameRef("&&&"), 0).as_str(),
            "organisation"
        );
        assert_eq!(
            Slug::candidate(&OrganisationNameRef("Zürich Ölwerke"), 0).as_str(),
            "zurich-olwerke"
        );
    }

    #[test]
    fn slug_parse_refuses_what_a_slug_cannot_be() {
        for bad in ["", "Acme", "a_b", "-a", "a-", "a b", "ä", &"a".repeat(64)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Slug::parse("acme-2").is_ok());
    }

    #[test]
    fn email_accepts_object_and_string_and_refuses_garbage() {
        let object = serde_json::json!({"email": "Ann@Example.com"});
        let parsed = Email::from_json("contactEmail", &object).unwrap();
        assert_eq!(parsed.as_str(), "Ann@Example.com");
        assert_eq!(parsed.key(), "ann@example.com");
        assert!(Email::from_json("contactEmail", &serde_json::json!("a@b.io")).is_ok());
        for bad in [
            serde_json::json!("not-an-email"),
            serde_json::json!("a@b"),
            serde_json::json!(""),
            serde_json::json!(5),
            serde_json::json!({"mail": "a@b.io"}),
            serde_json::json!("Ann <ann@example.com>"),
        ] {
            assert!(Email::from_json("contactEmail", &bad).is_err(), "{bad}");
        }
    }
}
