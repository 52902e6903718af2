//! `GET /compute-information/organisation/{organisationSlug}` and
//! `GET /organisations/{organisationSlug}/quotas`: what the platform events keep, read with the
//! authorisation in one round trip.

use lambda_http::{Body, Request, Response};

use crate::access::{self, authorise, Permission, Reads};
use crate::app::App;
use crate::domain::ledger::ComputeInformation;
use crate::domain::quotas::Quotas;
use crate::domain::Slug;
use crate::error::ApiError;
use crate::http::{field, ok_json};
use crate::routes::PathParams;

fn slug_param(params: &PathParams) -> Result<Slug, ApiError> {
    field(Slug::parse(params.get("organisationSlug")?))
}

/// Every member may read both.
async fn read(
    app: &App,
    request: &Request,
    params: &PathParams,
    reads: Reads,
) -> Result<access::Access, ApiError> {
    let slug = slug_param(params)?;
    let caller = access::caller(app, request)?;
    authorise(&app.store, caller, &slug, Permission::Read, reads).await
}

pub async fn compute_information(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let reads = Reads {
        ledger: true,
        ..Reads::default()
    };
    let access = read(app, request, params, reads).await?;
    ok_json(&ComputeInformation::from(&access.ledger))
}

pub async fn quotas(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let reads = Reads {
        quotas: true,
        ..Reads::default()
    };
    let access = read(app, request, params, reads).await?;
    let defaults = Quotas::defaults(access.organisation.organisation_type);
    ok_json(&defaults.overridden(&access.quota_overrides))
}
