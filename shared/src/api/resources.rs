//! `GET /compute-information/organisation/{organisationSlug}` and
//! `GET /organisations/{organisationSlug}/quotas`: what the platform events keep, read with the
//! authorisation in one round trip.

use lambda_http::{Body, Request, Response};

use crate::access::{self, Permission, Reads};
use crate::app::App;
use crate::domain::ledger::ComputeInformation;
use crate::domain::quotas::Quotas;
use crate::error::ApiError;
use crate::http::ok_json;
use crate::routes::PathParams;

pub async fn compute_information(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let reads = Reads {
        ledger: true,
        ..Reads::default()
    };
    let access = access::authorise_request(app, request, params, Permission::Read, reads).await?;
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
    let access = access::authorise_request(app, request, params, Permission::Read, reads).await?;
    let defaults = Quotas::defaults(access.organisation.organisation_type);
    ok_json(&defaults.overridden(&access.quota_overrides))
}
