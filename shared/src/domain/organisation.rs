//! The organisation: its stored record, the validated create and update commands, and the
//! response shape of the contract.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::budgets::MailsSent;
use super::input::{collect, finish, Field, RequestBody};
use super::vat::VatNumber;
use super::verification::{next_vat_check, EmailKind, VatStatus, Verification, ViesAnswer};
use super::FieldError;
use super::{bounded_text, Email, OrganisationNameRef, Slug};

/// Agreements a new organisation must accept (`acceptedAgreements[].agreementSlug`).
/// Documented in the README; changing this list is a product decision.
pub const REQUIRED_AGREEMENTS: &[&str] = &["terms-of-service", "privacy-policy"];

/// Upper bound for company name, company address and VAT number (docs/organisations.md).
pub const MAX_TEXT_LEN: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganisationType {
    Business,
    Enterprise,
    Individual,
    Trial,
}

impl OrganisationType {
    pub const ALL: [Self; 4] = [
        Self::Business,
        Self::Enterprise,
        Self::Individual,
        Self::Trial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Business => "BUSINESS",
            Self::Enterprise => "ENTERPRISE",
            Self::Individual => "INDIVIDUAL",
            Self::Trial => "TRIAL",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    "must be one of BUSINESS, ENTERPRISE, INDIVIDUAL, TRIAL",
                )
            })
    }
}

/// 3–30 characters of letters, digits, spaces, `-` and `&` (docs/organisations.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganisationName(String);

impl OrganisationName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        let len = value.chars().count();
        if !(3..=30).contains(&len) {
            return Err(FieldError::new(field, "must be 3 to 30 characters long"));
        }
        if !value
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '&')
        {
            return Err(FieldError::new(
                field,
                "may contain only letters, digits, spaces, '-' and '&'",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_slug_source(&self) -> OrganisationNameRef<'_> {
        OrganisationNameRef(&self.0)
    }
}

/// An organisation as stored: the profile item of its partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub identity: Uuid,
    pub slug: Slug,
    pub name: OrganisationName,
    pub organisation_type: OrganisationType,
    pub contact_email: Email,
    pub billing_email: Option<Email>,
    pub company_name: Option<String>,
    pub company_address: Option<String>,
    pub phone_number: Option<String>,
    pub vat_code: Option<String>,
    pub vat_code_validated: bool,
    pub vat_code_validated_at: Option<DateTime<Utc>>,
    pub accepted_terms: bool,
    pub accepted_terms_at: Option<DateTime<Utc>>,
    pub accepted_agreements: Vec<String>,
    /// Follows the type (`TRIAL`: true) unless an operator set it: see
    /// [`Organisation::restricted_override`].
    pub restricted_to_available_cloud_providers: bool,
    /// What a platform operator set `restrictedToAvailableCloudProviders` to; `None`: it
    /// follows the type.
    #[serde(default)]
    pub restricted_override: Option<bool>,
    pub created_at: DateTime<Utc>,
    /// How many changes this organisation has seen. Every change is written with the condition
    /// `revision = <what was read>` and takes the next number; its activity event is stored
    /// under that number, so the activity log is gap-free and pageable by key.
    pub revision: u64,
    /// How many members have the role `admin`; kept with every membership change under the
    /// revision condition, so "never remove the last admin" needs no scan.
    #[serde(default)]
    pub admin_count: u32,
    #[serde(default)]
    pub verification: Verification,
    /// When the VAT number is due to be checked with VIES again; `None` without a VAT number.
    /// Storage indexes it (sparse GSI) for the scheduled re-validation.
    #[serde(default)]
    pub vat_next_check_at: Option<DateTime<Utc>>,
    /// How many times this profile was written. A revision counts the changes a client sees; a
    /// resent verification code changes the profile (its code hashes) without one. Storage
    /// writes a profile only while this is still what the change was decided on, and stores the
    /// next number, so a change decided before a resend reads again instead of writing the old
    /// code hashes back (storage/write.rs, `profile_as_read`).
    #[serde(default)]
    pub profile_writes: u64,
    /// The verification and invitation mails of the last 24 hours (domain::budgets).
    #[serde(default)]
    pub mails_sent: MailsSent,
    /// When the VAT number was changed in the last 24 hours (domain::budgets).
    #[serde(default)]
    pub vat_changes: Vec<DateTime<Utc>>,
}

