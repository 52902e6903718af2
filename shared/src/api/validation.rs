//! Verification endpoints: `GET .../validation-status`, `GET|POST .../validation-status/vat`,
//! `GET /validations/verify-email/{code}` (no token: the code is the credential), and the
//! e-mail challenges that create and PATCH issue.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

use crate::access::{self, authorise, Access, Permission, Reads};
use crate::app::App;
use crate::domain::activity::{ActivityEvent, ActivityType, Actor, ActorType};
use crate::domain::organisation::Organisation;
use crate::domain::verification::{
    code_hash, new_code, normalise_entity_text, parse_code, EmailKind, VatStatus, CODE_VALIDITY,
};
use crate::domain::Email;
use crate::error::{ApiError, FieldError};
use crate::http::{field, json_object, ok_json};
use crate::mail::OutgoingMail;
use crate::routes::PathParams;
use crate::storage::organisations::EmailCode;
use crate::storage::{retry_on_conflict, Store, StoreError};

/// A verification code for one address: its hash is written in the transaction of the change
/// that set the address, the code itself is mailed after that transaction committed.
#[derive(Debug, Clone)]
pub struct EmailChallenge {
    code: String,
    record: EmailCode,
}

impl EmailChallenge {
    pub fn new(
        organisation: &Organisation,
        kind: EmailKind,
        email: &Email,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            code: new_code(),
            record: EmailCode {
                slug: organisation.slug.clone(),
                kind,
                email: email.clone(),
                created_at: now,
                expires_at: (now + CODE_VALIDITY).timestamp(),
            },
        }
    }

    pub fn write(
        &self,
        store: &Store,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        store.put_email_code(&code_hash(&self.code), &self.record)
    }

    /// Sends the mail. The change is committed already: a failure is logged, not returned.
    pub async fn send(&self, app: &App, organisation: &Organisation) {
        let link = format!(
            "{}/api/v1/validations/verify-email/{}",
            app.public_api_url, self.code
        );
        let mail = OutgoingMail {
            to: self.record.email.clone(),
            subject: format!(
                "Verify the {} e-mail address of {}",
                self.record.kind.describe(),
                organisation.name.as_str()
            ),
            text: format!(
                "Please confirm that {} is the {} e-mail address of organisation {} ({}).\n\n\
                 Open this link within 24 hours:\n{link}\n\nVerification code: {}\n",
                self.record.email,
                self.record.kind.describe(),
                organisation.name.as_str(),
                organisation.slug,
                self.code
            ),
        };
        if let Err(error) = app.mailer.send(&mail).await {
            tracing::error!(%error, slug = %organisation.slug, kind = ?self.record.kind, "verification mail not sent");
        }
    }
}

/// `validation-status` of the contract.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationStatus {
    pub billing_email_verified_at: Option<DateTime<Utc>>,
    pub contact_email_verified_at: Option<DateTime<Utc>>,
    pub valid_payment_method_attached_at: Option<DateTime<Utc>>,
    pub vat_legal_entity_address_verified_at: Option<DateTime<Utc>>,
    pub vat_legal_entity_name_verified_at: Option<DateTime<Utc>>,
    pub vat_number_verification_status: Option<VatStatus>,
    pub vat_number_verification_updated_at: Option<DateTime<Utc>>,
}

impl ValidationStatus {
    fn of(access: &Access) -> Self {
        let v = &access.organisation.verification;
        Self {
            billing_email_verified_at: v.billing_email_verified_at,
            contact_email_verified_at: v.contact_email_verified_at,
            valid_payment_method_attached_at: access.ledger.payment_method_attached_at,
            vat_legal_entity_address_verified_at: v.vat_legal_entity_address_verified_at,
            vat_legal_entity_name_verified_at: v.vat_legal_entity_name_verified_at,
            vat_number_verification_status: v.vat_status,
            vat_number_verification_updated_at: v.vat_status_updated_at,
        }
    }
}

pub async fn status(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let reads = Reads {
        ledger: true,
        ..Reads::default()
    };
    let access = access::authorise_request(app, request, params, Permission::Read, reads).await?;
    ok_json(&ValidationStatus::of(&access))
}

/// The legal entity VIES holds for the VAT number.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LegalEntity<'a> {
    vat_legal_entity_address: Option<&'a str>,
    vat_legal_entity_name: Option<&'a str>,
}

pub async fn legal_entity(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let access =
        access::authorise_request(app, request, params, Permission::Read, Reads::default()).await?;
    let v = &access.organisation.verification;
    ok_json(&LegalEntity {
        vat_legal_entity_address: v.vat_legal_entity_address.as_deref(),
        vat_legal_entity_name: v.vat_legal_entity_name.as_deref(),
    })
}

const CONFIRM_FIELDS: &[&str] = &["vatLegalEntityAddress", "vatLegalEntityName"];

