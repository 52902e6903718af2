//! Verification endpoints: `GET .../validation-status`, `GET|POST .../validation-status/vat`,
//! `GET /validations/verify-email/{code}` (no token: the code is the credential), and the mail
//! of the e-mail challenges that create and PATCH issue.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::access::{self, Access, Permission, Reads};
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions;
use crate::domain::organisation::Organisation;
use crate::domain::verification::{
    address_hash, code_hash, parse_code, ConfirmLegalEntityBody, EmailChallenge,
    LegalEntityConfirmation, VatStatus,
};
use crate::error::ApiError;
use crate::http::{field, ok_json, read_body};
use crate::mail::OutgoingMail;
use crate::routes::PathParams;
use crate::storage::StoreError;

/// Mails a challenge's code, unless the address had its hourly share of verification mails
/// (across all organisations). The change that issued it is committed already: a failure or a
/// suppressed mail is logged, not returned, and the address stays unverified.
pub async fn send_challenge(app: &App, organisation: &Organisation, challenge: &EmailChallenge) {
    let record = &challenge.record;
    let hash = address_hash(&record.email);
    let counted = app
        .store
        .decide_and_write(
            |_| async { Ok::<_, StoreError>(Some(app.store.mail_log(&hash).await?)) },
            |log| Ok(decisions::count_mail(&log, &organisation.slug, Utc::now())),
        )
        .await;
    match counted {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(slug = %organisation.slug, kind = ?record.kind, suppressed = 1, "verification mail suppressed: the address had its hourly share");
            return;
        }
        Err(error) => {
            tracing::error!(%error, slug = %organisation.slug, "counting a verification mail failed; not sent");
            return;
        }
    }
    let link = format!(
        "{}/api/v1/validations/verify-email/{}",
        app.public_api_url, challenge.code
    );
    let mail = OutgoingMail {
        to: record.email.clone(),
        subject: format!(
            "Verify the {} e-mail address of {}",
            record.kind.describe(),
            organisation.name.as_str()
        ),
        text: format!(
            "Please confirm that {} is the {} e-mail address of organisation {} ({}).\n\n\
             Open this link within 24 hours:\n{link}\n\nVerification code: {}\n",
            record.email,
            record.kind.describe(),
            organisation.name.as_str(),
            organisation.slug,
            challenge.code
        ),
    };
    if let Err(error) = app.mailer.send(&mail).await {
        tracing::error!(%error, slug = %organisation.slug, kind = ?record.kind, "verification mail not sent");
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
    fn of(organisation: &Organisation, access: &Access) -> Self {
        let v = &organisation.verification;
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
    ok_json(&ValidationStatus::of(&access.organisation, &access))
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

/// `POST .../validation-status/vat` (admins): confirms the name and/or address VIES holds.
pub async fn confirm_legal_entity(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let caller = access::caller(app, request)?;
    let confirmation: LegalEntityConfirmation = read_body::<ConfirmLegalEntityBody, _>(request)?;
    let (organisation, access) = app
        .store
        .apply(
            &slug,
            &caller,
            Permission::Administer,
            Reads::default(),
            |access| {
                let decision = decisions::confirm_legal_entity(
                    access,
                    confirmation.name.as_deref(),
                    confirmation.address.as_deref(),
                    Utc::now(),
                )?;
                Ok::<_, ApiError>(Decision {
                    change: decision.change,
                    outcome: (decision.outcome, access.clone()),
                })
            },
        )
        .await?;
    ok_json(&ValidationStatus::of(&organisation, &access))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedEmail<'a> {
    email_address: &'a str,
}

/// `GET /validations/verify-email/{code}`: no token; the code is the credential.
pub async fn verify_email(app: &App, params: &PathParams) -> Result<Response<Body>, ApiError> {
    let code = field(parse_code(params.get("code")?))?;
    let unknown =
        || ApiError::NotFound("This verification code is unknown or has already been used.".into());
    let record = app
        .store
        .email_code(&code_hash(code))
        .await?
        .ok_or_else(unknown)?;
    // TTL deletion is lazy: an expired code may still be in the table.
    if record.expires_at <= Utc::now().timestamp() {
        return Err(ApiError::bad_request(
            "This verification code has expired. Set the address again to receive a new one.",
        ));
    }
    app.store
        .decide_and_write(
            |_| async {
                match app.store.organisation(&record.slug).await? {
                    Some(organisation) => Ok(Some(organisation)),
                    None => Err(ApiError::NotFound(
                        "The organisation of this code no longer exists.".into(),
                    )),
                }
            },
            |organisation| {
                let change = decisions::verify_email(&organisation, &record, Utc::now())?;
                Ok(Decision::write(change, ()))
            },
        )
        .await
        .map_err(|error| match error {
            // The code went meanwhile: another request used it.
            ApiError::Refused(Refusal::CodeUsed) => unknown(),
            other => other,
        })?;
    ok_json(&VerifiedEmail {
        email_address: record.email.as_str(),
    })
}