impl Organisation {
    /// This profile as storage keeps it once an update of it is written: one write more
    /// ([`Organisation::profile_writes`]). What a change carries forward after writing it (a
    /// batch of platform events, a claimed invitation) is this, or its next write reads again.
    /// The organisation's address of `kind` (there may be no billing address).
    pub fn email_of(&self, kind: EmailKind) -> Option<&Email> {
        match kind {
            EmailKind::Contact => Some(&self.contact_email),
            EmailKind::Billing => self.billing_email.as_ref(),
        }
    }

    pub fn as_written(self) -> Self {
        Self {
            profile_writes: self.profile_writes + 1,
            ..self
        }
    }

    /// Sets `restrictedToAvailableCloudProviders` from the type (`TRIAL`: restricted), unless an
    /// operator has set it.
    pub fn follow_type(&mut self) {
        self.restricted_to_available_cloud_providers = self
            .restricted_override
            .unwrap_or(self.organisation_type == OrganisationType::Trial);
    }

    /// Sets or clears the VAT number: a new number is unverified and due to be checked now.
    pub fn set_vat_number(&mut self, vat: Option<&VatNumber>, now: DateTime<Utc>) {
        self.vat_code = vat.map(VatNumber::as_string);
        self.vat_code_validated = false;
        self.vat_code_validated_at = None;
        let v = &mut self.verification;
        v.vat_status = vat.map(|_| VatStatus::Pending);
        v.vat_status_updated_at = vat.map(|_| now);
        v.vat_legal_entity_name = None;
        v.vat_legal_entity_address = None;
        v.vat_legal_entity_name_verified_at = None;
        v.vat_legal_entity_address_verified_at = None;
        v.vat_unavailable_attempts = 0;
        self.vat_next_check_at = vat.map(|_| now);
    }

    /// Records VIES's answer for the current VAT number and schedules the next check. Only a
    /// definite answer changes the verdict (`vatCodeValidated`); "could not check" keeps it.
    /// Returns whether the status changed.
    pub fn record_vies_answer(&mut self, answer: &ViesAnswer, now: DateTime<Utc>) -> bool {
        if self.vat_code.is_none() {
            return false;
        }
        let before = self.verification.vat_status;
        let v = &mut self.verification;
        let status = match answer {
            ViesAnswer::Valid { name, address } => {
                self.vat_code_validated = true;
                self.vat_code_validated_at = Some(now);
                // A confirmation of the name or address holds only for what was confirmed.
                if v.vat_legal_entity_name != *name {
                    v.vat_legal_entity_name_verified_at = None;
                }
                if v.vat_legal_entity_address != *address {
                    v.vat_legal_entity_address_verified_at = None;
                }
                v.vat_legal_entity_name = name.clone();
                v.vat_legal_entity_address = address.clone();
                v.vat_unavailable_attempts = 0;
                VatStatus::Verified
            }
            ViesAnswer::Invalid => {
                self.vat_code_validated = false;
                self.vat_code_validated_at = Some(now);
                v.vat_legal_entity_name = None;
                v.vat_legal_entity_address = None;
                v.vat_legal_entity_name_verified_at = None;
                v.vat_legal_entity_address_verified_at = None;
                v.vat_unavailable_attempts = 0;
                VatStatus::Unverified
            }
            ViesAnswer::Unavailable(_) => {
                v.vat_unavailable_attempts += 1;
                VatStatus::Unavailable
            }
        };
        let changed = before != Some(status);
        if changed {
            v.vat_status = Some(status);
            v.vat_status_updated_at = Some(now);
        }
        self.vat_next_check_at = Some(next_vat_check(status, v.vat_unavailable_attempts, now));
        changed
    }
}

/// A validated `POST /organisations` (or `/registration`) body.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub name: OrganisationName,
    pub organisation_type: OrganisationType,
    pub contact_email: Email,
    pub company_name: Option<String>,
    pub company_address: Option<String>,
    pub vat_number: Option<VatNumber>,
    pub accepted_agreements: Vec<String>,
}

/// The body of `POST /organisations` (and `/registration`) as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CreateOrganisationBody {
    pub accepted_agreements: Field<Value>,
    pub company_address: Field<String>,
    pub company_name: Field<String>,
    pub contact_email: Field<Value>,
    pub organisation_name: Field<String>,
    pub organisation_type: Field<String>,
    pub vat_number: Field<String>,
}

impl RequestBody for CreateOrganisationBody {
    const FIELDS: &'static [&'static str] = &[
        "acceptedAgreements",
        "companyAddress",
        "companyName",
        "contactEmail",
        "organisationName",
        "organisationType",
        "vatNumber",
    ];
    const READ_ONLY: &'static [&'static str] = READ_ONLY_FIELDS;
}

