//! A user's memberships across organisations, and the decisions of the invitation journey:
//! listing (`GET /api/v1/memberships`), accepting, declining or leaving, an admin's role change,
//! invitation expiry. Pure: storage reads, these decide, storage writes one transaction.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::activity::{ActivityEvent, ActivityType, Actor, DetailType};
use super::authorisation::Access;
use super::budgets::{AddressMailCounter, MAILS_PER_ADDRESS_PER_HOUR};
use super::change::{Change, Decision, Expect, Record, RecordKey, Write};
use super::decisions::{
    claim_invitation, count_mail, too_many, with_admins, Limits, MailCount, RESEND_INTERVAL,
};
use super::input::{collect, finish, Field, RequestBody};
use super::member::{Invitation, KubernetesRole, Member, MemberResponse, Role};
use super::organisation::Organisation;
use super::outbound::member_outbound;
use super::verification::address_hash;
use super::{Caller, Email, FieldError, Rejection, Slug};

/// How long an invitation may be claimed, unless configured otherwise (`INVITATION_TTL_DAYS`).
pub const DEFAULT_INVITATION_TTL_DAYS: u32 = 14;

/// Pending invitations one organisation may hold, unless configured otherwise
/// (`MAX_PENDING_INVITATIONS_PER_ORGANISATION`).
pub const DEFAULT_MAX_PENDING_INVITATIONS: u32 = 500;

/// Where a membership stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MembershipStatus {
    /// Bound to a token subject.
    Active,
    /// An invitation that may still be claimed.
    Invited,
    /// An invitation past its expiry: never claimed; an admin may remove or re-send it.
    Expired,
}

impl Member {
    /// Where this membership stands at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> MembershipStatus {
        match (&self.subject, self.invitation) {
            (Some(_), _) => MembershipStatus::Active,
            (None, Some(invitation)) if invitation.expires_at <= now => MembershipStatus::Expired,
            (None, _) => MembershipStatus::Invited,
        }
    }

    /// When the membership began for its owner: joined, or (while invited) invited.
    pub fn since(&self) -> DateTime<Utc> {
        match (&self.subject, self.invitation) {
            (None, Some(invitation)) => invitation.invited_at,
            _ => self.joined_at,
        }
    }
}

/// The invitation of a member added at `now`, claimable for `ttl_days`.
pub fn invitation_terms(now: DateTime<Utc>, ttl_days: u32) -> Invitation {
    Invitation {
        invited_at: now,
        expires_at: now + Duration::days(i64::from(ttl_days)),
    }
}

/// An item of the members list: the contract's member with where it stands.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberListItem<'a> {
    #[serde(flatten)]
    pub member: MemberResponse<'a>,
    pub status: MembershipStatus,
    pub invited_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl<'a> MemberListItem<'a> {
    pub fn new(member: &'a Member, now: DateTime<Utc>) -> Self {
        let status = member.status(now);
        Self {
            member: MemberResponse::from(member),
            status,
            invited_at: member.invitation.map(|i| i.invited_at),
            expires_at: member
                .invitation
                .filter(|_| status != MembershipStatus::Active)
                .map(|i| i.expires_at),
        }
    }
}

/// An item of `GET /api/v1/memberships`, as the platform's Go client decodes it (`slug` a plain
/// string).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipItem<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub slug: &'a str,
    pub email: Option<&'a str>,
    pub role: Role,
    pub kubernetes_role: KubernetesRole,
    pub status: MembershipStatus,
    pub joined_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl<'a> MembershipItem<'a> {
    pub fn new(organisation: &'a Organisation, member: &'a Member, now: DateTime<Utc>) -> Self {
        let status = member.status(now);
        let active = status == MembershipStatus::Active;
        Self {
            id: organisation.identity,
            name: organisation.name.as_str(),
            slug: organisation.slug.as_str(),
            email: member.email.as_ref().map(Email::as_str),
            role: member.role,
            kubernetes_role: member.kubernetes_role,
            status,
            joined_at: active.then_some(member.joined_at),
            invited_at: member.invitation.map(|i| i.invited_at),
            expires_at: member.invitation.filter(|_| !active).map(|i| i.expires_at),
        }
    }
}

/// The caller's memberships in the order they are listed (oldest first): those bound to their
/// subject, and the unexpired invitations to their verified address in organisations they are
/// not already a member of.
pub fn listed(
    active: Vec<(Slug, Member)>,
    invited: Vec<(Slug, Member)>,
    now: DateTime<Utc>,
) -> Vec<(Slug, Member)> {
    let mut all: Vec<(Slug, Member)> = invited
        .into_iter()
        .filter(|(slug, member)| {
            member.status(now) == MembershipStatus::Invited
                && !active.iter().any(|(s, _)| s == slug)
        })
        .collect();
    all.extend(
        active
            .into_iter()
            .filter(|(_, m)| m.status(now) == MembershipStatus::Active),
    );
    all.sort_by(|(a_slug, a), (b_slug, b)| {
        a.since()
            .cmp(&b.since())
            .then_with(|| a_slug.as_str().cmp(b_slug.as_str()))
            .then_with(|| a.identity.cmp(&b.identity))
    });
    all
}

