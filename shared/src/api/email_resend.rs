//! `POST .../validation-status/email/resend` (admins): a new code for an unverified address
//! replaces the current one and is mailed; 202 with no body (docs/verification.md).

use chrono::Utc;
use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::access::{self, Permission, Reads};
use crate::api::idempotency::{self, Idempotency};
use crate::api::validation::mail_challenge;
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions::{self as resend, ResendBody};
use crate::domain::verification::{address_hash, EmailKind};
use crate::error::ApiError;
use crate::http::read_body;
use crate::routes::PathParams;

pub async fn resend(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let caller = access::caller(app, request)?;
    let idempotency = Idempotency::of(request, &caller)?;
    if let Some(replayed) = idempotency::replay(app, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let kind: EmailKind = read_body::<ResendBody, _>(request)?;
    let store = &app.store;
    // Boxed: the read nests the authorisation's own read loop, a large future.
    let resent = Box::pin(store.decide_and_write(
        // The organisation (authorising the caller), then the mail log of its address.
        |_| async {
            let access = store
                .read_authorised::<ApiError>(
                    &slug,
                    &caller,
                    Permission::Administer,
                    Reads::default(),
                )
                .await?;
            let email = resend::unverified_address(&access, kind)?;
            let log = store.mail_log(&address_hash(email)).await?;
            Ok(Some((access, log)))
        },
        |(access, log)| {
            let now = Utc::now();
            let decision = resend::resend(&access, kind, &log, now)?;
            let answer = idempotency
                .iter()
                .map(|i| i.record(StatusCode::ACCEPTED, "", now));
            let change = decision.change.map(|c| c.with_all(answer));
            let outcome = (access.organisation, decision.outcome);
            Ok::<_, ApiError>(Decision { change, outcome })
        },
    ))
    .await;
    let (organisation, challenge) = match resent {
        Err(ApiError::Refused(Refusal::IdempotencyKeyUsed)) => {
            return idempotency::replay_after_race(app, idempotency.as_ref()).await
        }
        other => other?,
    };
    mail_challenge(app, &organisation, &challenge).await;
    tracing::info!(%slug, kind = ?kind, "verification mail resent");
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}
