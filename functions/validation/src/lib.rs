//! Routing of the `validation` function: validation status, VAT legal entity, e-mail links and
//! their resend.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};
use shared::api::{email_resend, validation};
use shared::routes::{not_served_here, Endpoint, Group, Router};
use shared::App;

static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::for_group(Group::Validation));

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let resolved = ROUTER.resolve(&request);
    // Its own answers (HTML or JSON, never cached).
    if let Ok((Endpoint::VerifyEmail | Endpoint::ConfirmEmail, p)) = &resolved {
        return validation::verify_email(app, &request, p).await;
    }
    let result = match resolved {
        Ok((Endpoint::GetValidationStatus, p)) => validation::status(app, &request, &p).await,
        Ok((Endpoint::GetVatLegalEntity, p)) => validation::legal_entity(app, &request, &p).await,
        Ok((Endpoint::ConfirmVatLegalEntity, p)) => {
            validation::confirm_legal_entity(app, &request, &p).await
        }
        Ok((Endpoint::ResendVerificationEmail, p)) => email_resend::resend(app, &request, &p).await,
        Ok((other, _)) => Err(not_served_here(other)),
        Err(e) => Err(e),
    };
    shared::http::respond(&request, result)
}
