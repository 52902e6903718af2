//! `GET .../me`, `GET|POST .../members`, `DELETE .../members/{memberIdentity}`.

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::access::{self, Permission, Reads};
use crate::api::idempotency::{Begun, Idempotency};
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions;
use crate::domain::member::{AddMemberBody, Member, MemberResponse, MemberSort, NewMember};
use crate::domain::{FieldError, Slug};
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
        access::read_authorised::<ApiError>(
            &app.store,
            &slug,
            &caller,
            Permission::Read,
            Reads::default(),
        )
        .await?;
        members = app.store.members(&slug).await?;
    }
    page.sort
        .sort(&mut members, page.direction == Direction::Desc);
    ok_json(&page_of(&members, &page))
}

/// The page `page` asks for of the sorted `members`.
fn page_of<'a>(members: &'a [Member], page: &PageRequest<MemberSort>) -> Page<MemberResponse<'a>> {
    let content = members
        .iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .map(MemberResponse::from)
        .collect();
    Page::new(content, page, members.len() as u64)
}

pub async fn add(
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
    let new: NewMember = read_body::<AddMemberBody, _>(request)?;
    let member = new.invitation(Uuid::new_v4(), Utc::now());
    let added = access::apply(
        &app.store,
        &slug,
        &caller,
        Permission::Administer,
        Reads::default(),
        |access| {
            let now = Utc::now();
            let answer = guard.answer(StatusCode::OK, "", now);
            let change = decisions::add_member(access, &member, now).with_all(answer);
            Ok::<_, ApiError>(Decision::write(change, ()))
        },
    )
    .await;
    let response = added.map_err(|error| already_a_member(error, &member, &slug));
    if response.is_ok() {
        tracing::info!(%slug, member = %member.identity, "member added");
    }
    let located = response.map(|()| located(&slug, member.identity));
    guard.finish(app, located).await
}

/// 200 with no body, and where the new member is (DELETE removes it): clients and
/// schemathesis's stateful phase follow it.
fn located(slug: &Slug, member: Uuid) -> Response<Body> {
    let mut response = ok_empty();
    let location = format!("/api/v1/organisations/{slug}/members/{member}");
    if let Ok(value) = http::HeaderValue::from_str(&location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

/// A refused add because the address holds a membership already: 400 naming it.
fn already_a_member(error: ApiError, member: &Member, slug: &Slug) -> ApiError {
    match error {
        ApiError::Refused(Refusal::MemberEmailTaken) => {
            let email = member
                .email
                .as_ref()
                .map(|e| e.as_str())
                .unwrap_or_default();
            ApiError::BadRequest {
                message: format!("{email} is already a member of organisation '{slug}'."),
                details: vec![FieldError::new("email", "is already a member").to_string()],
            }
        }
        other => other,
    }
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
    access::apply(
        &app.store,
        &slug,
        &caller,
        Permission::Administer,
        reads,
        |access| {
            let change = decisions::remove_member(access, identity, Utc::now())?;
            Ok::<_, ApiError>(Decision::write(change, ()))
        },
    )
    .await?;
    tracing::info!(%slug, member = %identity, "member removed");
    Ok(no_content())
}
