//! Verification of an organisation's details: e-mail codes, and the EU VAT number's status as
//! VIES reports it, with the schedule of its re-validation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::input::{Field, RequestBody};
use super::{Email, FieldError, Slug};

/// What an organisation has proven, as `validation-status` reports it. Stored as the profile's
/// `verification` map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verification {
    pub contact_email_verified_at: Option<DateTime<Utc>>,
    pub billing_email_verified_at: Option<DateTime<Utc>>,
    /// `None` while the organisation has no VAT number.
    pub vat_status: Option<VatStatus>,
    pub vat_status_updated_at: Option<DateTime<Utc>>,
    /// Name and address VIES holds for the VAT number (last valid answer).
    pub vat_legal_entity_name: Option<String>,
    pub vat_legal_entity_address: Option<String>,
    pub vat_legal_entity_name_verified_at: Option<DateTime<Utc>>,
    pub vat_legal_entity_address_verified_at: Option<DateTime<Utc>>,
    /// Consecutive "could not check" answers: the retry backoff grows with it.
    pub vat_unavailable_attempts: u32,
    /// Hash of the contact address's current code (the last one issued): a resend replaces
    /// it, and the code record under the old hash goes. `None` before any was recorded.
    #[serde(default)]
    pub contact_code_hash: Option<String>,
    /// The same for the billing address.
    #[serde(default)]
    pub billing_code_hash: Option<String>,
}

impl Verification {
    /// Records `challenge` as its address's current code.
    pub fn issued(&mut self, challenge: &EmailChallenge) {
        let hash = Some(challenge.record.code_hash.clone());
        match challenge.record.kind {
            EmailKind::Contact => self.contact_code_hash = hash,
            EmailKind::Billing => self.billing_code_hash = hash,
        }
    }

    /// The hash of the current code of the address of `kind`, if one was recorded.
    pub fn code_hash(&self, kind: EmailKind) -> Option<&str> {
        match kind {
            EmailKind::Contact => self.contact_code_hash.as_deref(),
            EmailKind::Billing => self.billing_code_hash.as_deref(),
        }
    }

    /// When the address of `kind` was verified, if it was.
    pub fn verified_at(&self, kind: EmailKind) -> Option<DateTime<Utc>> {
        match kind {
            EmailKind::Contact => self.contact_email_verified_at,
            EmailKind::Billing => self.billing_email_verified_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VatStatus {
    /// Not asked yet.
    Pending,
    /// VIES said valid.
    Verified,
    /// VIES said invalid.
    Unverified,
    /// VIES could not answer the last time it was asked; the verdict before stands.
    Unavailable,
}

impl VatStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Verified => "VERIFIED",
            Self::Unverified => "UNVERIFIED",
            Self::Unavailable => "UNAVAILABLE",
        }
    }
}

/// VIES's answer about one VAT number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViesAnswer {
    Valid {
        name: Option<String>,
        address: Option<String>,
    },
    Invalid,
    /// Could not check (member state unavailable, timeout, too many requests, 5xx, …).
    Unavailable(String),
}

impl ViesAnswer {
    /// A phrase for activity messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Valid { .. } => "VIES confirmed the VAT number",
            Self::Invalid => "VIES says the VAT number is not valid",
            Self::Unavailable(_) => "VIES could not be asked; it will be asked again",
        }
    }
}

/// When a VAT number is checked again.
pub fn next_vat_check(
    status: VatStatus,
    unavailable_attempts: u32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match status {
        // Registrations change rarely: a definite answer holds for 30 days.
        VatStatus::Verified | VatStatus::Unverified => now + Duration::days(30),
        // Not asked yet: as soon as possible.
        VatStatus::Pending => now,
        // 1 h, 2 h, 4 h, … up to a day.
        VatStatus::Unavailable => {
            let hours = 1i64 << unavailable_attempts.saturating_sub(1).min(5);
            now + Duration::hours(hours.min(24))
        }
    }
}

/// Which of the organisation's addresses a code verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailKind {
    Contact,
    Billing,
}

impl EmailKind {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Billing => "billing",
        }
    }
}

/// How long an e-mail verification code is valid.
pub const CODE_VALIDITY: Duration = Duration::hours(24);

/// A fresh e-mail verification code: 256 bits from a CSPRNG (rand's thread RNG, ChaCha seeded
/// by the operating system), URL-safe
/// base64 (43 characters). Only its [`code_hash`] is stored.
pub fn new_code() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks the shape of a code from a URL before it is looked up.
pub fn parse_code(value: &str) -> Result<&str, FieldError> {
    let valid = value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(value)
    } else {
        Err(FieldError::new("code", "is not a verification code"))
    }
}

