//! The one authorisation mechanism of the API (OWASP API1: nothing is served by id alone).
//!
//! Every organisation endpoint calls [`authorise`]: it authenticates the caller, reads the
//! organisation and the caller's membership in one round trip, and decides by role. Writes then
//! carry the condition `revision = <what was read>` on the profile in their transaction; every
//! membership change moves the revision, so a role changed or a membership removed between the
//! read and the write stops the write (and the retry re-reads and decides again).

use lambda_http::Request;

use crate::app::App;
use crate::auth::{authenticate, Caller};
use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::ledger::ResourceLedger;
use crate::domain::member::{Member, Role};
use crate::domain::organisation::Organisation;
use crate::domain::quotas::QuotaOverrides;
use crate::domain::Slug;
use crate::error::ApiError;
use crate::routes::PathParams;
use crate::storage::{retry_on_conflict, Store, StoreError};
use chrono::Utc;

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Every member may read.
    Read,
    /// Change settings and members, delete the organisation: admins only.
    Administer,
}

impl Permission {
    fn allows(self, role: Role) -> bool {
        match self {
            Self::Read => true,
            Self::Administer => role == Role::Admin,
        }
    }
}

/// An authorised caller with what was read to authorise them.
#[derive(Debug, Clone)]
pub struct Access {
    pub caller: Caller,
    pub organisation: Organisation,
    pub member: Member,
    pub ledger: ResourceLedger,
    pub quota_overrides: QuotaOverrides,
    /// The member asked for with [`Reads::member`], if it exists in this organisation.
    pub target_member: Option<Member>,
}

pub use crate::storage::organisations::Reads;

pub fn caller(app: &App, request: &Request) -> Result<Caller, ApiError> {
    authenticate(request, app.local_jwt.as_ref())
}

/// The first step of every organisation read: authenticate, then [`authorise`] on the path's
/// `organisationSlug`.
pub async fn authorise_request(
    app: &App,
    request: &Request,
    params: &PathParams,
    permission: Permission,
    reads: Reads,
) -> Result<Access, ApiError> {
    let slug = params.slug()?;
    let caller = caller(app, request)?;
    authorise(&app.store, caller, &slug, permission, reads).await
}

/// 404 when the organisation does not exist, 403 when the caller is not a member or their role
/// does not allow `permission`.
///
/// A caller without a membership whose token carries a verified e-mail that was invited (added
/// as a member before they ever signed in) claims that invitation here, on first use: the
/// membership is bound to the token's subject, with its activity event, and the request goes on.
pub async fn authorise(
    store: &Store,
    caller: Caller,
    slug: &Slug,
    permission: Permission,
    reads: Reads,
) -> Result<Access, ApiError> {
    let (organisation, member, snapshot) = retry_on_conflict(|| async {
        let snapshot = store
            .snapshot(slug, &caller, reads)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("Organisation '{slug}' does not exist.")))?;
        match (snapshot.member.clone(), snapshot.invitation.clone()) {
            (Some(member), _) => Ok((snapshot.organisation.clone(), member, snapshot)),
            (None, Some(invitation)) if invitation.subject.is_none() => {
                let (organisation, member) = claim(
                    store,
                    &caller,
                    snapshot.organisation.clone(),
                    invitation.member_identity,
                )
                .await?;
                Ok((organisation, member, snapshot))
            }
            (None, _) => Err(ApiError::Forbidden(format!(
                "You are not a member of organisation '{slug}'."
            ))),
        }
    })
    .await?;
    if !permission.allows(member.role) {
        return Err(ApiError::Forbidden(format!(
            "Only admins of organisation '{slug}' may do this; your role is {}.",
            member.role.as_str()
        )));
    }
    // After a claim the claimed member may be the one asked for: read it as bound.
    let target_member = snapshot.target_member.map(|target| {
        if target.identity == member.identity {
            member.clone()
        } else {
            target
        }
    });
    Ok(Access {
        caller,
        organisation,
        member,
        ledger: snapshot.ledger,
        quota_overrides: snapshot.quota_overrides,
        target_member,
    })
}

/// Binds the invitation `identity` to the caller. A conflict (someone else changed the
/// organisation, or claimed the invitation) is retried from the snapshot by the caller.
async fn claim(
    store: &Store,
    caller: &Caller,
    mut organisation: Organisation,
    identity: uuid::Uuid,
) -> Result<(Organisation, Member), ApiError> {
    let Some(invited) = store.member(&organisation.slug, identity).await? else {
        return Err(StoreError::Conflict.into());
    };
    let bound = Member {
        subject: Some(caller.subject.clone()),
        username: invited.username.clone().or_else(|| caller.username.clone()),
        ..invited
    };
    let actor = Actor::user(caller);
    let event = ActivityEvent::new(
        ActivityType::MemberJoined,
        actor.clone(),
        format!("{} joined as {}", actor.display_name(), bound.role.as_str()),
        Utc::now(),
    );
    store.bind_member(&organisation, &bound, &event).await?;
    tracing::info!(slug = %organisation.slug, member = %bound.identity, "invitation claimed");
    organisation.revision += 1;
    Ok((organisation, bound))
}