/// `POST .../validation-status/vat` (admins): confirms the name and/or address VIES holds.
pub async fn confirm_legal_entity(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let caller = access::caller(app, request)?;
    let body = json_object(request, CONFIRM_FIELDS, &[])?;
    let mut errors = Vec::new();
    let mut submitted = |name: &str| match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 1024 => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                name,
                "must be a non-empty string of at most 1024 characters",
            ));
            None
        }
    };
    let name = submitted("vatLegalEntityName");
    let address = submitted("vatLegalEntityAddress");
    if name.is_none() && address.is_none() && errors.is_empty() {
        errors.push(FieldError::new(
            "vatLegalEntityName",
            "or vatLegalEntityAddress is required",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let access = retry_on_conflict(|| async {
        let mut access = authorise(&app.store, caller.clone(), &slug, Permission::Administer, Reads::default()).await?;
        let read_revision = access.organisation.revision;
        let organisation = &mut access.organisation;
        let v = &mut organisation.verification;
        // `vatCodeValidated` follows VIES's last definite answer; a later "could not check"
        // leaves that answer, and the registry's name and address, standing.
        if !organisation.vat_code_validated {
            return Err(ApiError::bad_request(
                "VIES has not confirmed this organisation's VAT number, so there is no legal entity to confirm.",
            ));
        }
        let mut mismatches = Vec::new();
        let now = Utc::now();
        for (submitted, registry, verified_at, field) in [
            (&name, &v.vat_legal_entity_name, &mut v.vat_legal_entity_name_verified_at, "vatLegalEntityName"),
            (&address, &v.vat_legal_entity_address, &mut v.vat_legal_entity_address_verified_at, "vatLegalEntityAddress"),
        ] {
            let Some(submitted) = submitted else { continue };
            match registry {
                Some(registry) if normalise_entity_text(registry) == normalise_entity_text(submitted) => {
                    *verified_at = Some(now);
                }
                Some(_) => mismatches.push(FieldError::new(field, "does not match what VIES holds for this VAT number")),
                None => mismatches.push(FieldError::new(field, "VIES holds no value to compare with")),
            }
        }
        if !mismatches.is_empty() {
            return Err(ApiError::BadRequest {
                message: "The legal entity does not match the VAT registry.".into(),
                details: mismatches.iter().map(ToString::to_string).collect(),
            });
        }
        organisation.revision += 1;
        let actor = Actor::user(&access.caller);
        let confirmed: Vec<&str> = [name.as_ref().map(|_| "name"), address.as_ref().map(|_| "address")]
            .into_iter()
            .flatten()
            .collect();
        let event = ActivityEvent::new(
            ActivityType::VatLegalEntityConfirmed,
            actor.clone(),
            format!("{} confirmed the VAT legal entity's {}", actor.display_name(), confirmed.join(" and ")),
            now,
        );
        app.store
            .commit(
                vec![app.store.put_profile(organisation, read_revision)?],
                vec![app.store.put_activity(&slug, organisation.revision, &event)?],
            )
            .await?;
        Ok(access)
    })
    .await?;
    ok_json(&ValidationStatus::of(&access))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedEmail<'a> {
    email_address: &'a str,
}

/// `GET /validations/verify-email/{code}`: no token; the code is the credential.
pub async fn verify_email(app: &App, params: &PathParams) -> Result<Response<Body>, ApiError> {
    let code = field(parse_code(params.get("code")?))?;
    let hash = code_hash(code);
    let unknown =
        || ApiError::NotFound("This verification code is unknown or has already been used.".into());
    let record = app.store.email_code(&hash).await?.ok_or_else(unknown)?;
    // TTL deletion is lazy: an expired code may still be in the table.
    if record.expires_at <= Utc::now().timestamp() {
        return Err(ApiError::bad_request(
            "This verification code has expired. Set the address again to receive a new one.",
        ));
    }
    retry_on_conflict(|| async {
        let mut organisation = app.store.organisation(&record.slug).await?.ok_or_else(|| {
            ApiError::NotFound("The organisation of this code no longer exists.".into())
        })?;
        let current = match record.kind {
            EmailKind::Contact => Some(&organisation.contact_email),
            EmailKind::Billing => organisation.billing_email.as_ref(),
        };
        if current.map(Email::key) != Some(record.email.key()) {
            return Err(ApiError::bad_request(format!(
                "The organisation's {} e-mail address is no longer {}; this code verifies nothing.",
                record.kind.describe(),
                record.email
            )));
        }
        let read_revision = organisation.revision;
        let now = Utc::now();
        match record.kind {
            EmailKind::Contact => organisation.verification.contact_email_verified_at = Some(now),
            EmailKind::Billing => organisation.verification.billing_email_verified_at = Some(now),
        }
        organisation.revision += 1;
        let actor = Actor {
            actor_type: ActorType::User,
            subject: None,
            username: None,
            email: Some(record.email.as_str().to_owned()),
        };
        let event = ActivityEvent::new(
            ActivityType::EmailVerified,
            actor,
            format!(
                "{} was verified as the {} e-mail address",
                record.email,
                record.kind.describe()
            ),
            now,
        );
        match app
            .store
            .commit(
                vec![app.store.put_profile(&organisation, read_revision)?],
                vec![
                    app.store.delete_email_code(&hash),
                    app.store
                        .put_activity(&record.slug, organisation.revision, &event)?,
                ],
            )
            .await
        {
            // The code went meanwhile: another request used it.
            Err(StoreError::ConditionFailed(_)) => Err(unknown()),
            other => Ok(other?),
        }
    })
    .await?;
    ok_json(&VerifiedEmail {
        email_address: record.email.as_str(),
    })
}