/// What the caller holds in one organisation, as read for accept / decline / leave.
#[derive(Debug, Clone)]
pub struct Standing {
    pub organisation: Organisation,
    /// The caller's membership by subject.
    pub member: Option<Member>,
    /// The unclaimed membership the caller's verified address was invited to.
    pub invitation: Option<Member>,
}

fn no_invitation(organisation: &Organisation) -> Rejection {
    Rejection::NotFound(format!(
        "You have no invitation to organisation {} for a verified e-mail address.",
        organisation.identity
    ))
}

/// `POST /api/v1/memberships/{organisationIdentity}/accept`: the caller's membership, claimed
/// now if it is an invitation (the same claim as on first use). Already joined: nothing to
/// write. No invitation for the caller's verified address: 404; an expired one: 410.
pub fn accept(
    standing: &Standing,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Decision<(Organisation, Member)>, Rejection> {
    if let Some(member) = &standing.member {
        return Ok(Decision::nothing((
            standing.organisation.clone(),
            member.clone(),
        )));
    }
    let invited = standing
        .invitation
        .as_ref()
        .ok_or_else(|| no_invitation(&standing.organisation))?;
    if invited.status(now) == MembershipStatus::Expired {
        return Err(Rejection::Gone(format!(
            "Your invitation to organisation {} has expired; ask an admin to send it again.",
            standing.organisation.identity
        )));
    }
    let (change, bound) = claim_invitation(&standing.organisation, caller, invited.clone(), now);
    let organisation = change.profile_after(&standing.organisation);
    Ok(Decision::write(change, (organisation, bound)))
}

/// The writes that remove `member` and its lookups.
fn removal(member: &Member) -> Vec<Write> {
    let mut writes = vec![Write::remove(
        RecordKey::Member(member.identity),
        Expect::Present,
    )];
    if let Some(email) = &member.email {
        writes.push(Write::remove(
            RecordKey::MemberByEmail(email.clone()),
            Expect::Anything,
        ));
    }
    if let Some(subject) = &member.subject {
        writes.push(Write::remove(
            RecordKey::MemberBySubject(subject.clone()),
            Expect::Anything,
        ));
    }
    writes
}

/// `DELETE /api/v1/memberships/{organisationIdentity}`: the caller leaves (never the last
/// joined admin), or declines their invitation (expired or not). Neither: 404.
pub fn leave_or_decline(
    standing: &Standing,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Change, Rejection> {
    let organisation = &standing.organisation;
    let slug = &organisation.slug;
    let actor = Actor::user(caller);
    if let Some(member) = &standing.member {
        let joined_admin = member.role == Role::Admin;
        if joined_admin && organisation.admin_count <= 1 {
            return Err(Rejection::invalid(format!(
                "You are the last admin of organisation '{slug}'; make another member admin first."
            )));
        }
        let next = with_admins(organisation, -i64::from(joined_admin));
        let event = ActivityEvent::new(
            ActivityType::MemberLeft,
            actor.clone(),
            format!("{} left ({})", actor.display_name(), member.role.as_str()),
            now,
        )
        .with_outbound(member_outbound(
            &next,
            &actor,
            DetailType::MemberLeft,
            member,
            now,
        ));
        return Ok(Change::update(organisation, next, event).with_all(removal(member)));
    }
    let invited = standing
        .invitation
        .as_ref()
        .ok_or_else(|| no_invitation(organisation))?;
    let next = organisation.clone();
    let event = ActivityEvent::new(
        ActivityType::InvitationDeclined,
        actor.clone(),
        format!(
            "{} declined the invitation as {}",
            actor.display_name(),
            invited.role.as_str()
        ),
        now,
    )
    .with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::InvitationDeclined,
        invited,
        now,
    ));
    let mut writes = removal(invited);
    // Declined only while still unclaimed: a concurrent accept makes it a leave instead.
    if let Some(email) = &invited.email {
        writes[1] = Write::remove(RecordKey::MemberByEmail(email.clone()), Expect::Unclaimed);
    }
    Ok(Change::update(organisation, next, event).with_all(writes))
}

/// The body of `PATCH .../members/{memberIdentity}` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PatchMemberBody {
    pub role: Field<String>,
    pub kubernetes_role: Field<String>,
}

impl RequestBody for PatchMemberBody {
    const FIELDS: &'static [&'static str] = &["role", "kubernetesRole"];
    const READ_ONLY: &'static [&'static str] =
        &["identity", "joinedAt", "subject", "email", "username"];
}