/// The body of `PATCH /organisations/{organisationSlug}` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PatchOrganisationBody {
    pub billing_email: Field<Value>,
    pub contact_email: Field<Value>,
    pub organisation_name: Field<String>,
    pub organisation_type: Field<String>,
    pub vat_number: Field<String>,
}

impl RequestBody for PatchOrganisationBody {
    const FIELDS: &'static [&'static str] = &[
        "billingEmail",
        "contactEmail",
        "organisationName",
        "organisationType",
        "vatNumber",
    ];
    const READ_ONLY: &'static [&'static str] = READ_ONLY_FIELDS;
}

/// Fields of the organisation response that no request may set.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "acceptedTerms",
    "acceptedTermsAt",
    "companyAddress",
    "companyName",
    "createdAt",
    "id",
    "identity",
    "name",
    "phoneNumber",
    "restrictedToAvailableCloudProviders",
    "slug",
    "type",
    "vatCode",
    "vatCodeValidated",
    "vatCodeValidatedAt",
    "acceptedAgreements",
];

fn optional_text(
    value: &Field<String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value.text(field, errors)?;
    bounded_text(field, value, MAX_TEXT_LEN)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten()
}

impl TryFrom<CreateOrganisationBody> for NewOrganisation {
    type Error = Vec<FieldError>;

    /// Validates a create body. All problems are reported at once.
    fn try_from(body: CreateOrganisationBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let name = body
            .organisation_name
            .required_text("organisationName", &mut errors)
            .and_then(|v| collect(OrganisationName::parse("organisationName", v), &mut errors));
        let organisation_type = body
            .organisation_type
            .required_text("organisationType", &mut errors)
            .and_then(|v| collect(OrganisationType::parse("organisationType", v), &mut errors));
        let contact_email = match body.contact_email.json() {
            None => {
                errors.push(FieldError::new("contactEmail", "is required"));
                None
            }
            Some(v) => collect(Email::from_json("contactEmail", v), &mut errors),
        };
        let company_name = optional_text(&body.company_name, "companyName", &mut errors);
        let company_address = optional_text(&body.company_address, "companyAddress", &mut errors);
        let vat_number = optional_text(&body.vat_number, "vatNumber", &mut errors)
            .and_then(|v| collect(parse_vat("vatNumber", &v), &mut errors));
        let accepted_agreements = parse_agreements(body.accepted_agreements.json(), &mut errors);
        let parsed = match (name, organisation_type, contact_email, accepted_agreements) {
            (Some(name), Some(organisation_type), Some(contact_email), Some(accepted)) => {
                Some(Self {
                    name,
                    organisation_type,
                    contact_email,
                    company_name,
                    company_address,
                    vat_number,
                    accepted_agreements: accepted,
                })
            }
            _ => None,
        };
        finish(parsed, errors)
    }
}

fn parse_vat(field: &str, value: &str) -> Result<VatNumber, FieldError> {
    VatNumber::parse(value).map_err(|e| FieldError::new(field, e.to_string()))
}

fn parse_agreements(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    const FIELD: &str = "acceptedAgreements";
    let Some(value) = value.filter(|v| !v.is_null()) else {
        errors.push(FieldError::new(FIELD, "is required"));
        return None;
    };
    let Value::Array(items) = value else {
        errors.push(FieldError::new(
            FIELD,
            "must be an array of {\"agreementSlug\": \"...\"}",
        ));
        return None;
    };
    let mut slugs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.get("agreementSlug") {
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 100 => {
                slugs.push(s.trim().to_owned())
            }
            _ => {
                errors.push(FieldError::new(
                    format!("{FIELD}[{i}].agreementSlug"),
                    "must be a non-empty string of at most 100 characters",
                ));
                return None;
            }
        }
    }
    let missing: Vec<&str> = REQUIRED_AGREEMENTS
        .iter()
        .copied()
        .filter(|required| !slugs.iter().any(|s| s == required))
        .collect();
    if !missing.is_empty() {
        errors.push(FieldError::new(
            FIELD,
            format!("must accept {}", missing.join(" and ")),
        ));
        return None;
    }
    slugs.sort();
    slugs.dedup();
    Some(slugs)
}

/// A field a PATCH may change, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganisationField {
    Name,
    Type,
    ContactEmail,
    BillingEmail,
    VatNumber,
}

impl OrganisationField {
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Name => "organisationName",
            Self::Type => "organisationType",
            Self::ContactEmail => "contactEmail",
            Self::BillingEmail => "billingEmail",
            Self::VatNumber => "vatNumber",
        }
    }
}

