//! Table tests of the membership decisions: add, remove (never the last admin) and the claim
//! of an invitation on first use.

use super::*;
use crate::domain::change::{IfNot, Profile};
use crate::domain::decisions::fixtures::{
    access, assert_rejected, caller, member, now, puts, shapes, updated,
};

#[test]
fn adding_a_member_inserts_its_records_and_counts_only_joined_admins() {
    struct Case {
        name: &'static str,
        role: Role,
        joined: bool,
        with_email: bool,
        admins_after: u32,
        writes: Vec<&'static str>,
        message: &'static str,
    }
    const MEMBER: &str = "put Member if Absent else retry";
    const BY_SUBJECT: &str = "put MemberBySubject if Anything else retry";
    const BY_EMAIL: &str = "put MemberByEmail if Absent else refuse MemberEmailTaken";
    let cases = [
        Case {
            name: "an invited developer",
            role: Role::Developer,
            joined: false,
            with_email: true,
            admins_after: 1,
            writes: vec![MEMBER, BY_EMAIL],
            message: "alice@example.com added bob@example.com as developer",
        },
        Case {
            name: "an invited admin is not an admin until it joins",
            role: Role::Admin,
            joined: false,
            with_email: true,
            admins_after: 1,
            writes: vec![MEMBER, BY_EMAIL],
            message: "added bob@example.com as admin",
        },
        Case {
            name: "a joined admin",
            role: Role::Admin,
            joined: true,
            with_email: true,
            admins_after: 2,
            writes: vec![MEMBER, BY_SUBJECT, BY_EMAIL],
            message: "as admin",
        },
        Case {
            name: "a joined viewer",
            role: Role::Viewer,
            joined: true,
            with_email: true,
            admins_after: 1,
            writes: vec![MEMBER, BY_SUBJECT, BY_EMAIL],
            message: "as viewer",
        },
        Case {
            name: "a member without an address has no e-mail lookup",
            role: Role::BillingAdmin,
            joined: true,
            with_email: false,
            admins_after: 1,
            writes: vec![MEMBER, BY_SUBJECT],
            message: "alice@example.com added  as billing-admin",
        },
    ];
    for case in cases {
        let access = access();
        let mut bob = member("bob", case.role, case.joined);
        if !case.with_email {
            bob.email = None;
        }
        let change = add_member(&access, &bob, now());
        let (after, read) = updated(&change);
        assert_eq!(
            (read, after.revision),
            (1, 2),
            "{}: next revision",
            case.name
        );
        assert_eq!(
            after.admin_count, case.admins_after,
            "{}: admin count",
            case.name
        );
        assert_eq!(shapes(&change), case.writes, "{}: writes", case.name);
        assert_eq!(
            puts(&change)[0],
            &Record::Member(bob.clone()),
            "{}: the member as added",
            case.name
        );
        let event = change.activity.as_ref().unwrap();
        assert_eq!(event.event_type, ActivityType::MemberAdded, "{}", case.name);
        assert!(
            event.message.contains(case.message),
            "{}: {}",
            case.name,
            event.message
        );
        let outbound = event.outbound.as_ref().unwrap();
        assert_eq!(outbound.revision, 2, "{}: outbound revision", case.name);
        assert_eq!(
            outbound.events[0].detail_type,
            DetailType::MemberAdded,
            "{}",
            case.name
        );
    }
}