/// A validated role change: the roles to set (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleChange {
    pub role: Option<Role>,
    pub kubernetes_role: Option<KubernetesRole>,
}

impl TryFrom<PatchMemberBody> for RoleChange {
    type Error = Vec<FieldError>;

    fn try_from(body: PatchMemberBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let role = body
            .role
            .text("role", &mut errors)
            .and_then(|r| collect(Role::parse("role", r), &mut errors));
        let kubernetes_role = body
            .kubernetes_role
            .text("kubernetesRole", &mut errors)
            .and_then(|k| collect(KubernetesRole::parse("kubernetesRole", k), &mut errors));
        if errors.is_empty() && role.is_none() && kubernetes_role.is_none() {
            errors.push(FieldError::new(
                "body",
                "must set role or kubernetesRole (or both)",
            ));
        }
        finish(
            Some(Self {
                role,
                kubernetes_role,
            }),
            errors,
        )
    }
}

/// An admin's change of the member read as [`Access::target_member`]: nothing to write when it
/// changes nothing; never demotes the last joined admin (400).
pub fn change_role(
    access: &Access,
    identity: Uuid,
    wanted: RoleChange,
    now: DateTime<Utc>,
) -> Result<Decision<Member>, Rejection> {
    let slug = &access.organisation.slug;
    let before = access.target_member.as_ref().ok_or_else(|| {
        Rejection::NotFound(format!(
            "Member {identity} does not exist in organisation '{slug}'."
        ))
    })?;
    let after = Member {
        role: wanted.role.unwrap_or(before.role),
        kubernetes_role: wanted.kubernetes_role.unwrap_or(before.kubernetes_role),
        ..before.clone()
    };
    if after == *before {
        return Ok(Decision::nothing(after));
    }
    let joined = before.subject.is_some();
    let was_admin = joined && before.role == Role::Admin;
    let is_admin = joined && after.role == Role::Admin;
    if was_admin && !is_admin && access.organisation.admin_count <= 1 {
        return Err(Rejection::invalid(format!(
            "{} is the last admin of organisation '{slug}'; make another member admin first.",
            before
                .email
                .as_ref()
                .map(Email::as_str)
                .unwrap_or("This member")
        )));
    }
    let actor = Actor::user(&access.caller);
    let who = before
        .email
        .as_ref()
        .map(Email::as_str)
        .or(before.username.as_deref())
        .unwrap_or("a member");
    let next = with_admins(
        &access.organisation,
        i64::from(is_admin) - i64::from(was_admin),
    );
    let outbound = super::activity::Outbound::new(&next, &actor, now).event(
        DetailType::MemberUpdated,
        serde_json::json!({
            "memberIdentity": after.identity,
            "role": after.role.as_str(),
            "kubernetesRole": after.kubernetes_role.as_str(),
            "previousRole": before.role.as_str(),
            "previousKubernetesRole": before.kubernetes_role.as_str(),
        }),
    );
    let event = ActivityEvent::new(
        ActivityType::MemberUpdated,
        actor.clone(),
        format!(
            "{} changed {who} from {}/{} to {}/{}",
            actor.display_name(),
            before.role.as_str(),
            before.kubernetes_role.as_str(),
            after.role.as_str(),
            after.kubernetes_role.as_str()
        ),
        now,
    )
    .with_outbound(outbound);
    let mut change = Change::update(&access.organisation, next, event)
        .with(Write::put(Record::Member(after.clone()), Expect::Present));
    if joined {
        change = change.with(Write::put(
            Record::MemberBySubject(after.clone()),
            Expect::Present,
        ));
    }
    Ok(Decision::write(change, after))
}

/// At most `limit` pending (unexpired) invitations among `members`; else 400.
pub fn may_invite(members: &[Member], limit: u32, now: DateTime<Utc>) -> Result<(), Rejection> {
    let pending = members
        .iter()
        .filter(|m| m.status(now) == MembershipStatus::Invited)
        .count();
    if pending >= usize::try_from(limit).unwrap_or(usize::MAX) {
        return Err(Rejection::Invalid {
            message: format!(
                "This organisation has {pending} pending invitations, the most it may have \
                 (MAX_PENDING_INVITATIONS_PER_ORGANISATION = {limit}); remove or wait for some \
                 before inviting more."
            ),
            details: vec![FieldError::new("email", "too many pending invitations").to_string()],
        });
    }
    Ok(())
}

