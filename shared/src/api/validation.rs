//! Verification endpoints: `GET .../validation-status`, `GET|POST .../validation-status/vat`,
//! `GET|POST /validations/verify-email/{code}` (no token: the code is the credential), and the mail
//! of the e-mail challenges that create and PATCH issue.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::access::{self, Access, Permission, Reads};
use crate::api::idempotency::{Begun, Idempotency};
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions;
use crate::domain::organisation::Organisation;
use crate::domain::verification::{
    code_hash, parse_code, ConfirmLegalEntityBody, EmailChallenge, EmailCode,
    LegalEntityConfirmation, VatStatus,
};
use crate::domain::Email;
use crate::error::ApiError;
use crate::http::{field, json_response, ok_json, read_body};
use crate::mail::OutgoingMail;
use crate::routes::PathParams;
use http::StatusCode;

/// A verification mail the budgets held back (the address had its share this hour): the code
/// is issued, and the address stays unverified until a resend or a later change mails one.
pub fn mail_suppressed(organisation: &Organisation) {
    tracing::warn!(slug = %organisation.slug, suppressed = 1, "verification mail suppressed: the address had its hourly share");
    crate::metrics::mail(crate::metrics::MailOutcome::Suppressed);
}

/// Mails a challenge's code, counted already in the change that issued it. The change is
/// committed: a failure is logged, not returned.
pub async fn mail_challenge(app: &App, organisation: &Organisation, challenge: &EmailChallenge) {
    let record = &challenge.record;
    // Without a configured base (the first deploy), where the request reached the API.
    let base = match crate::app::request_base_url() {
        Some(own) if app.public_api_url.is_empty() => own,
        _ => app.public_api_url.clone(),
    };
    let link = format!("{base}/api/v1/validations/verify-email/{}", challenge.code);
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
    let guard = match Idempotency::begin(app, request, &caller).await? {
        Begun::Replay(replayed) => return Ok(replayed),
        Begun::Proceed(guard) => guard,
    };
    let confirmation: LegalEntityConfirmation = read_body::<ConfirmLegalEntityBody, _>(request)?;
    let reads = Reads::with_ledger();
    let (name, address) = (
        confirmation.name.as_deref(),
        confirmation.address.as_deref(),
    );
    let confirmed = access::apply(
        &app.store,
        &slug,
        &caller,
        Permission::Administer,
        reads,
        |access| {
            let now = Utc::now();
            let decision = decisions::confirm_legal_entity(access, name, address, now)?;
            let body = serde_json::to_string(&ValidationStatus::of(&decision.outcome, access))
                .map_err(ApiError::internal)?;
            let answer = guard.answer(StatusCode::OK, &body, now);
            let change = decision.change.map(|change| change.with_all(answer));
            Ok::<_, ApiError>(Decision {
                change,
                outcome: body,
            })
        },
    )
    .await;
    let response = confirmed.map(|body| json_response(StatusCode::OK, body));
    guard.finish(app, response).await
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedEmail<'a> {
    email_address: &'a str,
}

/// What opening a verification link did.
enum Verified {
    Now(Email),
    /// The code was used before (by a person, or a mail scanner fetching the link) and would
    /// still be valid: success, not "unknown".
    Already(Email),
}

