//! `GET .../me`, `GET|POST .../members`, `DELETE .../members/{memberIdentity}`.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::access::{self, Permission, Reads};
use crate::api::idempotency::{Begun, Guard, Idempotency};
use crate::api::memberships::{invitation_suppressed, mail_invitation};
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions::{self, Limits};
use crate::domain::member::{AddMemberBody, Member, MemberResponse, MemberSort, NewMember};
use crate::domain::memberships::{self, invitation_terms, may_invite, MemberListItem};
use crate::domain::organisation::Organisation;
use crate::domain::{Caller, FieldError, Slug};
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
    ok_json(&page_of(&members, &page, Utc::now()))
}

/// The page `page` asks for of the sorted `members`.
fn page_of<'a>(
    members: &'a [Member],
    page: &PageRequest<MemberSort>,
    now: DateTime<Utc>,
) -> Page<MemberListItem<'a>> {
    let content = members
        .iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .map(|member| MemberListItem::new(member, now))
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
    let now = Utc::now();
    let mut member = new.invitation(Uuid::new_v4(), now);
    member.invitation = Some(invitation_terms(now, app.invitation_ttl_days));
    let mut limits = Limits::new(app.budgets);
    let mut added = invite(app, &slug, &caller, &member, limits, &guard).await;
    if let Err(ApiError::Refused(Refusal::AddressMailCap)) = added {
        // The address's counter across organisations is full: decided again, the mail is
        // suppressed.
        limits.address_capped = true;
        added = invite(app, &slug, &caller, &member, limits, &guard).await;
    }
    let response = added.map_err(|error| already_a_member(error, &member, &slug));
    if let Ok((organisation, send)) = &response {
        tracing::info!(%slug, member = %member.identity, "member added");
        match send {
            true => mail_invitation(app, organisation, &caller, &member).await,
            false => invitation_suppressed(organisation),
        }
    }
    let located = response.map(|_| located(&slug, member.identity));
    guard.finish(app, located).await
}

/// The authorising read with the pending invitations (a Query beside the BatchGet), counted in
/// the decision: concurrent adds may each see the last free place (docs/members.md). Then the
/// add, with its invitation mail counted, in one transaction.
async fn invite(
    app: &App,
    slug: &Slug,
    caller: &Caller,
    member: &Member,
    limits: Limits,
    guard: &Guard,
) -> Result<(Organisation, bool), ApiError> {
    let reads = Reads {
        members: true,
        ..Reads::default()
    };
    access::apply(
        &app.store,
        slug,
        caller,
        Permission::Administer,
        reads,
        |access| {
            let now = Utc::now();
            may_invite(&access.members, app.max_pending_invitations, now)?;
            let decision = memberships::invite_member(access, member, limits, now)?;
            let answer = guard.answer(StatusCode::OK, "", now);
            let change = decision.change.map(|change| change.with_all(answer));
            let outcome = (access.organisation.clone(), decision.outcome);
            Ok::<_, ApiError>(Decision { change, outcome })
        },
    )
    .await
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
