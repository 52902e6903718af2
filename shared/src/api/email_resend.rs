//! `POST .../validation-status/email/resend` (admins): a new code for an unverified address
//! replaces the current one and is mailed; 202 with no body (docs/verification.md).

use chrono::Utc;
use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::access::{self, Permission, Reads};
use crate::api::idempotency::{Begun, Idempotency};
use crate::api::validation::mail_challenge;
use crate::app::App;
use crate::domain::change::Decision;
use crate::domain::decisions::{self, ResendBody};
use crate::domain::verification::EmailKind;
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
    // The organisation (authorising the caller) and the mail log of its address of `kind`.
    let reads = Reads {
        mail_log: Some(kind),
        ..Reads::default()
    };
    let resent = access::apply(
        &app.store,
        &slug,
        &caller,
        Permission::Administer,
        reads,
        |access| {
            let now = Utc::now();
            let decision = decisions::resend(access, kind, &access.mail_log, now)?;
            let answer = guard.answer(StatusCode::ACCEPTED, "", now);
            let change = decision.change.map(|c| c.with_all(answer));
            let outcome = (access.organisation.clone(), decision.outcome);
            Ok::<_, ApiError>(Decision { change, outcome })
        },
    )
    .await;
    if let Ok((organisation, challenge)) = &resent {
        mail_challenge(app, organisation, challenge).await;
        tracing::info!(%slug, kind = ?kind, "verification mail resent");
    }
    guard.finish(app, resent.map(|_| accepted())).await
}