#[test]
fn removing_a_member_never_removes_the_last_admin() {
    struct Case {
        name: &'static str,
        admins: u32,
        target: Option<Member>,
        /// Ok: admins after and writes; Err: rejection kind and gist.
        expected: Result<(u32, Vec<&'static str>), (&'static str, &'static str)>,
    }
    const MEMBER: &str = "remove Member if Present else retry";
    const BY_EMAIL: &str = "remove MemberByEmail if Anything else retry";
    const BY_SUBJECT: &str = "remove MemberBySubject if Anything else retry";
    let mut subjectless_viewer = member("carol", Role::Viewer, true);
    subjectless_viewer.email = None;
    let cases = [
        Case {
            name: "no such member",
            admins: 2,
            target: None,
            expected: Err(("not found", "does not exist in organisation 'acme'")),
        },
        Case {
            name: "the last joined admin",
            admins: 1,
            target: Some(member("bob", Role::Admin, true)),
            expected: Err((
                "invalid",
                "bob@example.com is the last admin of organisation 'acme'",
            )),
        },
        Case {
            name: "one of two admins",
            admins: 2,
            target: Some(member("bob", Role::Admin, true)),
            expected: Ok((1, vec![MEMBER, BY_EMAIL, BY_SUBJECT])),
        },
        Case {
            name: "an invited admin while one admin is left",
            admins: 1,
            target: Some(member("bob", Role::Admin, false)),
            expected: Ok((1, vec![MEMBER, BY_EMAIL])),
        },
        Case {
            name: "a developer while one admin is left",
            admins: 1,
            target: Some(member("bob", Role::Developer, true)),
            expected: Ok((1, vec![MEMBER, BY_EMAIL, BY_SUBJECT])),
        },
        Case {
            name: "a member without an address",
            admins: 1,
            target: Some(subjectless_viewer),
            expected: Ok((1, vec![MEMBER, BY_SUBJECT])),
        },
    ];
    for case in cases {
        let mut access = access();
        access.organisation.admin_count = case.admins;
        access.target_member = case.target.clone();
        let identity = case
            .target
            .as_ref()
            .map_or_else(uuid::Uuid::new_v4, |m| m.identity);
        let result = remove_member(&access, identity, now());
        match case.expected {
            Err((kind, says)) => assert_rejected(case.name, &result, kind, says),
            Ok((admins, writes)) => {
                let change = result.unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
                let (after, read) = updated(&change);
                assert_eq!(
                    (read, after.revision, after.admin_count),
                    (1, 2, admins),
                    "{}",
                    case.name
                );
                assert_eq!(shapes(&change), writes, "{}: writes", case.name);
                let target = case.target.unwrap();
                assert_eq!(
                    change.writes[0].operation,
                    crate::domain::change::Operation::Remove(RecordKey::Member(target.identity)),
                    "{}",
                    case.name
                );
                let event = change.activity.as_ref().unwrap();
                assert_eq!(
                    event.event_type,
                    ActivityType::MemberRemoved,
                    "{}",
                    case.name
                );
                assert!(
                    event
                        .message
                        .contains(&format!("({})", target.role.as_str())),
                    "{}: {}",
                    case.name,
                    event.message
                );
                assert_eq!(
                    event.outbound.as_ref().map(|o| o.revision),
                    Some(2),
                    "{}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn claiming_an_invitation_binds_it_to_the_caller() {
    struct Case {
        name: &'static str,
        role: Role,
        invited_email: bool,
        invited_username: Option<&'static str>,
        caller_verified: bool,
        admins_after: u32,
        writes: Vec<&'static str>,
        username: &'static str,
    }
    const BY_EMAIL: &str = "put MemberByEmail if Unclaimed else retry";
    const MEMBER: &str = "put Member if Present else retry";
    const BY_SUBJECT: &str = "put MemberBySubject if Absent else retry";
    let cases = [
        Case {
            name: "a developer's invitation",
            role: Role::Developer,
            invited_email: true,
            invited_username: None,
            caller_verified: true,
            admins_after: 1,
            writes: vec![BY_EMAIL, MEMBER, BY_SUBJECT],
            username: "dave",
        },
        Case {
            name: "an admin's invitation counts the admin on joining",
            role: Role::Admin,
            invited_email: true,
            invited_username: None,
            caller_verified: true,
            admins_after: 2,
            writes: vec![BY_EMAIL, MEMBER, BY_SUBJECT],
            username: "dave",
        },
        Case {
            name: "the invitation's username is kept",
            role: Role::Viewer,
            invited_email: true,
            invited_username: Some("d.smith"),
            caller_verified: true,
            admins_after: 1,
            writes: vec![BY_EMAIL, MEMBER, BY_SUBJECT],
            username: "d.smith",
        },
        Case {
            name: "an invitation without an address takes the caller's verified one",
            role: Role::Viewer,
            invited_email: false,
            invited_username: None,
            caller_verified: true,
            admins_after: 1,
            writes: vec![BY_EMAIL, MEMBER, BY_SUBJECT],
            username: "dave",
        },
        Case {
            name: "no address at all: no e-mail lookup",
            role: Role::Viewer,
            invited_email: false,
            invited_username: None,
            caller_verified: false,
            admins_after: 1,
            writes: vec![MEMBER, BY_SUBJECT],
            username: "dave",
        },
    ];
    for case in cases {
        let organisation = access().organisation;
        let mut invited = member("dave", case.role, false);
        invited.username = case.invited_username.map(str::to_owned);
        if !case.invited_email {
            invited.email = None;
        }
        let mut dave = caller("dave");
        dave.email_verified = case.caller_verified;
        let (change, bound) = claim_invitation(&organisation, &dave, invited.clone(), now());
        assert_eq!(
            bound.identity, invited.identity,
            "{}: the same membership",
            case.name
        );
        assert_eq!(
            bound.subject.as_ref(),
            Some(&dave.subject),
            "{}: bound to the caller",
            case.name
        );
        assert_eq!(
            (bound.role, bound.username.as_deref()),
            (case.role, Some(case.username)),
            "{}",
            case.name
        );
        let (after, read) = updated(&change);
        assert_eq!(
            (read, after.revision, after.admin_count),
            (1, 2, case.admins_after),
            "{}",
            case.name
        );
        assert_eq!(shapes(&change), case.writes, "{}: writes", case.name);
        assert!(
            change.writes.iter().all(|w| w.if_not == IfNot::Retry),
            "{}: a lost race reads again",
            case.name
        );
        for record in puts(&change) {
            match record {
                Record::Member(m) | Record::MemberBySubject(m) => {
                    assert_eq!(m, &bound, "{}", case.name)
                }
                Record::MemberByEmail(lookup) => {
                    assert_eq!(
                        (lookup.member_identity, lookup.subject.as_ref()),
                        (bound.identity, Some(&dave.subject)),
                        "{}",
                        case.name
                    );
                    assert_eq!(lookup.email.as_str(), "dave@example.com", "{}", case.name);
                }
                other => panic!("{}: unexpected {other:?}", case.name),
            }
        }
        let event = change.activity.as_ref().unwrap();
        assert_eq!(
            event.event_type,
            ActivityType::MemberJoined,
            "{}",
            case.name
        );
        assert!(
            event
                .message
                .ends_with(&format!("joined as {}", case.role.as_str())),
            "{}: {}",
            case.name,
            event.message
        );
        let outbound = event.outbound.as_ref().unwrap();
        assert_eq!(
            (outbound.revision, outbound.events[0].detail_type),
            (2, DetailType::MemberJoined),
            "{}",
            case.name
        );
        assert!(!matches!(change.profile, Profile::Exists), "{}", case.name);
    }
}
