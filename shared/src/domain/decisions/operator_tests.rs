//! Table tests of the operator plane's PATCH (`decisions::operator::update_organisation`): the
//! type, the cloud-provider restriction and its override, the quota overrides record.

use super::*;
use crate::domain::change::{Operation, Profile};
use crate::domain::decisions::fixtures::{now, shapes, updated};
use crate::domain::ledger::ResourceLedger;
use crate::domain::organisation::tests_support::organisation;
use crate::domain::organisation::{Organisation, OrganisationType};
use crate::domain::quotas::QuotaOverrides;
use crate::domain::{Email, Subject};

fn operator() -> Caller {
    Caller {
        subject: Subject::parse("op-1").unwrap(),
        email: Some(Email::parse("e", "olga@platform.example").unwrap()),
        email_verified: true,
        username: Some("olga".into()),
        operator: true,
    }
}

fn overrides(nodes: i64) -> QuotaOverrides {
    QuotaOverrides {
        nodes_per_cluster: Some(nodes),
        ..QuotaOverrides::default()
    }
}

fn quotas_record(nodes: i64, at: DateTime<Utc>, version: u64) -> ResourceRecord {
    ResourceRecord {
        state: ResourceState::QuotasOverridden {
            overrides: overrides(nodes),
        },
        occurred_at: at,
        event_rank: 0,
        version,
    }
}

#[test]
fn an_operators_patch() {
    enum Expected {
        Nothing,
        Written {
            /// Present: an `ORGANISATION_UPDATED` event saying this, at the next revision;
            /// absent: the profile is only required to exist.
            message: Option<&'static str>,
            writes: Vec<&'static str>,
            new_record: bool,
            holds: fn(&Organisation) -> bool,
        },
    }
    struct Case {
        name: &'static str,
        kind: OrganisationType,
        restricted_override: Option<bool>,
        quotas: Option<ResourceRecord>,
        patch: OperatorPatch,
        expected: Expected,
    }
    let base = || Case {
        name: "",
        kind: OrganisationType::Business,
        restricted_override: None,
        quotas: None,
        patch: OperatorPatch::default(),
        expected: Expected::Nothing,
    };
    let first_record = "put Resource if Version(None) else retry";
    let cases = [
        Case { name: "an empty patch", ..base() },
        Case { name: "the same type", patch: OperatorPatch { organisation_type: Some(OrganisationType::Business), ..OperatorPatch::default() }, ..base() },
        Case { name: "the same override", restricted_override: Some(true), patch: OperatorPatch { restricted: Some(Some(true)), ..OperatorPatch::default() }, ..base() },
        Case {
            name: "to ENTERPRISE",
            patch: OperatorPatch { organisation_type: Some(OrganisationType::Enterprise), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("olga@platform.example (platform operator) changed organisationType to ENTERPRISE"), writes: vec![], new_record: false, holds: |o| o.organisation_type == OrganisationType::Enterprise },
            ..base()
        },
        Case {
            name: "to TRIAL: the restriction follows the type",
            patch: OperatorPatch { organisation_type: Some(OrganisationType::Trial), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("organisationType to TRIAL, restrictedToAvailableCloudProviders to true (follows the type)"), writes: vec![], new_record: false, holds: |o| o.restricted_to_available_cloud_providers },
            ..base()
        },
        Case {
            name: "to TRIAL with an override in place: the override holds",
            restricted_override: Some(false),
            patch: OperatorPatch { organisation_type: Some(OrganisationType::Trial), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("changed organisationType to TRIAL"), writes: vec![], new_record: false, holds: |o| !o.restricted_to_available_cloud_providers && o.restricted_override == Some(false) },
            ..base()
        },
        Case {
            name: "an override",
            patch: OperatorPatch { restricted: Some(Some(true)), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("changed restrictedToAvailableCloudProviders to true"), writes: vec![], new_record: false, holds: |o| o.restricted_to_available_cloud_providers && o.restricted_override == Some(true) },
            ..base()
        },
        Case {
            name: "an override removed: the type decides again",
            restricted_override: Some(true),
            patch: OperatorPatch { restricted: Some(None), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("restrictedToAvailableCloudProviders to follow the type (false)"), writes: vec![], new_record: false, holds: |o| !o.restricted_to_available_cloud_providers && o.restricted_override.is_none() },
            ..base()
        },
        Case {
            name: "first quota overrides",
            patch: OperatorPatch { quota_overrides: Some(overrides(40)), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("changed quotaOverrides to {nodesPerCluster 40}"), writes: vec![first_record], new_record: true, holds: |_| true },
            ..base()
        },
        Case {
            name: "changed quota overrides",
            quotas: Some(quotas_record(40, now() - Duration::hours(1), 2)),
            patch: OperatorPatch { quota_overrides: Some(overrides(60)), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("quotaOverrides to {nodesPerCluster 60}"), writes: vec!["put Resource if Version(Some(2)) else retry"], new_record: false, holds: |_| true },
            ..base()
        },
        Case {
            name: "the same quota overrides are recorded again, silently",
            quotas: Some(quotas_record(40, now() - Duration::hours(1), 2)),
            patch: OperatorPatch { quota_overrides: Some(overrides(40)), ..OperatorPatch::default() },
            expected: Expected::Written { message: None, writes: vec!["put Resource if Version(Some(2)) else retry"], new_record: false, holds: |_| true },
            ..base()
        },
        Case {
            name: "cleared quota overrides",
            quotas: Some(quotas_record(40, now() - Duration::hours(1), 2)),
            patch: OperatorPatch { quota_overrides: Some(QuotaOverrides::default()), ..OperatorPatch::default() },
            expected: Expected::Written { message: Some("quotaOverrides to none (the type's quotas)"), writes: vec!["put Resource if Version(Some(2)) else retry"], new_record: false, holds: |_| true },
            ..base()
        },
    ];
    for case in cases {
        let mut organisation = organisation();
        organisation.organisation_type = case.kind;
        organisation.restricted_override = case.restricted_override;
        organisation.follow_type();
        organisation.revision = 3;
        let view = OperatorView {
            organisation,
            ledger: ResourceLedger {
                resource_records: 4,
                ..ResourceLedger::default()
            },
            quotas: case.quotas.clone(),
            created_by: None,
            member_count: 0,
        };
        let decision = update_organisation(&view, &operator(), &case.patch, now());
        let name = case.name;
        match case.expected {
            Expected::Nothing => {
                assert!(decision.change.is_none(), "{name}: nothing written");
                assert_eq!(decision.outcome, view, "{name}");
            }
            Expected::Written {
                message,
                writes,
                new_record,
                holds,
            } => {
                let change = decision
                    .change
                    .unwrap_or_else(|| panic!("{name}: a change"));
                assert_eq!(shapes(&change), writes, "{name}: writes");
                match message {
                    Some(says) => {
                        let (after, read) = updated(&change);
                        assert_eq!((read, after.revision), (3, 4), "{name}: next revision");
                        assert!(holds(after), "{name}: {after:?}");
                        let event = change.activity.as_ref().unwrap();
                        assert_eq!(
                            event.event_type,
                            ActivityType::OrganisationUpdated,
                            "{name}"
                        );
                        assert!(event.message.contains(says), "{name}: {}", event.message);
                        assert_eq!(
                            event.outbound.as_ref().map(|o| o.revision),
                            Some(4),
                            "{name}: outbound revision"
                        );
                        assert_eq!(
                            &decision.outcome.organisation, after,
                            "{name}: the view after"
                        );
                    }
                    None => {
                        assert_eq!(change.profile, Profile::Exists, "{name}");
                        assert!(change.activity.is_none(), "{name}");
                        assert_eq!(decision.outcome.organisation, view.organisation, "{name}");
                    }
                }
                match &change.ledger {
                    Some(ledger) => {
                        assert!(new_record, "{name}: the ledger moves only for a new record");
                        assert_eq!(
                            ledger.delta,
                            LedgerDelta {
                                resource_records: 1,
                                ..LedgerDelta::default()
                            },
                            "{name}"
                        );
                        assert!(ledger.payments.is_none(), "{name}");
                    }
                    None => assert!(!new_record, "{name}: a new record is counted"),
                }
                assert_eq!(
                    decision.outcome.ledger.resource_records,
                    4 + u64::from(new_record),
                    "{name}: records in the view"
                );
                if let Some(overrides) = &case.patch.quota_overrides {
                    let Operation::Put(record) = &change.writes[0].operation else {
                        panic!("{name}")
                    };
                    let Record::Resource(Resource::Quotas, record) = record.as_ref() else {
                        panic!("{name}")
                    };
                    assert_eq!(
                        record.state,
                        ResourceState::QuotasOverridden {
                            overrides: overrides.clone()
                        },
                        "{name}"
                    );
                    assert_eq!(record.occurred_at, now(), "{name}: recorded as of now");
                    assert_eq!(
                        record.version,
                        case.quotas.as_ref().map_or(1, |r| r.version + 1),
                        "{name}"
                    );
                    assert_eq!(
                        decision.outcome.quotas.as_ref(),
                        Some(record),
                        "{name}: the view's record"
                    );
                }
            }
        }
    }
}

