//! `GET .../me`, `GET|POST .../members`, `DELETE .../members/{memberIdentity}`.

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::access::{self, Permission, Reads};
use crate::api::idempotency::{self, Idempotency};
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions;
use crate::domain::member::{AddMemberBody, MemberResponse, MemberSort, NewMember};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::http::{no_content, ok_empty, ok_json, read_body};
use crate::paging::{Direction, Page, PageRequest};
use crate::routes::PathParams;
use http::StatusCode;

pub async fn me(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let access =
        access::authorise_request(app, request, params, Permission::Read, Reads::default()).await?;
    ok_json(&MemberResponse::from(&access.member))
}

pub async fn list(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let page = PageRequest::from_query(request, 50, (MemberSort::JoinedAt, Direction::Asc))?;
    let caller = access::caller(app, request)?;
    // One Query serves both the authorisation (the caller is among the members) and the page,
    // of an organisation that exists (a deleted one's partition may still hold its members
    // until the sweep removes them: its former members get 404 below).
    let mut members = app
        .store
        .members_of_existing(&slug)
        .await?
        .unwrap_or_default();
    let is_member = members
        .iter()
        .any(|m| m.subject.as_ref() == Some(&caller.subject));
    if !is_member {
        // Not found by subject: 404/403, or an invitation to claim first.
        app.store
            .read_authorised::<ApiError>(&slug, &caller, Permission::Read, Reads::default())
            .await?;
        members = app.store.members(&slug).await?;
    }
    page.sort
        .sort(&mut members, page.direction == Direction::Desc);
    let total = members.len() as u64;
    let content: Vec<MemberResponse<'_>> = members
        .iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .map(MemberResponse::from)
        .collect();
    ok_json(&Page::new(content, &page, total))
}

pub async fn add(
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
    let new: NewMember = read_body::<AddMemberBody, _>(request)?;
    let member = new.invitation(Uuid::new_v4(), Utc::now());
    let email = member
        .email
        .as_ref()
        .map(|e| e.as_str())
        .unwrap_or_default();
    let reads = Reads::default();
    let added = app
        .store
        .apply(&slug, &caller, Permission::Administer, reads, |access| {
            let now = Utc::now();
            let answer = idempotency
                .iter()
                .map(|i| i.record(StatusCode::OK, "", now));
            let change = decisions::add_member(access, &member, now).with_all(answer);
            Ok::<_, ApiError>(Decision::write(change, ()))
        })
        .await;
    match added {
        Ok(()) => {}
        Err(ApiError::Refused(Refusal::IdempotencyKeyUsed)) => {
            return idempotency::replay_after_race(app, idempotency.as_ref()).await
        }
        Err(ApiError::Refused(Refusal::MemberEmailTaken)) => {
            return Err(ApiError::BadRequest {
                message: format!("{email} is already a member of organisation '{slug}'."),
                details: vec![FieldError::new("email", "is already a member").to_string()],
            })
        }
        Err(other) => return Err(other),
    }
    tracing::info!(%slug, member = %member.identity, "member added");
    // Where the new member is (DELETE removes it): clients and schemathesis's stateful phase
    // follow it.
    let mut response = ok_empty();
    let location = format!("/api/v1/organisations/{slug}/members/{}", member.identity);
    if let Ok(value) = http::HeaderValue::from_str(&location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    Ok(response)
}

pub async fn remove(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let identity = Uuid::parse_str(params.get("memberIdentity")?).map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new("memberIdentity", "must be a UUID")])
    })?;
    let caller = access::caller(app, request)?;
    // The identity is looked up inside this organisation's partition only (in the same read as
    // the authorisation): another organisation's member identity is not found here.
    let reads = Reads {
        member: Some(identity),
        ..Reads::default()
    };
    app.store
        .apply(&slug, &caller, Permission::Administer, reads, |access| {
            let change = decisions::remove_member(access, identity, Utc::now())?;
            Ok::<_, ApiError>(Decision::write(change, ()))
        })
        .await?;
    tracing::info!(%slug, member = %identity, "member removed");
    Ok(no_content())
}