/// A validated PATCH body: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrganisationPatch {
    pub name: Option<OrganisationName>,
    pub organisation_type: Option<OrganisationType>,
    pub contact_email: Option<Email>,
    /// `Some(None)` clears the billing e-mail.
    pub billing_email: Option<Option<Email>>,
    /// `Some(None)` clears the VAT number.
    pub vat_number: Option<Option<VatNumber>>,
}

impl TryFrom<PatchOrganisationBody> for OrganisationPatch {
    type Error = Vec<FieldError>;

    /// Validates a PATCH body: `null` clears the billing e-mail and the VAT number and is
    /// refused elsewhere; an absent field is left as it is.
    fn try_from(body: PatchOrganisationBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let mut patch = Self::default();
        let not_null = |field: &str, errors: &mut Vec<FieldError>| {
            errors.push(FieldError::new(field, "must not be null"))
        };
        match &body.billing_email {
            Field::Absent => {}
            Field::Null => patch.billing_email = Some(None),
            Field::Value(v) | Field::Invalid(v) => {
                patch.billing_email =
                    collect(Email::from_json("billingEmail", v), &mut errors).map(Some)
            }
        }
        match &body.contact_email {
            Field::Absent => {}
            Field::Null => not_null("contactEmail", &mut errors),
            Field::Value(v) | Field::Invalid(v) => {
                patch.contact_email = collect(Email::from_json("contactEmail", v), &mut errors)
            }
        }
        match &body.organisation_name {
            Field::Null => not_null("organisationName", &mut errors),
            name => {
                patch.name = name.text("organisationName", &mut errors).and_then(|s| {
                    collect(OrganisationName::parse("organisationName", s), &mut errors)
                })
            }
        }
        match &body.organisation_type {
            Field::Null => not_null("organisationType", &mut errors),
            kind => {
                patch.organisation_type = kind.text("organisationType", &mut errors).and_then(|s| {
                    collect(OrganisationType::parse("organisationType", s), &mut errors)
                })
            }
        }
        match &body.vat_number {
            Field::Null => patch.vat_number = Some(None),
            vat => {
                if let Some(text) = vat.text("vatNumber", &mut errors) {
                    patch.vat_number =
                        match collect(bounded_text("vatNumber", text, MAX_TEXT_LEN), &mut errors) {
                            Some(Some(text)) => {
                                collect(parse_vat("vatNumber", &text), &mut errors).map(Some)
                            }
                            Some(None) => Some(None),
                            None => None,
                        }
                }
            }
        }
        finish(Some(patch), errors)
    }
}

impl OrganisationPatch {
    /// Applies the patch; returns the fields whose value changed. A changed e-mail address is
    /// unverified again; a changed VAT number is due for checking.
    pub fn apply(
        &self,
        organisation: &mut Organisation,
        now: DateTime<Utc>,
    ) -> Vec<OrganisationField> {
        let mut changed = Vec::new();
        if let Some(name) = &self.name {
            if organisation.name != *name {
                organisation.name = name.clone();
                changed.push(OrganisationField::Name);
            }
        }
        if let Some(kind) = self.organisation_type {
            if organisation.organisation_type != kind {
                organisation.organisation_type = kind;
                organisation.follow_type();
                changed.push(OrganisationField::Type);
            }
        }
        if let Some(email) = &self.contact_email {
            if organisation.contact_email != *email {
                organisation.contact_email = email.clone();
                organisation.verification.contact_email_verified_at = None;
                changed.push(OrganisationField::ContactEmail);
            }
        }
        if let Some(email) = &self.billing_email {
            if organisation.billing_email != *email {
                organisation.billing_email = email.clone();
                organisation.verification.billing_email_verified_at = None;
                changed.push(OrganisationField::BillingEmail);
            }
        }
        if let Some(vat) = &self.vat_number {
            if organisation.vat_code != vat.as_ref().map(VatNumber::as_string) {
                organisation.set_vat_number(vat.as_ref(), now);
                changed.push(OrganisationField::VatNumber);
            }
        }
        changed
    }
}

/// The `Slug` object of the contract.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlugObject<'a> {
    pub slug_value: &'a str,
}

/// The organisation response of the contract (create, get, patch).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationResponse<'a> {
    pub accepted_terms: bool,
    pub accepted_terms_at: Option<DateTime<Utc>>,
    pub billing_email: Option<&'a str>,
    pub company_address: Option<&'a str>,
    pub company_name: Option<&'a str>,
    pub contact_email: &'a str,
    pub created_at: DateTime<Utc>,
    /// Deprecated in the contract; the same value as `identity`.
    pub id: Uuid,
    pub identity: Uuid,
    pub name: &'a str,
    pub phone_number: Option<&'a str>,
    pub restricted_to_available_cloud_providers: bool,
    pub slug: SlugObject<'a>,
    #[serde(rename = "type")]
    pub organisation_type: OrganisationType,
    pub vat_code: Option<&'a str>,
    pub vat_code_validated: bool,
    pub vat_code_validated_at: Option<DateTime<Utc>>,
}

