//! The one authorisation mechanism of the API (OWASP API1: nothing is served by id alone).
//!
//! Every organisation endpoint calls [`authorise`]: it authenticates the caller, reads the
//! organisation and the caller's membership in one round trip, and decides by role. Writes then
//! carry [`Store::membership_guard`] in their transaction, so a membership removed between the
//! read and the write stops the write.

use lambda_http::Request;

use crate::app::App;
use crate::auth::{authenticate, Caller};
use crate::domain::ledger::ResourceLedger;
use crate::domain::member::{Member, Role};
use crate::domain::organisation::Organisation;
use crate::domain::Slug;
use crate::error::ApiError;
use crate::storage::Store;

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
}

/// What [`authorise`] should read besides the profile and the membership.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reads {
    pub ledger: bool,
}

pub fn caller(app: &App, request: &Request) -> Result<Caller, ApiError> {
    authenticate(request, app.local_jwt.as_ref())
}

/// 404 when the organisation does not exist, 403 when the caller is not a member or their role
/// does not allow `permission`.
pub async fn authorise(
    store: &Store,
    caller: Caller,
    slug: &Slug,
    permission: Permission,
    reads: Reads,
) -> Result<Access, ApiError> {
    let snapshot = store
        .snapshot(slug, &caller, reads.ledger)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Organisation '{slug}' does not exist.")))?;
    let Some(member) = snapshot.member else {
        return Err(ApiError::Forbidden(format!(
            "You are not a member of organisation '{slug}'."
        )));
    };
    if !permission.allows(member.role) {
        return Err(ApiError::Forbidden(format!(
            "Only admins of organisation '{slug}' may do this; your role is {}.",
            member.role.as_str()
        )));
    }
    Ok(Access {
        caller,
        organisation: snapshot.organisation,
        member,
        ledger: snapshot.ledger,
    })
}
