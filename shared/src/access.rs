//! The first step of every organisation endpoint (OWASP API1: nothing is served by id alone):
//! authenticate the caller, then read the organisation and the caller's membership in one
//! round trip and decide by role (`domain::access`), through storage's write path
//! ([`crate::storage::Store::apply`]), which claims an invitation on first use. Writes carry
//! the condition `revision = <what was read>`; every membership change moves the revision, so
//! a role changed between the read and the write stops the write, and it is decided again.

use lambda_http::Request;

use crate::app::App;
use crate::auth::authenticate;
pub use crate::domain::access::{Access, Permission, Reads};
use crate::domain::Caller;
use crate::error::ApiError;
use crate::routes::PathParams;

pub fn caller(app: &App, request: &Request) -> Result<Caller, ApiError> {
    authenticate(request, app.local_jwt.as_ref())
}

/// Authenticates, then reads the path's `organisationSlug` authorised for `permission`.
pub async fn authorise_request(
    app: &App,
    request: &Request,
    params: &PathParams,
    permission: Permission,
    reads: Reads,
) -> Result<Access, ApiError> {
    let slug = params.slug()?;
    let caller = caller(app, request)?;
    app.store
        .read_authorised(&slug, &caller, permission, reads)
        .await
}
