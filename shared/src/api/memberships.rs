//! The caller's organisations and their invitation journey: `GET /api/v1/memberships`,
//! `POST /api/v1/memberships/{organisationIdentity}/accept`,
//! `DELETE /api/v1/memberships/{organisationIdentity}`; and an admin's role change,
//! `PATCH .../members/{memberIdentity}` (docs/members.md).

use chrono::Utc;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::access::{self, Access, Permission, Reads};
use crate::api::idempotency::{Begun, Guard, Idempotency};
use crate::api::organisations::organisation_tag;
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions::Limits;
use crate::domain::member::Member;
use crate::domain::memberships::{
    self, MemberListItem, MembershipItem, PatchMemberBody, RoleChange,
};
use crate::domain::organisation::Organisation;
use crate::domain::{Caller, FieldError, Rejection, Slug};
use crate::error::ApiError;
use crate::http::{
    accepted, check_if_match, if_match, json_response, no_content, ok_json, read_body,
    with_entity_tag,
};
use crate::mail::OutgoingMail;
use crate::paging::{Direction, Page, PageRequest, SortField};
use crate::routes::PathParams;
use crate::storage::memberships::Read;

/// The one order of the memberships list: when each began (joined, or invited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since;

impl SortField for Since {
    const ALL: &'static [Self] = &[Since];
    fn wire_name(self) -> &'static str {
        "joinedAt"
    }
}

/// `GET /api/v1/memberships`: two Queries of `gsi1` at once (by subject; by verified address),
/// then one BatchGet of the page's profiles, so names are current and deleted organisations
/// are gone.
pub async fn list(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let page = PageRequest::from_query(request, 50, (Since, Direction::Asc))?;
    let caller = access::caller(app, request)?;
    let now = Utc::now();
    let (active, invited) = Box::pin(
        app.store
            .memberships_of(caller.subject.as_str(), caller.verified_email()),
    )
    .await?;
    let mut all = memberships::listed(active, invited, now);
    if page.direction == Direction::Desc {
        all.reverse();
    }
    let total = all.len() as u64;
    let slice: Vec<_> = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .collect();
    let slugs: Vec<Slug> = slice.iter().map(|(slug, _)| slug.clone()).collect();
    let profiles = app.store.profiles(&slugs).await?;
    let content: Vec<MembershipItem<'_>> = slice
        .iter()
        .filter_map(|(slug, member)| {
            profiles
                .get(slug)
                .map(|organisation| MembershipItem::new(organisation, member, now))
        })
        .collect();
    ok_json(&Page::new(content, &page, total))
}

fn organisation_identity(params: &PathParams) -> Result<Uuid, ApiError> {
    Uuid::parse_str(params.get("organisationIdentity")?).map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new(
            "organisationIdentity",
            "must be a UUID",
        )])
    })
}

/// The slug of the organisation `identity` names; 404 when none does.
async fn slug_of(app: &App, identity: Uuid) -> Result<Slug, ApiError> {
    app.store
        .slug_by_identity(identity)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Organisation {identity} does not exist.")))
}

/// The slug `identity` names and, from the index, the member item of the caller's invitation
/// there, if any: read at once, so that accepting or declining reads the invited member with
/// the profile instead of after it (one round trip less; the index may lag, and then the
/// member is read after all). Leaving costs the index Query too, beside the lookup: no time.
async fn slug_and_invitation(
    app: &App,
    identity: Uuid,
    caller: &Caller,
) -> Result<(Slug, Option<Uuid>), ApiError> {
    let invitations = async {
        match caller.verified_email() {
            Some(email) => Ok(app.store.invitations_to(email).await?),
            None => Ok(Vec::new()),
        }
    };
    let (slug, invitations) =
        Box::pin(async { tokio::try_join!(slug_of(app, identity), invitations) }).await?;
    let invited = invitations
        .into_iter()
        .find(|(at, _)| *at == slug)
        .map(|(_, member)| member.identity);
    Ok((slug, invited))
}

