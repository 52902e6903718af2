//! Members: add, remove, and the claim of an invitation on first use.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::activity::{ActivityEvent, ActivityType, Actor, DetailType};
use crate::domain::authorisation::Access;
use crate::domain::change::{member_writes, Change, Expect, Record, RecordKey, Write};
use crate::domain::member::{Member, Role};
use crate::domain::organisation::Organisation;
use crate::domain::outbound::*;
use crate::domain::{Caller, Email, Rejection};

/// The profile after a membership change: the admin count moved ([`Change::update`] gives it
/// the next revision).
pub(crate) fn with_admins(organisation: &Organisation, admin_delta: i64) -> Organisation {
    let mut next = organisation.clone();
    next.admin_count = u32::try_from(i64::from(next.admin_count) + admin_delta).unwrap_or(0);
    next
}

/// Adds `member` (an invitation: no subject yet). Its e-mail address must not hold another
/// membership ([`Refusal::MemberEmailTaken`](crate::domain::change::Refusal::MemberEmailTaken)).
pub fn add_member(access: &Access, member: &Member, now: DateTime<Utc>) -> Change {
    let actor = Actor::user(&access.caller);
    let email = member.email.as_ref().map(Email::as_str).unwrap_or_default();
    let event = ActivityEvent::new(
        ActivityType::MemberAdded,
        actor.clone(),
        format!(
            "{} added {email} as {}",
            actor.display_name(),
            member.role.as_str()
        ),
        now,
    );
    // An invitation is not an admin until it is claimed: `admin_count` counts joined admins.
    let admin_delta = i64::from(member.role == Role::Admin && member.subject.is_some());
    let next = with_admins(&access.organisation, admin_delta);
    let event = event.with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::MemberAdded,
        member,
        now,
    ));
    Change::update(&access.organisation, next, event).with_all(member_writes(member))
}

/// Removes the member read as [`Access::target_member`], never the last admin.
pub fn remove_member(
    access: &Access,
    identity: Uuid,
    now: DateTime<Utc>,
) -> Result<Change, Rejection> {
    let slug = &access.organisation.slug;
    let member = access.target_member.as_ref().ok_or_else(|| {
        Rejection::NotFound(format!(
            "Member {identity} does not exist in organisation '{slug}'."
        ))
    })?;
    let joined_admin = member.role == Role::Admin && member.subject.is_some();
    if joined_admin && access.organisation.admin_count <= 1 {
        return Err(Rejection::invalid(format!(
            "{} is the last admin of organisation '{slug}'; make another member admin first.",
            member
                .email
                .as_ref()
                .map(Email::as_str)
                .unwrap_or("This member")
        )));
    }
    let actor = Actor::user(&access.caller);
    let removed = member
        .email
        .as_ref()
        .map(Email::as_str)
        .or(member.username.as_deref())
        .unwrap_or("a member");
    let event = ActivityEvent::new(
        ActivityType::MemberRemoved,
        actor.clone(),
        format!(
            "{} removed {removed} ({})",
            actor.display_name(),
            member.role.as_str()
        ),
        now,
    );
    let admin_delta = -i64::from(joined_admin);
    let next = with_admins(&access.organisation, admin_delta);
    let event = event.with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::MemberRemoved,
        member,
        now,
    ));
    let mut change = Change::update(&access.organisation, next, event).with(Write::remove(
        RecordKey::Member(member.identity),
        Expect::Present,
    ));
    if let Some(email) = &member.email {
        change = change.with(Write::remove(
            RecordKey::MemberByEmail(email.clone()),
            Expect::Anything,
        ));
    }
    if let Some(subject) = &member.subject {
        change = change.with(Write::remove(
            RecordKey::MemberBySubject(subject.clone()),
            Expect::Anything,
        ));
    }
    Ok(change)
}

/// Binds the invitation `invited` (found by the caller's verified e-mail) to the caller: the
/// first use of an invitation. Returns the change and the bound member.
pub fn claim_invitation(
    organisation: &Organisation,
    caller: &Caller,
    invited: Member,
    now: DateTime<Utc>,
) -> (Change, Member) {
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
        now,
    );
    let email = bound
        .email
        .clone()
        .or_else(|| caller.verified_email().cloned());
    let admin_delta = i64::from(bound.role == Role::Admin);
    let next = with_admins(organisation, admin_delta);
    let event = event.with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::MemberJoined,
        &bound,
        now,
    ));
    let mut change = Change::update(organisation, next, event);
    if let Some(email) = email {
        change = change.with(Write::put(
            Record::MemberByEmail(crate::domain::records::EmailLookup {
                email,
                member_identity: bound.identity,
                subject: bound.subject.clone(),
            }),
            Expect::Unclaimed,
        ));
    }
    let change = change
        .with(Write::put(Record::Member(bound.clone()), Expect::Present))
        .with(Write::insert(Record::MemberBySubject(bound.clone())));
    (change, bound)
}

#[cfg(test)]
#[path = "members_tests.rs"]
mod table_tests;
