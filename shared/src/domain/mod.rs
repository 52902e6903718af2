//! Domain newtypes: every value that crosses the edge is parsed once into one of these, so the
//! rest of the code never re-checks a string.

pub mod activity;
pub mod authorisation;
pub mod budgets;
pub mod change;
pub mod decisions;
pub mod input;
pub mod ledger;
pub mod member;
pub mod memberships;
pub mod operator;
pub mod organisation;
pub mod outbound;
pub mod platform;
pub mod quotas;
pub mod records;
pub mod username;
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
    /// A limit was reached (429); the request may succeed after `retry_after_seconds`.
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after_seconds: u64,
    },
    /// The thing addressed existed but is no longer usable: an expired invitation (410).
    #[error("{0}")]
    Gone(String),
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
    /// The token grants the platform operator's scope (`organisations/operator`).
    pub operator: bool,
}

/// The OAuth scope that makes a caller a platform operator.
pub const OPERATOR_SCOPE: &str = "organisations/operator";

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

/// An e-mail address that passed syntax validation (RFC 5322 via the `email_address` crate)
/// and the look-alike rules of [`Email::parse`]. Kept as the caller wrote it; compared and
/// indexed by [`Email::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// Parses an address given as input (`field` names it in the error) or by a token's
    /// `email` claim. Besides the syntax, refuses addresses that could pass for another one:
    /// holding an invisible, formatting (bidirectional controls, zero-width characters),
    /// control, separator, private-use or unassigned character, changing under Unicode NFKC
    /// normalisation (U+212A KELVIN SIGN for `K`, full-width letters, ligatures, NBSP, ...), or
    /// holding a character whose lower case is more than one character (U+0130, which would
    /// make [`Email::key`] equal to that of another spelling).
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(FieldError::new(field, "must be at most 254 characters"));
        }
        if let Some(c) = value.chars().find(|&c| is_hidden(c)) {
            return Err(FieldError::new(
                field,
                format!(
                    "must not contain invisible, formatting or control characters (U+{:04X})",
                    u32::from(c)
                ),
            ));
        }
        if let Some(c) = look_alike(value) {
            return Err(FieldError::new(
                field,
                format!(
                    "must not contain look-alike characters: U+{:04X} is written differently in \
                     Unicode normal form NFKC or in lower case; use the ordinary character",
                    u32::from(c)
                ),
            ));
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

    /// Case-insensitive identity of the address, for uniqueness and lookups. Two addresses
    /// [`Email::parse`] accepts have the same key only when they differ in letter case alone:
    /// parsing refuses the characters whose lower case would join another spelling (U+212A
    /// KELVIN SIGN, U+212B ANGSTROM SIGN, U+2126 OHM SIGN, U+0130, ...; the test
    /// `lower_case_joins_only_case_pairs` checks every code point).
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Characters nobody sees or that change how others are shown: controls (Cc), format characters
/// (Cf: zero-width space and joiners, bidirectional marks, embeddings, overrides and isolates,
/// the BOM, soft hyphen, tags), separators (Zs, Zl, Zp), surrogates, private use, unassigned
/// code points, and the rest of Unicode's default-ignorable code points (Hangul fillers,
/// variation selectors, the combining grapheme joiner, Mongolian free variation selectors, ...).
fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::SpaceSeparator
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
    ) || is_default_ignorable(c)
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, stable since Unicode 7):
/// code points shown as nothing when a font has no glyph for them.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// The first character of `value` that makes it stand for another spelling: `value` is not in
/// NFKC, or a character lower-cases to more than one character.
fn look_alike(value: &str) -> Option<char> {
    use unicode_normalization::UnicodeNormalization;
    if let Some(c) = value.chars().find(|c| c.to_lowercase().nth(1).is_some()) {
        return Some(c);
    }
    if unicode_normalization::is_nfkc_quick(value.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        return None;
    }
    if value.nfkc().eq(value.chars()) {
        return None;
    }
    // The first character that changes on its own, or else the first one that is not
    // ASCII (a sequence that composes, e.g. a letter and a combining accent).
    value
        .chars()
        .find(|&c| !std::iter::once(c).nfkc().eq(std::iter::once(c)))
        .or_else(|| value.chars().find(|c| !c.is_ascii()))
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

    #[test]
    fn email_refuses_addresses_that_look_like_others() {
        for bad in [
            "\u{212A}im@corp.com",         // KELVIN SIGN: NFKC and lower case make it 'k'
            "\u{212B}sa@corp.com",         // ANGSTROM SIGN
            "\u{FF4B}im@corp.com",         // FULLWIDTH LATIN SMALL LETTER K
            "\u{FB01}nance@corp.com",      // LATIN SMALL LIGATURE FI
            "kim@corp\u{2024}com",         // ONE DOT LEADER
            "\u{0130}lker@firma.com.tr",   // İ lower-cases to i + U+0307
            "jo\u{0065}\u{0301}@corp.com", // decomposed é: NFKC composes it
            "kim\u{200B}@corp.com",        // ZERO WIDTH SPACE
            "kim\u{200D}@corp.com",        // ZERO WIDTH JOINER
            "\u{202E}moc.proc@mik",        // RIGHT-TO-LEFT OVERRIDE
            "kim\u{2066}@corp.com",        // LEFT-TO-RIGHT ISOLATE
            "kim\u{200F}@corp.com",        // RIGHT-TO-LEFT MARK
            "kim\u{061C}@corp.com",        // ARABIC LETTER MARK
            "ki\u{00AD}m@corp.com",        // SOFT HYPHEN
            "\u{FEFF}kim@corp.com",        // BYTE ORDER MARK
            "kim\u{3164}@corp.com",        // HANGUL FILLER (a letter, but default-ignorable)
            "kim\u{FE0F}@corp.com",        // VARIATION SELECTOR-16
            "kim\u{E0041}@corp.com",       // TAG LATIN CAPITAL LETTER A
            "kim\u{034F}@corp.com",        // COMBINING GRAPHEME JOINER
            "k\u{00A0}m@corp.com",         // NO-BREAK SPACE
            "k\u{1680}m@corp.com",         // OGHAM SPACE MARK (NFKC leaves it alone)
            "kim\u{E000}@corp.com",        // private use
            "kim\u{0007}@corp.com",        // control
        ] {
            let err = Email::parse("contactEmail", bad).unwrap_err();
            assert_eq!(err.field, "contactEmail", "{bad:?}");
            assert!(
                err.reason.contains("U+"),
                "{bad:?} should be refused for a character, got: {err}"
            );
        }
        let err = Email::parse("contactEmail", "\u{212A}im@corp.com").unwrap_err();
        assert!(err.to_string().starts_with("contactEmail: "), "{err}");
        assert!(err.reason.contains("U+212A"), "{err}");
        let err = Email::parse("billingEmail", "kim\u{200B}@corp.com").unwrap_err();
        assert!(err.reason.contains("U+200B"), "{err}");
    }

    #[test]
    fn email_accepts_international_addresses_in_normal_form() {
        for good in [
            "kim@corp.com",
            "Kim@Corp.com",
            "j\u{00FC}rgen@beispiel.de", // ü, precomposed (NFC = NFKC)
            "\u{00C5}sa@exempel.se",     // Å, the letter (not ANGSTROM SIGN)
            "\u{03A9}mega@example.gr",   // Ω, the letter (not OHM SIGN)
            "\u{1E9E}tra\u{00DF}e@example.de", // capital and small sharp s
            "\u{0645}\u{062D}\u{0645}\u{062F}@example.com", // Arabic letters (no marks)
            "  padded@corp.com  ",
        ] {
            let email = Email::parse("contactEmail", good);
            assert!(email.is_ok(), "{good:?}: {email:?}");
        }
        assert_eq!(
            Email::parse("e", "\u{00C5}SA@Exempel.SE").unwrap().key(),
            "\u{00E5}sa@exempel.se"
        );
    }

    /// Lower-casing (what [`Email::key`] does) joins two characters that parsing accepts only
    /// when one is the upper case of the other: no third character (a sign, a compatibility
    /// form) can pass for a letter. Checked over every code point.
    #[test]
    fn lower_case_joins_only_case_pairs() {
        let mut joined: std::collections::HashMap<String, Vec<char>> =
            std::collections::HashMap::new();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let alone = c.to_string();
            if is_hidden(c) || look_alike(&alone).is_some() {
                continue;
            }
            joined
                .entry(c.to_lowercase().collect())
                .or_default()
                .push(c);
        }
        assert!(joined.len() > 100_000, "{}", joined.len());
        let kelvin = Email::parse("e", "\u{212A}im@corp.com");
        assert!(kelvin.is_err());
        for (lower, chars) in &joined {
            assert!(
                chars.len() <= 2,
                "{chars:?} all lower-case to {lower:?}: a look-alike could claim another's key"
            );
            if chars.len() == 2 {
                let lower_char = lower.chars().next();
                assert!(
                    chars.iter().any(|&c| Some(c) == lower_char),
                    "{chars:?} lower-case to {lower:?}, which parsing refuses"
                );
            }
        }
    }
}
