//! Table tests of the revision rule as `Change`'s constructors hold it: a change clients see
//! takes the next revision (and its outbound events carry it), one they do not keeps it.

use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::activity::{ActivityType, Actor, Outbound};
use crate::domain::organisation::tests_support::organisation;

fn event(with_outbound: bool, before: &Organisation) -> ActivityEvent {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let event = ActivityEvent::new(
        ActivityType::OrganisationUpdated,
        Actor::system(),
        "m".into(),
        at,
    );
    if !with_outbound {
        return event;
    }
    let mut outbound = Outbound::new(before, &Actor::system(), at);
    // Whatever revision the decision built it with, the constructor stamps the written one.
    outbound.revision = 0;
    event.with_outbound(outbound)
}

#[derive(Debug, Clone, Copy)]
enum Constructor {
    Update,
    Rewrite,
    UpdateOrRewrite { with_event: bool },
    UpdateOrKeep { with_event: bool },
}

#[test]
fn the_constructors_hold_the_revision_rule() {
    struct Case {
        name: &'static str,
        constructor: Constructor,
        outbound: bool,
        /// `None`: the profile is left as it is (`Profile::Exists`); else the revision written.
        revision_after: Option<u64>,
        activity: bool,
    }
    let cases = [
        Case {
            name: "update",
            constructor: Constructor::Update,
            outbound: true,
            revision_after: Some(8),
            activity: true,
        },
        Case {
            name: "update without outbound events",
            constructor: Constructor::Update,
            outbound: false,
            revision_after: Some(8),
            activity: true,
        },
        Case {
            name: "rewrite",
            constructor: Constructor::Rewrite,
            outbound: false,
            revision_after: Some(7),
            activity: false,
        },
        Case {
            name: "update_or_rewrite with an event",
            constructor: Constructor::UpdateOrRewrite { with_event: true },
            outbound: true,
            revision_after: Some(8),
            activity: true,
        },
        Case {
            name: "update_or_rewrite without one",
            constructor: Constructor::UpdateOrRewrite { with_event: false },
            outbound: false,
            revision_after: Some(7),
            activity: false,
        },
        Case {
            name: "update_or_keep with an event",
            constructor: Constructor::UpdateOrKeep { with_event: true },
            outbound: true,
            revision_after: Some(8),
            activity: true,
        },
        Case {
            name: "update_or_keep without one",
            constructor: Constructor::UpdateOrKeep { with_event: false },
            outbound: false,
            revision_after: None,
            activity: false,
        },
    ];
    for case in cases {
        let mut before = organisation();
        before.revision = 7;
        let mut after = before.clone();
        after.admin_count = 3;
        // A decision's own idea of the revision does not count.
        after.revision = 42;
        let e = event(case.outbound, &before);
        let change = match case.constructor {
            Constructor::Update => Change::update(&before, after.clone(), e),
            Constructor::Rewrite => Change::rewrite(&before, after.clone()),
            Constructor::UpdateOrRewrite { with_event } => {
                Change::update_or_rewrite(&before, after.clone(), with_event.then_some(e))
            }
            Constructor::UpdateOrKeep { with_event } => {
                Change::update_or_keep(&before, after.clone(), with_event.then_some(e))
            }
        };
        let name = case.name;
        assert_eq!(change.slug, before.slug, "{name}: slug");
        assert!(
            change.writes.is_empty() && change.ledger.is_none(),
            "{name}"
        );
        assert_eq!(change.activity.is_some(), case.activity, "{name}: activity");
        match (case.revision_after, &change.profile) {
            (Some(revision), Profile::Update(update)) => {
                assert_eq!(
                    update.read_revision(),
                    7,
                    "{name}: guarded by the revision read"
                );
                assert_eq!(
                    update.organisation().revision,
                    revision,
                    "{name}: revision written"
                );
                assert_eq!(
                    update.organisation().admin_count,
                    3,
                    "{name}: the rest as decided"
                );
                assert_eq!(
                    change.profile_after(&before).revision,
                    revision,
                    "{name}: profile_after"
                );
            }
            (None, Profile::Exists) => {
                assert_eq!(
                    change.profile_after(&before),
                    before,
                    "{name}: profile_after is the profile read"
                );
            }
            (expected, profile) => {
                panic!("{name}: expected revision {expected:?}, got {profile:?}")
            }
        }
        if let Some(outbound) = change.activity.as_ref().and_then(|a| a.outbound.as_ref()) {
            assert_eq!(
                Some(outbound.revision),
                case.revision_after,
                "{name}: outbound events carry the written revision"
            );
        }
    }
}

#[test]
fn writes_are_kept_in_the_order_they_are_added() {
    let before = organisation();
    let first = Write::check(RecordKey::Ledger, Expect::LedgerClear);
    let second = Write::remove(RecordKey::EmailCode("h".into()), Expect::Anything)
        .or_refuse(Refusal::CodeUsed);
    let third = Write::insert(Record::PurgeMarker {
        deleted_at: before.created_at,
    });
    let change = Change::rewrite(&before, before.clone())
        .with(first.clone())
        .with_all([second.clone(), third.clone()]);
    assert_eq!(change.writes, [first, second, third]);
    assert_eq!(change.writes[1].if_not, IfNot::Refuse(Refusal::CodeUsed));
    assert_eq!(
        (change.writes[2].expect.clone(), change.writes[2].if_not),
        (Expect::Absent, IfNot::Retry),
        "an insert expects no record and retries"
    );
}