/// Reads what the caller holds in `slug`, decides with `decide` and writes, in the write loop.
/// `invited`: the member item the caller's invitation is expected to be, read with the rest.
async fn with_standing<T>(
    app: &App,
    (slug, identity): (&Slug, Uuid),
    caller: &Caller,
    invited: Option<Uuid>,
    mut decide: impl FnMut(&memberships::Standing) -> Result<Decision<T>, Rejection>,
) -> Result<T, ApiError> {
    app.store
        .decide_and_write(
            |_| async {
                match app.store.standing(slug, caller, invited).await? {
                    Read::Raced => Ok(None),
                    // The identity names another organisation now (deleted, slug taken again).
                    Read::Found(standing) if standing.organisation.identity == identity => {
                        Ok(Some(*standing))
                    }
                    _ => Err(ApiError::NotFound(format!(
                        "Organisation {identity} does not exist."
                    ))),
                }
            },
            |standing: memberships::Standing| decide(&standing).map_err(ApiError::from),
        )
        .await
}

/// `POST /api/v1/memberships/{organisationIdentity}/accept`: 200 with the membership.
pub async fn accept(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let identity = organisation_identity(params)?;
    let caller = access::caller(app, request)?;
    let (slug, invited) = slug_and_invitation(app, identity, &caller).await?;
    let now = Utc::now();
    let (organisation, member) =
        with_standing(app, (&slug, identity), &caller, invited, |standing| {
            memberships::accept(standing, &caller, now)
        })
        .await?;
    tracing::info!(%slug, member = %member.identity, "invitation accepted");
    ok_json(&MembershipItem::new(&organisation, &member, now))
}

/// `DELETE /api/v1/memberships/{organisationIdentity}`: leave, or decline the invitation; 204.
pub async fn leave(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let identity = organisation_identity(params)?;
    let caller = access::caller(app, request)?;
    let (slug, invited) = slug_and_invitation(app, identity, &caller).await?;
    with_standing(app, (&slug, identity), &caller, invited, |standing| {
        let change = memberships::leave_or_decline(standing, &caller, Utc::now())?;
        Ok(Decision::write(change, ()))
    })
    .await?;
    tracing::info!(%slug, "membership left or invitation declined");
    Ok(no_content())
}

/// `PATCH .../members/{memberIdentity}` (admins): 200 with the member and the organisation's
/// new `ETag`; `If-Match` and `Idempotency-Key` as on the other routes.
pub async fn update_member(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let identity = member_identity(params)?;
    let caller = access::caller(app, request)?;
    let guard = match Idempotency::begin(app, request, &caller).await? {
        Begun::Replay(replayed) => return Ok(replayed),
        Begun::Proceed(guard) => guard,
    };
    let wanted: RoleChange = read_body::<PatchMemberBody, _>(request)?;
    let precondition = if_match(request);
    let reads = Reads {
        member: Some(identity),
        ..Reads::default()
    };
    let precondition = precondition.as_deref();
    let updated = access::apply(
        &app.store,
        &slug,
        &caller,
        Permission::Administer,
        reads,
        |access| {
            check_if_match(precondition, &organisation_tag(&access.organisation)?)?;
            role_changed(access, identity, wanted, &guard)
        },
    )
    .await;
    if updated.is_ok() {
        tracing::info!(%slug, member = %identity, "member updated");
    }
    let response =
        updated.map(|(body, tag)| with_entity_tag(json_response(StatusCode::OK, body), &tag));
    guard.finish(app, response).await
}

