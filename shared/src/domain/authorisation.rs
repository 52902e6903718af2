//! Who may act on an organisation (OWASP API1: nothing is served by id alone): the rules, on
//! what one read of the organisation returned. Storage reads the [`Snapshot`]; these functions
//! decide.

use uuid::Uuid;

use super::ledger::ResourceLedger;
use super::member::{Member, Role};
use super::organisation::Organisation;
use super::quotas::QuotaOverrides;
use super::records::EmailLookup;
use super::{Caller, Rejection, Slug, OPERATOR_SCOPE};

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Every member may read.
    Read,
    /// Change settings and members, delete the organisation: admins only.
    Administer,
}

impl Permission {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Self::Read => true,
            Self::Administer => role == Role::Admin,
        }
    }
}

/// What a read of an organisation fetches besides the profile and the caller's membership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// The resource ledger (delete guard, compute information, validation status).
    pub ledger: bool,
    /// The operator's quota overrides.
    pub quotas: bool,
    /// Another member, by identity (member removal).
    pub member: Option<Uuid>,
    /// Every member and invitation (the pending-invitation cap of a member add): a Query of the
    /// partition, sent at the same time as the BatchGet.
    pub members: bool,
}

impl Reads {
    /// The profile and membership, with the resource ledger.
    pub fn with_ledger() -> Self {
        Self {
            ledger: true,
            ..Self::default()
        }
    }
}

/// One read of an organisation: the profile, the caller's membership (by token subject) or the
/// invitation for the caller's verified e-mail, and what [`Reads`] asked for.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub organisation: Organisation,
    pub member: Option<Member>,
    pub invitation: Option<EmailLookup>,
    pub ledger: ResourceLedger,
    pub quota_overrides: QuotaOverrides,
    pub target_member: Option<Member>,
    /// What [`Reads::members`] asked for (empty when not asked).
    pub members: Vec<Member>,
}

/// An authorised caller with what was read to authorise them: what decisions start from.
#[derive(Debug, Clone)]
pub struct Access {
    pub caller: Caller,
    pub organisation: Organisation,
    pub member: Member,
    pub ledger: ResourceLedger,
    pub quota_overrides: QuotaOverrides,
    /// The member asked for with [`Reads::member`], if it exists in this organisation.
    pub target_member: Option<Member>,
    /// The members asked for with [`Reads::members`].
    pub members: Vec<Member>,
}

/// How the caller is a member.
#[derive(Debug, Clone, PartialEq)]
pub enum Membership {
    Member(Member),
    /// Not yet bound: the caller's verified e-mail was invited; the invitation (this member
    /// identity) is claimed on first use.
    Invited(Uuid),
}

/// The caller is a member, or holds an unclaimed invitation; else 403. (The role is checked by
/// [`permit`], after a claim.)
pub fn membership(snapshot: &Snapshot, slug: &Slug) -> Result<Membership, Rejection> {
    match (&snapshot.member, &snapshot.invitation) {
        (Some(member), _) => Ok(Membership::Member(member.clone())),
        (None, Some(invitation)) if invitation.subject.is_none() => {
            Ok(Membership::Invited(invitation.member_identity))
        }
        (None, _) => Err(Rejection::Forbidden(format!(
            "You are not a member of organisation '{slug}'."
        ))),
    }
}

/// The member's role allows `permission`; else 403.
pub fn permit(member: &Member, permission: Permission, slug: &Slug) -> Result<(), Rejection> {
    if permission.allows(member.role) {
        Ok(())
    } else {
        Err(Rejection::Forbidden(format!(
            "Only admins of organisation '{slug}' may do this; your role is {}.",
            member.role.as_str()
        )))
    }
}

/// 404 for an organisation that does not exist.
pub fn no_such_organisation(slug: &Slug) -> Rejection {
    Rejection::NotFound(format!("Organisation '{slug}' does not exist."))
}

/// The operator plane (`/admin/v1/orgs/...`) is for platform operators only: the token must
/// grant the [`OPERATOR_SCOPE`] and name the operator group; else 403, whatever organisations the caller is a member of (a
/// membership, even as admin, grants nothing here, and no operator is a member by being one).
pub fn operate(caller: &Caller) -> Result<(), Rejection> {
    if caller.operator {
        Ok(())
    } else {
        Err(Rejection::Forbidden(format!(
            "Only platform operators may do this: the token must grant the scope '{OPERATOR_SCOPE}' to a member of the operator group."
        )))
    }
}

/// 404 for an organisation identity that names no organisation (never was, or deleted).
pub fn no_organisation_with_identity(identity: Uuid) -> Rejection {
    Rejection::NotFound(format!("No organisation has the identity {identity}."))
}

impl Access {
    /// The access of an authorised `member`, from `snapshot`. After a claim the claimed member
    /// may be the one asked for: it is read as bound.
    pub fn new(caller: Caller, snapshot: Snapshot, member: Member) -> Self {
        let target_member = snapshot.target_member.map(|target| {
            if target.identity == member.identity {
                member.clone()
            } else {
                target
            }
        });
        Self {
            caller,
            organisation: snapshot.organisation,
            member,
            ledger: snapshot.ledger,
            quota_overrides: snapshot.quota_overrides,
            target_member,
            members: snapshot.members,
        }
    }
}