/// `POST .../members/{memberIdentity}/invitation/resend` (admins): the invitation (expired or
/// not) gets a new expiry and a new mail, counted against the organisation's mail budgets as
/// verification mails are (429 within [`RESEND_INTERVAL`] of the last mail to the address from
/// this organisation, past its hourly share for the address or the address's share from all
/// organisations, or past the daily budget). 404 for no such member, 400 once joined.
pub fn resend_invitation(
    access: &Access,
    identity: Uuid,
    limits: Limits,
    ttl_days: u32,
    now: DateTime<Utc>,
) -> Result<Decision<Member>, Rejection> {
    let organisation = &access.organisation;
    let slug = &organisation.slug;
    let member = access.target_member.as_ref().ok_or_else(|| {
        Rejection::NotFound(format!(
            "Member {identity} does not exist in organisation '{slug}'."
        ))
    })?;
    if member.subject.is_some() {
        return Err(Rejection::invalid(format!(
            "Member {identity} has already joined organisation '{slug}'; there is no invitation to send."
        )));
    }
    let email = member.email.as_ref().ok_or_else(|| {
        Rejection::invalid(format!(
            "Member {identity} has no e-mail address to send to."
        ))
    })?;
    let to = address_hash(email);
    let (_, last) = organisation.mails_sent.to_address(&to, now);
    if let Some(wait) = last.map(|last| last + RESEND_INTERVAL - now) {
        if wait > Duration::zero() {
            return Err(too_many(
                "A mail went to this address less than 60 seconds ago.",
                wait,
            ));
        }
    }
    if let Some(frees_at) = organisation.mails_sent.address_frees_at(&to, now) {
        return Err(too_many(
            "This organisation sent its hourly share of mails to this address.",
            frees_at - now,
        ));
    }
    if limits.address_capped {
        return Err(Rejection::TooMany {
            message: format!(
                "This address had {MAILS_PER_ADDRESS_PER_HOUR} mails this hour; try again later."
            ),
            retry_after_seconds: AddressMailCounter::retry_after(now),
        });
    }
    let renewed = Member {
        invitation: Some(invitation_terms(now, ttl_days)),
        ..member.clone()
    };
    // The profile records the mail and is written at its revision (one write more): a claim or
    // removal decided concurrently moves it, and this is decided again.
    let mut next = organisation.clone();
    let counted = match count_mail(&mut next, email, limits, now)? {
        MailCount::Send(write) => Some(write),
        MailCount::Suppress => None,
    };
    let change = Change::rewrite(organisation, next)
        .with(Write::put(Record::Member(renewed.clone()), Expect::Present))
        .with_all(counted);
    Ok(Decision::write(change, renewed))
}

/// Adds `member` (an invitation) as [`super::decisions::add_member`] does, and counts its
/// invitation mail against the budgets: the answer is whether to send it (`false`: the address
/// had its share, the mail is suppressed; 429 when the organisation spent its daily budget).
pub fn invite_member(
    access: &Access,
    member: &Member,
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<Decision<bool>, Rejection> {
    let mut change = super::decisions::add_member(access, member, now);
    let Some(email) = &member.email else {
        return Ok(Decision::write(change, false));
    };
    let counted = change.edit_profile(|profile| count_mail(profile, email, limits, now));
    let send = match counted {
        Some(Ok(MailCount::Send(write))) => {
            change = change.with(write);
            true
        }
        Some(Ok(MailCount::Suppress)) | None => false,
        Some(Err(refused)) => return Err(refused),
    };
    Ok(Decision::write(change, send))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Subject;

    fn member(subject: Option<&str>, at: DateTime<Utc>, expires: Option<DateTime<Utc>>) -> Member {
        Member {
            identity: Uuid::new_v4(),
            email: Some(Email::parse("e", "bob@example.com").unwrap()),
            username: None,
            role: Role::Developer,
            kubernetes_role: KubernetesRole::None,
            subject: subject.and_then(Subject::parse),
            joined_at: at,
            invitation: expires.map(|expires_at| Invitation {
                invited_at: at,
                expires_at,
            }),
        }
    }

    #[test]
    fn expired_invitations_and_duplicates_are_not_listed_and_the_oldest_comes_first() {
        let now = Utc::now();
        let slug = |s: &str| Slug::parse(s).unwrap();
        let active = vec![
            (
                slug("b"),
                member(Some("bob"), now - Duration::days(2), None),
            ),
            (
                slug("a"),
                member(Some("bob"), now - Duration::days(1), None),
            ),
        ];
        let invited = vec![
            (
                slug("c"),
                member(None, now - Duration::days(3), Some(now + Duration::days(1))),
            ),
            (
                slug("d"),
                member(
                    None,
                    now - Duration::days(4),
                    Some(now - Duration::seconds(1)),
                ),
            ),
            // Invited again where already a member: listed once, as a member.
            (
                slug("a"),
                member(None, now - Duration::days(5), Some(now + Duration::days(1))),
            ),
        ];
        let slugs: Vec<String> = listed(active, invited, now)
            .into_iter()
            .map(|(s, _)| s.as_str().to_owned())
            .collect();
        assert_eq!(slugs, ["c", "b", "a"]);
    }
}