/// The role change with its answer (the member, and the organisation's tag after it) recorded
/// for the request's `Idempotency-Key`.
fn role_changed(
    access: &Access,
    identity: Uuid,
    wanted: RoleChange,
    guard: &Guard,
) -> Result<Decision<(String, String)>, ApiError> {
    let now = Utc::now();
    let decision = memberships::change_role(access, identity, wanted, now)?;
    let after = match &decision.change {
        Some(change) => change.profile_after(&access.organisation),
        None => access.organisation.clone(),
    };
    let body = serde_json::to_string(&MemberListItem::new(&decision.outcome, now))
        .map_err(ApiError::internal)?;
    let answer = guard.answer(StatusCode::OK, &body, now);
    let change = decision.change.map(|change| change.with_all(answer));
    let outcome = (body, organisation_tag(&after)?);
    Ok(Decision { change, outcome })
}

/// The path's `memberIdentity`: 400 unless a UUID.
fn member_identity(params: &PathParams) -> Result<Uuid, ApiError> {
    Uuid::parse_str(params.get("memberIdentity")?).map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new("memberIdentity", "must be a UUID")])
    })
}

/// A suppressed invitation mail (the address had its share this hour): logged and counted.
pub fn invitation_suppressed(organisation: &Organisation) {
    tracing::warn!(slug = %organisation.slug, suppressed = 1, "invitation mail suppressed: the address had its hourly share");
    crate::metrics::mail(crate::metrics::MailOutcome::Suppressed);
}

/// Mails the invitation, counted already in the change that made or renewed it. The change is
/// committed: a failure is logged, not returned.
pub async fn mail_invitation(
    app: &App,
    organisation: &Organisation,
    inviter: &Caller,
    member: &Member,
) {
    let Some(email) = &member.email else {
        return;
    };
    let by = inviter.username.as_deref().unwrap_or("An admin");
    let expires = member
        .invitation
        .map(|i| {
            format!(
                "\nThe invitation expires at {}.\n",
                i.expires_at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    let mail = OutgoingMail {
        to: email.clone(),
        subject: format!("{by} invited you to {}", organisation.name.as_str()),
        text: format!(
            "{by} invited you to join organisation {} as {}.\n\n\
             Sign in with this address to accept or decline:\n{}\n{expires}",
            organisation.name.as_str(),
            member.role.as_str(),
            app.console_url,
        ),
    };
    if let Err(error) = app.mailer.send(&mail).await {
        tracing::error!(%error, slug = %organisation.slug, "invitation mail failed");
    }
}

/// `POST .../members/{memberIdentity}/invitation/resend` (admins): a new mail and a new
/// expiry; 202 with no body. One read (the organisation, whose profile records its mails,
/// with the member), one transaction.
pub async fn resend_invitation(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let identity = member_identity(params)?;
    let caller = access::caller(app, request)?;
    let mut limits = Limits::new(app.budgets);
    let mut renewed = renew_invitation(app, &slug, &caller, identity, limits).await;
    if let Err(ApiError::Refused(Refusal::AddressMailCap)) = renewed {
        // The address's counter across organisations is full: decided again, it is a 429.
        limits.address_capped = true;
        renewed = renew_invitation(app, &slug, &caller, identity, limits).await;
    }
    let (organisation, member) = renewed?;
    mail_invitation(app, &organisation, &caller, &member).await;
    tracing::info!(%slug, member = %identity, "invitation resent");
    Ok(accepted())
}

async fn renew_invitation(
    app: &App,
    slug: &Slug,
    caller: &Caller,
    identity: Uuid,
    limits: Limits,
) -> Result<(Organisation, Member), ApiError> {
    let reads = Reads {
        member: Some(identity),
        ..Reads::default()
    };
    access::apply(
        &app.store,
        slug,
        caller,
        Permission::Administer,
        reads,
        |access| {
            let ttl = app.invitation_ttl_days;
            let decision =
                memberships::resend_invitation(access, identity, limits, ttl, Utc::now())?;
            Ok::<_, ApiError>(Decision {
                change: decision.change,
                outcome: (access.organisation.clone(), decision.outcome),
            })
        },
    )
    .await
}