/// SHA-256 of the code, hex: the key under which a code is stored. A leaked table does not
/// leak usable codes.
pub fn code_hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A verification code for one address: its record (by hash) is written in the transaction of
/// the change that set the address; the code itself is mailed after that transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChallenge {
    pub code: String,
    pub record: EmailCode,
}

impl EmailChallenge {
    pub fn new(slug: &Slug, kind: EmailKind, email: &Email, now: DateTime<Utc>) -> Self {
        let code = new_code();
        Self {
            record: EmailCode {
                code_hash: code_hash(&code),
                slug: slug.clone(),
                kind,
                email: email.clone(),
                created_at: now,
                expires_at: (now + CODE_VALIDITY).timestamp(),
                used_at: None,
            },
            code,
        }
    }
}

/// The body of `POST .../validation-status/vat` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ConfirmLegalEntityBody {
    pub vat_legal_entity_address: Field<String>,
    pub vat_legal_entity_name: Field<String>,
}

impl RequestBody for ConfirmLegalEntityBody {
    const FIELDS: &'static [&'static str] = &["vatLegalEntityAddress", "vatLegalEntityName"];
}

/// What an admin confirms of the legal entity VIES holds: its name, its address, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalEntityConfirmation {
    pub name: Option<String>,
    pub address: Option<String>,
}

impl TryFrom<ConfirmLegalEntityBody> for LegalEntityConfirmation {
    type Error = Vec<FieldError>;

    fn try_from(body: ConfirmLegalEntityBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let mut submitted = |name: &str, value: &Field<String>| match value {
            Field::Absent | Field::Null => None,
            Field::Value(s) if !s.trim().is_empty() && s.len() <= 1024 => Some(s.clone()),
            _ => {
                errors.push(FieldError::new(
                    name,
                    "must be a non-empty string of at most 1024 characters",
                ));
                None
            }
        };
        let name = submitted("vatLegalEntityName", &body.vat_legal_entity_name);
        let address = submitted("vatLegalEntityAddress", &body.vat_legal_entity_address);
        if name.is_none() && address.is_none() && errors.is_empty() {
            errors.push(FieldError::new(
                "vatLegalEntityName",
                "or vatLegalEntityAddress is required",
            ));
        }
        if errors.is_empty() {
            Ok(Self { name, address })
        } else {
            Err(errors)
        }
    }
}

/// SHA-256 of an address's case-insensitive form, hex: the key of its mail log, which so holds
/// no address.
pub fn address_hash(email: &Email) -> String {
    code_hash(&email.key())
}

/// Case- and white-space-insensitive form for comparing legal entity names and addresses.
pub fn normalise_entity_text(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// What a verification code verifies. Stored under the code's hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCode {
    pub code_hash: String,
    pub slug: Slug,
    pub kind: EmailKind,
    pub email: Email,
    pub created_at: DateTime<Utc>,
    /// Epoch seconds; also the table's TTL attribute.
    pub expires_at: i64,
    /// When the code verified its address (it is kept until it expires, marked used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_random_and_url_safe() {
        let a = new_code();
        let b = new_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(parse_code(&a).is_ok());
        assert_eq!(code_hash(&a).len(), 64);
        assert_ne!(code_hash(&a), a);
        for bad in ["", "short", &"x".repeat(44), &format!("{}!", &a[..42])] {
            assert!(parse_code(bad).is_err());
        }
    }

    #[test]
    fn unavailable_backs_off_from_an_hour_to_a_day() {
        let now = Utc::now();
        let wait = |n| next_vat_check(VatStatus::Unavailable, n, now) - now;
        assert_eq!(wait(1), Duration::hours(1));
        assert_eq!(wait(2), Duration::hours(2));
        assert_eq!(wait(4), Duration::hours(8));
        assert_eq!(wait(10), Duration::hours(24));
        assert_eq!(
            next_vat_check(VatStatus::Verified, 0, now) - now,
            Duration::days(30)
        );
    }

    #[test]
    fn entity_text_ignores_case_and_spacing() {
        assert_eq!(
            normalise_entity_text("  ACME  B.V.\nKeizersgracht 1 "),
            normalise_entity_text("acme b.v. keizersgracht 1")
        );
    }
}