#[test]
fn overrides_are_dated_after_a_record_from_a_clock_running_ahead() {
    struct Case {
        name: &'static str,
        recorded: Option<DateTime<Utc>>,
        expected: DateTime<Utc>,
    }
    let ahead = now() + Duration::minutes(2);
    let cases = [
        Case {
            name: "no record",
            recorded: None,
            expected: now(),
        },
        Case {
            name: "an older record",
            recorded: Some(now() - Duration::seconds(1)),
            expected: now(),
        },
        Case {
            name: "a record at the same instant",
            recorded: Some(now()),
            expected: now() + Duration::milliseconds(1),
        },
        Case {
            name: "a record from a clock ahead",
            recorded: Some(ahead),
            expected: ahead + Duration::milliseconds(1),
        },
    ];
    for case in cases {
        let record = case.recorded.map(|at| quotas_record(40, at, 1));
        assert_eq!(
            recorded_at(record.as_ref(), now()),
            case.expected,
            "{}",
            case.name
        );
        let view = OperatorView {
            organisation: organisation(),
            ledger: ResourceLedger::default(),
            quotas: record,
            created_by: None,
            member_count: 0,
        };
        let patch = OperatorPatch {
            quota_overrides: Some(overrides(60)),
            ..OperatorPatch::default()
        };
        let decision = update_organisation(&view, &operator(), &patch, now());
        assert_eq!(
            decision.outcome.quotas.map(|r| r.occurred_at),
            Some(case.expected),
            "{}: the record written",
            case.name
        );
    }
}