/// `GET|POST /validations/verify-email/{code}`: no token; the code is the credential. Mail
/// scanners open links, so a browser's `GET` (`Accept` prefers `text/html`) verifies nothing: it
/// answers a page whose button POSTs to the same URL. A `POST` verifies and answers the result
/// page (browsers) or `{"emailAddress"}` (JSON); a `GET` asking for JSON verifies, as it always
/// did. No answer may be cached (`Cache-Control: no-store`), errors included.
pub async fn verify_email(app: &App, request: &Request, params: &PathParams) -> Response<Body> {
    let result = verify_email_answer(app, request, params).await;
    let mut response = crate::http::respond(request, result);
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

async fn verify_email_answer(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let html = prefers_html(request);
    if html && request.method() == http::Method::GET {
        return Ok(match field(parse_code(params.get("code")?)) {
            Ok(_) => confirmation_page(),
            Err(error) => verification_page(Err(error)),
        });
    }
    let verified = verify(app, params).await;
    if html {
        return Ok(verification_page(verified));
    }
    let (Verified::Now(email) | Verified::Already(email)) = verified?;
    ok_json(&VerifiedEmail {
        email_address: email.as_str(),
    })
}

/// What a browser's `GET` of the link shows: one button, a form that POSTs to the same URL
/// (no `action`: the document's own), and nothing verified yet.
fn confirmation_page() -> Response<Body> {
    html_page(
        StatusCode::OK,
        "Verify your e-mail address",
        "<p>Confirm that this address should receive the organisation's mail.</p>\n\
         <form method=\"post\"><button type=\"submit\">Verify this address</button></form>",
    )
}

/// Verifies the address `record` names, on a read of its organisation (its one write loop).
async fn use_code(app: &App, record: &EmailCode) -> Result<(), ApiError> {
    let read = |_| async {
        match app.store.organisation(&record.slug).await? {
            Some(organisation) => Ok(Some(organisation)),
            None => Err(ApiError::NotFound(
                "The organisation of this code no longer exists.".into(),
            )),
        }
    };
    let decide = |organisation: Organisation| {
        let change = decisions::verify_email(&organisation, record, Utc::now())?;
        Ok(Decision::write(change, ()))
    };
    app.store.decide_and_write(read, decide).await
}

async fn verify(app: &App, params: &PathParams) -> Result<Verified, ApiError> {
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
    if record.used_at.is_some() {
        return Ok(Verified::Already(record.email));
    }
    match use_code(app, &record).await {
        Ok(()) => Ok(Verified::Now(record.email)),
        // Another request used the code meanwhile: it verified the address.
        Err(ApiError::Refused(Refusal::CodeUsed)) => Ok(Verified::Already(record.email)),
        Err(other) => Err(other),
    }
}

/// Whether `Accept` prefers `text/html` to JSON (q-values compared; `*/*` counts for JSON, so
/// curl and API clients get JSON).
fn prefers_html(request: &Request) -> bool {
    let Some(accept) = request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let quality = |wanted: &[&str]| {
        accept
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';').map(str::trim);
                let media = parts.next()?.to_ascii_lowercase();
                let q = parts
                    .find_map(|p| p.strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                wanted.contains(&media.as_str()).then_some(q)
            })
            .fold(0.0_f32, f32::max)
    };
    let html = quality(&["text/html"]);
    html > 0.0 && html > quality(&["application/json", "application/*", "*/*"])
}

/// The page a browser shows after a `POST`: no scripts, no styles from elsewhere, nothing loaded.
fn verification_page(verified: Result<Verified, ApiError>) -> Response<Body> {
    let (status, title, text) = match &verified {
        Ok(Verified::Now(email)) => (
            StatusCode::OK,
            "Address verified",
            format!(
                "{} is verified. You can close this page.",
                escape(email.as_str())
            ),
        ),
        Ok(Verified::Already(email)) => (
            StatusCode::OK,
            "Already verified",
            format!(
                "{} was verified already. You can close this page.",
                escape(email.as_str())
            ),
        ),
        Err(error) => (
            crate::http::status_of(error),
            "Link not valid",
            match error {
                ApiError::Internal(_) => {
                    "Something went wrong; please try the link again later.".to_owned()
                }
                other => escape(&other.to_string()),
            },
        ),
    };
    html_page(status, title, &format!("<p>{text}</p>"))
}

/// An HTML answer (`Content-Security-Policy: default-src 'none'`: nothing loaded, no script;
/// `form-action 'self'`: the confirmation's form may post to this API only).
fn html_page(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>{body}</body></html>\n"
    );
    let mut response = Response::new(Body::Text(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static("default-src 'none'; form-action 'self'"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    response
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
