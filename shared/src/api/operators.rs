//! The operator plane: `GET|PATCH /admin/v1/orgs/{organisationIdentity}`, for platform operators
//! (the token's `organisations/operator` scope and `OPERATOR_GROUP` in its `cognito:groups` or
//! `groups` claim) and nobody else, whatever their memberships. API Gateway's operator
//! authorizer (its own audience) checks the scope on these routes; the function checks scope
//! and group again. docs/plans.md, docs/security.md.

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access;
use crate::api::validation::ValidationStatus;
use crate::app::App;
use crate::auth::authenticate_operator;
use crate::domain::authorisation::operate;
use crate::domain::ledger::ComputeInformation;
use crate::domain::operator::{
    overrides_json, Creator, OperatorPatch, OperatorPatchBody, OperatorView,
};
use crate::domain::organisation::OrganisationResponse;
use crate::domain::quotas::Quotas;
use crate::domain::{Caller, FieldError};
use crate::error::ApiError;
use crate::http::{field, ok_json, read_body};
use crate::routes::PathParams;

/// The operator's view of an organisation: the customer GET's body and more.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorOrganisationResponse<'a> {
    #[serde(flatten)]
    organisation: OrganisationResponse<'a>,
    revision: u64,
    created_by: Option<&'a Creator>,
    member_count: usize,
    quotas: Quotas,
    compute_information: ComputeInformation,
    validation_status: ValidationStatus,
    quota_overrides: Option<Map<String, Value>>,
}

pub async fn get(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let caller = operator(app, request)?;
    let identity = identity(params)?;
    let view: OperatorView =
        access::read_as_operator::<ApiError>(&app.store, identity, &caller).await?;
    respond(&view)
}

/// `PATCH`: `organisationType`, `restrictedToAvailableCloudProviders`, `quotaOverrides`; one
/// change, answered with the view after it.
pub async fn update(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let caller = operator(app, request)?;
    let identity = identity(params)?;
    let patch: OperatorPatch = read_body::<OperatorPatchBody, _>(request)?;
    let view = access::apply_as_operator(&app.store, identity, &caller, |view| {
        Ok::<_, ApiError>(crate::domain::decisions::operator::update_organisation(
            view,
            &caller,
            &patch,
            Utc::now(),
        ))
    })
    .await?;
    tracing::info!(slug = %view.organisation.slug, %identity, operator = %caller.subject, "organisation changed by a platform operator");
    respond(&view)
}

/// The authenticated caller, if they are a platform operator: 403 before anything is read.
fn operator(app: &App, request: &Request) -> Result<Caller, ApiError> {
    let caller = authenticate_operator(request, app.local_jwt.as_ref(), &app.operator_group)?;
    operate(&caller)?;
    Ok(caller)
}

fn identity(params: &PathParams) -> Result<Uuid, ApiError> {
    field(
        Uuid::parse_str(params.get("organisationIdentity")?)
            .map_err(|_| FieldError::new("organisationIdentity", "must be a UUID")),
    )
}

fn respond(view: &OperatorView) -> Result<Response<Body>, ApiError> {
    let organisation = &view.organisation;
    // Memberships and pending invitations, as GET .../members lists them (read beside the view).
    let member_count = view.member_count;
    let v = &organisation.verification;
    let mut body = serde_json::to_value(OperatorOrganisationResponse {
        organisation: OrganisationResponse::from(organisation),
        revision: organisation.revision,
        created_by: view.created_by.as_ref(),
        member_count,
        quotas: view.quotas(),
        compute_information: ComputeInformation::from(&view.ledger),
        // As GET .../validation-status computes it.
        validation_status: ValidationStatus {
            billing_email_verified_at: v.billing_email_verified_at,
            contact_email_verified_at: v.contact_email_verified_at,
            valid_payment_method_attached_at: view.ledger.payment_method_attached_at,
            vat_legal_entity_address_verified_at: v.vat_legal_entity_address_verified_at,
            vat_legal_entity_name_verified_at: v.vat_legal_entity_name_verified_at,
            vat_number_verification_status: v.vat_status,
            vat_number_verification_updated_at: v.vat_status_updated_at,
        },
        quota_overrides: overrides_json(&view.quota_overrides()),
    })
    .map_err(ApiError::internal)?;
    // The admin plane follows the platform's Go client, whose admin `Organisation` decodes
    // `slug` as a plain string; the customer body keeps the seed's `{"slugValue"}`
    // (docs/organisations.md).
    if let Some(object) = body.as_object_mut() {
        object.insert("slug".to_owned(), Value::from(organisation.slug.as_str()));
    }
    ok_json(&body)
}
