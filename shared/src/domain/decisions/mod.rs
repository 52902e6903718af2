//! Every change to an organisation, decided on what was read: pure functions from a read state
//! (and the request) to a [`Change`](crate::domain::change::Change) and what the request answers. The request layer reads
//! (`crate::access`), calls one of these and storage writes the change in one transaction; a stale read
//! fails the transaction's guard and the decision is taken again on a fresh read.
//!
//! One module per kind of change, as the docs group them.

pub mod members;
pub mod operator;
pub mod organisation;
pub mod platform;
pub mod verification;

#[cfg(test)]
pub(crate) mod fixtures;

pub use members::*;
pub use organisation::*;
pub use platform::*;
pub use verification::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authorisation::Access;
    use crate::domain::change::{IfNot, Operation};
    use crate::domain::organisation::tests_support::organisation;
    use crate::domain::outbound::*;
    use crate::domain::Subject;
    use crate::domain::{
        activity::{ActivityType, Actor, DetailType},
        change::{Expect, Profile, Record, RecordKey, Refusal, Write},
        ledger::ResourceLedger,
        member::{KubernetesRole, Member, Role},
        operator::OperatorView,
        organisation::{OrganisationPatch, OrganisationType},
        platform::{ResourceRecord, ResourceState},
        quotas::QuotaOverrides,
        vat::VatNumber,
        verification::{EmailChallenge, EmailKind, ViesAnswer},
        Caller, Email, Rejection,
    };
    use chrono::{Duration, Utc};

    use uuid::Uuid;

    fn caller(name: &str) -> Caller {
        Caller {
            subject: Subject::parse(name).unwrap(),
            email: Some(Email::parse("e", &format!("{name}@example.com")).unwrap()),
            email_verified: true,
            username: Some(name.to_owned()),
            operator: false,
        }
    }

    fn member(name: &str, role: Role) -> Member {
        Member {
            identity: Uuid::new_v4(),
            email: Some(Email::parse("e", &format!("{name}@example.com")).unwrap()),
            username: Some(name.to_owned()),
            role,
            kubernetes_role: KubernetesRole::None,
            subject: Subject::parse(name),
            joined_at: Utc::now(),
            invitation: None,
        }
    }

    fn access(admin_count: u32, target: Option<Member>) -> Access {
        let mut organisation = organisation();
        organisation.admin_count = admin_count;
        Access {
            caller: caller("alice"),
            organisation,
            member: member("alice", Role::Admin),
            ledger: ResourceLedger::default(),
            quota_overrides: Default::default(),
            target_member: target,
            members: Vec::new(),
        }
    }

    fn patch(json: serde_json::Value) -> OrganisationPatch {
        let body: super::super::organisation::PatchOrganisationBody =
            serde_json::from_value(json).unwrap();
        OrganisationPatch::try_from(body).unwrap()
    }

    #[test]
    fn a_patch_that_changes_nothing_writes_nothing() {
        let access = access(1, None);
        let same = patch(serde_json::json!({"organisationName": "Acme"}));
        let decision = update_organisation(
            &access,
            &same,
            ViesLookup::Unavailable,
            Limits::default(),
            Utc::now(),
        )
        .unwrap();
        assert!(decision.change.is_none());
    }

    #[test]
    fn a_patch_moves_the_revision_records_the_fields_and_issues_challenges() {
        let access = access(1, None);
        let changes = patch(serde_json::json!({
            "organisationName": "Acme Two", "billingEmail": "b@example.com"
        }));
        let decision = update_organisation(
            &access,
            &changes,
            ViesLookup::Unavailable,
            Limits::default(),
            Utc::now(),
        )
        .unwrap();
        let change = decision.change.unwrap();
        let Profile::Update(update) = &change.profile else {
            panic!("an update")
        };
        assert_eq!(
            (update.read_revision(), update.organisation().revision),
            (1, 2)
        );
        let event = change.activity.unwrap();
        assert_eq!(event.event_type, ActivityType::OrganisationUpdated);
        assert!(event
            .message
            .ends_with("changed organisationName, billingEmail"));
        assert_eq!(decision.outcome.challenges.len(), 1);
        assert_eq!(decision.outcome.suppressed, 0);
        let [Write {
            operation: Operation::Put(put),
            expect: Expect::Absent,
            ..
        }, Write {
            operation: Operation::CountMail(counter),
            if_not: IfNot::Refuse(Refusal::AddressMailCap),
            ..
        }] = &change.writes[..]
        else {
            panic!(
                "the code's insert and the mail's count: {:?}",
                change.writes
            )
        };
        assert!(matches!(put.as_ref(), Record::EmailCode(_)));
        let billing = Email::parse("e", "b@example.com").unwrap();
        assert_eq!(
            counter.address_hash,
            crate::domain::verification::address_hash(&billing)
        );
        assert_eq!(
            update.organisation().mails_sent.0.len(),
            1,
            "the mail recorded"
        );
    }

    #[test]
    fn a_new_vat_number_asks_vies_first_when_it_can() {
        let access = access(1, None);
        let vat = patch(serde_json::json!({"vatNumber": "NL004495445B01"}));
        let asked = update_organisation(
            &access,
            &vat,
            ViesLookup::NotAsked,
            Limits::default(),
            Utc::now(),
        );
        assert!(matches!(asked, Err(PatchBlocked::AskVies(_))));
        // A spent VAT change budget is refused before VIES is asked.
        let mut spent = access.clone();
        spent.organisation.vat_changes = vec![Utc::now() - Duration::hours(1); 10];
        let refused = update_organisation(
            &spent,
            &vat,
            ViesLookup::NotAsked,
            Limits::default(),
            Utc::now(),
        );
        assert!(matches!(
            refused,
            Err(PatchBlocked::Rejected(Rejection::TooMany { .. }))
        ));
        let answer = ViesAnswer::Invalid;
        let decided = update_organisation(
            &access,
            &vat,
            ViesLookup::Answered(&answer),
            Limits::default(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            decided.outcome.organisation.verification.vat_status,
            Some(super::super::verification::VatStatus::Unverified)
        );
    }

    #[test]
    fn the_last_admin_cannot_be_removed_and_others_can() {
        let admin = member("bob", Role::Admin);
        let refused = remove_member(&access(1, Some(admin.clone())), admin.identity, Utc::now());
        assert!(
            matches!(refused, Err(Rejection::Invalid { ref message, .. }) if message.contains("last admin"))
        );
        let change =
            remove_member(&access(2, Some(admin.clone())), admin.identity, Utc::now()).unwrap();
        let Profile::Update(update) = &change.profile else {
            panic!("an update")
        };
        assert_eq!(update.organisation().admin_count, 1);
        assert_eq!(change.writes.len(), 3, "member, by e-mail, by subject");
        let missing = remove_member(&access(2, None), admin.identity, Utc::now());
        assert!(matches!(missing, Err(Rejection::NotFound(_))));
    }

    #[test]
    fn delete_is_guarded_by_the_ledger_and_the_identity() {
        let mut blocked = access(1, None);
        blocked.ledger.active_clusters = 2;
        let identity = blocked.organisation.identity;
        assert!(matches!(
            delete_organisation(&blocked, identity, Utc::now()),
            Err(Rejection::Invalid { ref message, .. }) if message.contains("2 active clusters")
        ));
        let clear = access(1, None);
        assert!(matches!(
            delete_organisation(&clear, Uuid::new_v4(), Utc::now()),
            Err(Rejection::NotFound(_))
        ));
        let change = delete_organisation(&clear, clear.organisation.identity, Utc::now()).unwrap();
        assert_eq!(change.profile, Profile::Delete { read_revision: 1 });
        assert!(change.activity.is_none());
        assert_eq!(
            change.writes[0],
            Write::check(RecordKey::Ledger, Expect::LedgerClear),
            "the ledger is checked again in the transaction"
        );
    }

    #[test]
    fn a_deletion_removes_the_codes_the_profile_names() {
        let mut access = access(1, None);
        let challenge = EmailChallenge::new(
            &access.organisation.slug,
            EmailKind::Contact,
            &access.organisation.contact_email,
            Utc::now(),
        );
        access.organisation.verification.issued(&challenge);
        let identity = access.organisation.identity;
        let change = delete_organisation(&access, identity, Utc::now()).unwrap();
        let removed = Write::remove(
            RecordKey::EmailCode(challenge.record.code_hash.clone()),
            Expect::Anything,
        );
        assert_eq!(change.writes.last(), Some(&removed));
    }

    #[test]
    fn vies_verdicts_change_the_status_once() {
        let mut organisation = organisation();
        let vat = VatNumber::parse("NL004495445B01").unwrap();
        organisation.set_vat_number(Some(&vat), Utc::now());
        let valid = ViesAnswer::Valid {
            name: Some("ACME".into()),
            address: None,
        };
        let first = record_vies_answer(&organisation, &vat, &valid, Utc::now()).unwrap();
        assert!(first.outcome, "PENDING → VERIFIED");
        let change = first.change.unwrap();
        assert_eq!(
            change.activity.unwrap().event_type,
            ActivityType::VatStatusChanged
        );
        let Profile::Update(update) = change.profile else {
            panic!("an update")
        };
        let after = update.into_organisation();
        let again = record_vies_answer(&after, &vat, &valid, Utc::now()).unwrap();
        assert!(!again.outcome, "VERIFIED again is no change");
        assert!(
            again.change.unwrap().activity.is_none(),
            "only the next check moves"
        );
        let other = VatNumber::parse("DE136695976").unwrap();
        assert!(record_vies_answer(&after, &other, &valid, Utc::now()).is_none());
    }

    #[test]
    fn an_operators_change_of_type_and_overrides_publishes_three_events() {
        let view = OperatorView {
            organisation: organisation(),
            ledger: ResourceLedger::default(),
            quotas: None,
            created_by: None,
            member_count: 0,
        };
        let mut after = view.organisation.clone();
        after.organisation_type = OrganisationType::Enterprise;
        after.revision += 1;
        let overrides = QuotaOverrides {
            nodes_per_cluster: Some(1000),
            ..QuotaOverrides::default()
        };
        let operator = Actor::operator(&caller("olga"));
        let outbound = operator_outbound(&view, &after, Some(&overrides), &operator, Utc::now());
        let types: Vec<DetailType> = outbound.events.iter().map(|e| e.detail_type).collect();
        assert_eq!(
            types,
            [
                DetailType::OrganisationUpdated,
                DetailType::OrganisationTypeChanged,
                DetailType::QuotasChanged
            ]
        );
        assert_eq!(outbound.revision, after.revision);
        assert_eq!(outbound.actor.actor_type, "operator");
        let updated = &outbound.events[0].fields;
        assert_eq!(
            updated["changes"],
            serde_json::json!({"organisationType": "ENTERPRISE",
                               "quotaOverrides": {"nodesPerCluster": 1000}})
        );
        let quotas = &outbound.events[2].fields;
        assert_eq!(quotas["quotas"]["nodesPerCluster"], 1000);
        assert_eq!(
            quotas["quotas"]["clustersPerCustomer"], 100,
            "ENTERPRISE's default"
        );
        assert_eq!(
            quotas["quotaOverrides"]["clustersPerCustomer"],
            serde_json::Value::Null
        );
        // The same overrides again and no other change: nothing to publish.
        let view = OperatorView {
            organisation: after.clone(),
            quotas: Some(ResourceRecord {
                state: ResourceState::QuotasOverridden {
                    overrides: overrides.clone(),
                },
                occurred_at: Utc::now(),
                event_rank: 0,
                version: 1,
            }),
            ..view
        };
        let again = operator_outbound(&view, &after, Some(&overrides), &operator, Utc::now());
        assert!(again.events.is_empty());
    }

    #[test]
    fn an_email_code_verifies_only_the_current_address_and_is_used_up() {
        let mut organisation = organisation();
        let challenge = EmailChallenge::new(
            &organisation.slug,
            EmailKind::Contact,
            &organisation.contact_email,
            Utc::now(),
        );
        // Not the organisation's code (one a deleted organisation with this slug left): nothing.
        assert!(matches!(
            verify_email(&organisation, &challenge.record, Utc::now()),
            Err(Rejection::NotFound(_))
        ));
        organisation.verification.issued(&challenge);
        let change = verify_email(&organisation, &challenge.record, Utc::now()).unwrap();
        let last = change.writes.last().unwrap();
        assert_eq!(last.if_not, IfNot::Refuse(Refusal::CodeUsed));
        let stale = EmailChallenge::new(
            &organisation.slug,
            EmailKind::Billing,
            &organisation.contact_email,
            Utc::now(),
        );
        assert!(verify_email(&organisation, &stale.record, Utc::now()).is_err());
    }
}
