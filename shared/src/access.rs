//! The request layer's first step on an organisation (OWASP API1: nothing is served by id
//! alone): authenticate the caller, read the organisation and the caller's membership in one
//! round trip, decide by role (`domain::authorisation`), and, for a change, decide and write
//! through storage's one write loop ([`Store::decide_and_write`]).
//!
//! Storage reads and writes; this module orchestrates: it knows when an invitation is claimed
//! (on first use, itself a change), which reads a request needs, and who may act. Writes carry
//! the condition `revision = <what was read>`; every membership change moves the revision, so a
//! role changed between the read and the write stops the write, and it is decided again.

use chrono::Utc;
use lambda_http::Request;
use uuid::Uuid;

use crate::app::App;
use crate::auth::authenticate;
use crate::domain::authorisation::{self as rules, Membership};
pub use crate::domain::authorisation::{Access, Permission, Reads};
use crate::domain::change::{Decision, Profile};
use crate::domain::decisions::claim_invitation;
use crate::domain::operator::OperatorView;
use crate::domain::{Caller, Rejection, Slug};
use crate::error::ApiError;
use crate::routes::PathParams;
use crate::storage::{Store, StoreError};

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
    read_authorised(&app.store, &slug, &caller, permission, reads).await
}

/// A change to the organisation `slug` by `caller`: one read that also authorises them for
/// `permission` (claiming their invitation on first use), the decision on what was read, one
/// transaction; a conflict reads and decides again. `Rejection`s of the authorisation or of
/// `decide` end the request.
pub async fn apply<T, E>(
    store: &Store,
    slug: &Slug,
    caller: &Caller,
    permission: Permission,
    reads: Reads,
    mut decide: impl FnMut(&Access) -> Result<Decision<T>, E>,
) -> Result<T, E>
where
    E: From<StoreError> + From<Rejection>,
{
    store
        .decide_and_write(
            |_| authorise(store, slug, caller, permission, reads),
            |access: Access| decide(&access),
        )
        .await
}

/// A read of the organisation `slug` by `caller`, authorised for `permission`: one round trip
/// (two more on the first use of an invitation, which is claimed).
pub async fn read_authorised<E>(
    store: &Store,
    slug: &Slug,
    caller: &Caller,
    permission: Permission,
    reads: Reads,
) -> Result<Access, E>
where
    E: From<StoreError> + From<Rejection>,
{
    apply(store, slug, caller, permission, reads, |access| {
        Ok(Decision::nothing(access.clone()))
    })
    .await
}

/// One attempt at authorising `caller` on `slug`: 404 when the organisation does not exist, 403
/// when the caller is neither a member nor invited, or their role does not allow `permission`.
/// `None`: claiming the invitation raced another change; the caller's loop reads again.
pub async fn authorise<E>(
    store: &Store,
    slug: &Slug,
    caller: &Caller,
    permission: Permission,
    reads: Reads,
) -> Result<Option<Access>, E>
where
    E: From<StoreError> + From<Rejection>,
{
    let mut snapshot = store
        .snapshot(slug, caller, reads)
        .await?
        .ok_or_else(|| rules::no_such_organisation(slug))?;
    let member = match rules::membership(&snapshot, slug)? {
        Membership::Member(member) => member,
        Membership::Invited(identity) => {
            let Some(invited) = store.member(slug, identity).await? else {
                return Ok(None);
            };
            // An expired invitation is never claimed: the caller is not a member.
            if invited.status(Utc::now()) == crate::domain::memberships::MembershipStatus::Expired {
                snapshot.invitation = None;
                rules::membership(&snapshot, slug)?;
            }
            let (change, bound) =
                claim_invitation(&snapshot.organisation, caller, invited, Utc::now());
            match store.write(&change).await {
                Err(StoreError::Conflict) => return Ok(None),
                other => other?,
            }
            tracing::info!(%slug, member = %bound.identity, "invitation claimed");
            if let Profile::Update(update) = change.profile {
                snapshot.organisation = update.into_organisation().as_written();
            }
            bound
        }
    };
    rules::permit(&member, permission, slug)?;
    Ok(Some(Access::new(caller.clone(), snapshot, member)))
}

/// A change by a platform operator to the organisation `identity` names: 403 unless the
/// caller's token makes them an operator (no membership is read, none is needed, and none
/// suffices), 404 when the identity names no organisation; then read ([`OperatorView`]),
/// decide and write in [`Store::decide_and_write`]'s loop.
pub async fn apply_as_operator<T, E>(
    store: &Store,
    identity: Uuid,
    caller: &Caller,
    mut decide: impl FnMut(&OperatorView) -> Result<Decision<T>, E>,
) -> Result<T, E>
where
    E: From<StoreError> + From<Rejection>,
{
    rules::operate(caller)?;
    let slug = store
        .slug_by_identity(identity)
        .await?
        .ok_or_else(|| rules::no_organisation_with_identity(identity))?;
    store
        .decide_and_write(
            |_| async {
                match store.operator_view(&slug, identity).await? {
                    Some(view) => Ok(Some(view)),
                    None => Err(E::from(rules::no_organisation_with_identity(identity))),
                }
            },
            |view: OperatorView| decide(&view),
        )
        .await
}

/// What a platform operator sees of the organisation `identity` names, authorised as
/// [`apply_as_operator`] authorises.
pub async fn read_as_operator<E>(
    store: &Store,
    identity: Uuid,
    caller: &Caller,
) -> Result<OperatorView, E>
where
    E: From<StoreError> + From<Rejection>,
{
    apply_as_operator(store, identity, caller, |view| {
        Ok(Decision::nothing(view.clone()))
    })
    .await
}