impl<'a> From<&'a Organisation> for OrganisationResponse<'a> {
    fn from(o: &'a Organisation) -> Self {
        Self {
            accepted_terms: o.accepted_terms,
            accepted_terms_at: o.accepted_terms_at,
            billing_email: o.billing_email.as_ref().map(Email::as_str),
            company_address: o.company_address.as_deref(),
            company_name: o.company_name.as_deref(),
            contact_email: o.contact_email.as_str(),
            created_at: o.created_at,
            id: o.identity,
            identity: o.identity,
            name: o.name.as_str(),
            phone_number: o.phone_number.as_deref(),
            restricted_to_available_cloud_providers: o.restricted_to_available_cloud_providers,
            slug: SlugObject {
                slug_value: o.slug.as_str(),
            },
            organisation_type: o.organisation_type,
            vat_code: o.vat_code.as_deref(),
            vat_code_validated: o.vat_code_validated,
            vat_code_validated_at: o.vat_code_validated_at,
        }
    }
}

/// A stored organisation for unit tests of decisions and storage.
#[cfg(test)]
pub mod tests_support {
    use super::*;

    pub fn organisation() -> Organisation {
        let now = Utc::now();
        Organisation {
            identity: Uuid::new_v4(),
            slug: Slug::parse("acme").unwrap(),
            name: OrganisationName::parse("n", "Acme").unwrap(),
            organisation_type: OrganisationType::Business,
            contact_email: Email::parse("e", "ops@acme.example").unwrap(),
            billing_email: None,
            company_name: None,
            company_address: None,
            phone_number: None,
            vat_code: None,
            vat_code_validated: false,
            vat_code_validated_at: None,
            accepted_terms: true,
            accepted_terms_at: Some(now),
            accepted_agreements: vec!["privacy-policy".into(), "terms-of-service".into()],
            restricted_to_available_cloud_providers: false,
            restricted_override: None,
            created_at: now,
            revision: 1,
            admin_count: 1,
            verification: Verification::default(),
            vat_next_check_at: None,
            profile_writes: 0,
            mails_sent: MailsSent::default(),
            vat_changes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(value: Value) -> Result<NewOrganisation, Vec<FieldError>> {
        NewOrganisation::try_from(serde_json::from_value::<CreateOrganisationBody>(value).unwrap())
    }

    fn patch(value: Value) -> Result<OrganisationPatch, Vec<FieldError>> {
        OrganisationPatch::try_from(serde_json::from_value::<PatchOrganisationBody>(value).unwrap())
    }

    #[test]
    fn body_structs_take_exactly_their_listed_fields() {
        fn check<B: RequestBody>() {
            for field in B::FIELDS {
                let body = serde_json::json!({ *field: null });
                assert!(serde_json::from_value::<B>(body).is_ok(), "{field}");
            }
            assert!(serde_json::from_value::<B>(serde_json::json!({"nope": 1})).is_err());
        }
        check::<CreateOrganisationBody>();
        check::<PatchOrganisationBody>();
    }

    #[test]
    fn organisation_name_rule() {
        for ok in ["Acme", "A&B", "Big-Co 42", "Ærø Øl", &"x".repeat(30)] {
            assert!(OrganisationName::parse("n", ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "  ab  ", "Acme!", "a_b_c", "a.b.c", &"x".repeat(31)] {
            assert!(OrganisationName::parse("n", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_reports_every_problem_at_once() {
        let errors = create(json!({
            "organisationName": "x",
            "organisationType": "BIG",
            "contactEmail": {"email": "nope"},
            "companyName": "c".repeat(256),
            "acceptedAgreements": [{"agreementSlug": "terms-of-service"}],
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "organisationName",
                "organisationType",
                "contactEmail",
                "companyName",
                "acceptedAgreements"
            ]
        );
        assert!(errors[4].reason.contains("privacy-policy"));
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let parsed = patch(json!({
            "billingEmail": null, "vatNumber": "nl 0044.95445.b01"
        }))
        .unwrap();
        assert_eq!(parsed.billing_email, Some(None));
        assert_eq!(
            parsed.vat_number,
            Some(Some(VatNumber::parse("NL004495445B01").unwrap()))
        );
        assert!(parsed.name.is_none());
        let errors = patch(json!({
            "contactEmail": null, "organisationName": 5
        }))
        .unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
