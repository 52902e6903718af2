//! `POST .../validation-status/email/resend` (admins): a new code for an unverified address
//! replaces the current one and is mailed; 202 with no body (docs/verification.md).

use chrono::Utc;
use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::access::{self, Permission, Reads};
use crate::api::idempotency::{Begun, Guard, Idempotency};
use crate::api::validation::mail_challenge;
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions::{self, Limits, ResendBody};
use crate::domain::organisation::Organisation;
use crate::domain::verification::{EmailChallenge, EmailKind};
use crate::domain::{Caller, Slug};
use crate::error::ApiError;
use crate::http::{accepted, read_body};
use crate::routes::PathParams;

pub async fn resend(
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
    let kind: EmailKind = read_body::<ResendBody, _>(request)?;
    let mut limits = Limits::new(app.budgets);
    let mut resent = issue(app, &slug, &caller, kind, limits, &guard).await;
    if let Err(ApiError::Refused(Refusal::AddressMailCap)) = resent {
        // The address's counter across organisations is full: decided again, it is a 429.
        limits.address_capped = true;
        resent = issue(app, &slug, &caller, kind, limits, &guard).await;
    }
    if let Ok((organisation, challenge)) = &resent {
        mail_challenge(app, organisation, challenge).await;
        tracing::info!(%slug, kind = ?kind, "verification mail resent");
    }
    guard.finish(app, resent.map(|_| accepted())).await
}

/// One read (the organisation, authorising the caller; its profile records the mails it sent),
/// the decision, one transaction.
async fn issue(
    app: &App,
    slug: &Slug,
    caller: &Caller,
    kind: EmailKind,
    limits: Limits,
    guard: &Guard,
) -> Result<(Organisation, EmailChallenge), ApiError> {
    let reads = Reads::default();
    access::apply(
        &app.store,
        slug,
        caller,
        Permission::Administer,
        reads,
        |access| {
            let now = Utc::now();
            let decision = decisions::resend(access, kind, limits, now)?;
            let answer = guard.answer(StatusCode::ACCEPTED, "", now);
            let change = decision.change.map(|c| c.with_all(answer));
            let outcome = (access.organisation.clone(), decision.outcome);
            Ok::<_, ApiError>(Decision { change, outcome })
        },
    )
    .await
}
