//! Table tests of `apply_platform_event`: every kind of platform event, stale and duplicate
//! events (by time, then by the kind's rank), and the caps on resource records and payment
//! methods.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::domain::activity::{ActivityType, DetailType};
use crate::domain::change::{Expect, Profile};
use crate::domain::decisions::fixtures::{now, shapes, updated};
use crate::domain::organisation::tests_support::organisation;
use crate::domain::platform::EventKind;
use crate::domain::Slug;

const IDENTITY: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2d3e_0000_4000_8000_0000_0000_0001);

fn at(minute: i64) -> DateTime<Utc> {
    now() + Duration::minutes(minute)
}

fn event(
    kind: EventKind,
    resource: Resource,
    minute: i64,
    asserted: ResourceState,
) -> PlatformEvent {
    PlatformEvent {
        id: None,
        kind,
        organisation: Slug::parse("acme").unwrap(),
        organisation_identity: IDENTITY,
        resource,
        occurred_at: at(minute),
        asserted,
    }
}

fn cluster_event(kind: EventKind, minute: i64, cpu: u32) -> PlatformEvent {
    let state = match kind {
        EventKind::ClusterDeleted => ResourceState::ClusterDeleted,
        _ => active(cpu),
    };
    event(kind, Resource::Cluster("c-1".into()), minute, state)
}

fn active(cpu: u32) -> ResourceState {
    ResourceState::ClusterActive {
        cpu_millicores: cpu,
        memory_mib: 1024,
    }
}

fn record(state: ResourceState, minute: i64, rank: u8, version: u64) -> Option<ResourceRecord> {
    Some(ResourceRecord {
        state,
        occurred_at: at(minute),
        event_rank: rank,
        version,
    })
}

fn attached(minute: i64) -> ResourceState {
    ResourceState::PaymentMethodAttached {
        attached_at: at(minute),
    }
}

fn payment_event(kind: EventKind, id: &str, minute: i64) -> PlatformEvent {
    let state = match kind {
        EventKind::PaymentMethodAttached => attached(minute),
        _ => ResourceState::PaymentMethodDetached,
    };
    event(kind, Resource::PaymentMethod(id.into()), minute, state)
}

fn quotas(nodes: Option<u32>) -> ResourceState {
    ResourceState::QuotasOverridden {
        overrides: QuotaOverrides {
            nodes_per_cluster: nodes.map(Into::into),
            ..QuotaOverrides::default()
        },
    }
}

/// A ledger with `methods` payment methods attached (`pm-0`, `pm-1`, …) and `records` records.
fn ledger(methods: usize, records: u64) -> ResourceLedger {
    let payment_methods: BTreeMap<String, DateTime<Utc>> = (0..methods)
        .map(|i| (format!("pm-{i}"), at(-100)))
        .collect();
    ResourceLedger {
        payment_method_attached_at: payment_methods.values().min().copied(),
        payment_version: u64::from(methods > 0),
        payment_methods,
        resource_records: records,
        ..ResourceLedger::default()
    }
}

fn delta(
    clusters: i64,
    accounts: i64,
    tenants: i64,
    cpu: i64,
    memory: i64,
    records: i64,
) -> LedgerDelta {
    LedgerDelta {
        active_clusters: clusters,
        cloud_accounts: accounts,
        monitoring_tenants: tenants,
        total_cpu_millicores: cpu,
        total_memory_mib: memory,
        resource_records: records,
    }
}

enum Expected {
    Refused(PlatformRefusal),
    /// A duplicate, an older event, anything after a cluster's deletion.
    Ignored,
    Applied {
        activity: Option<ActivityType>,
        /// The ledger's change: `None` when nothing in it moves.
        delta: Option<LedgerDelta>,
        /// The attached payment methods after, when they change.
        payments: Option<Vec<&'static str>>,
    },
}

struct Case {
    name: &'static str,
    event: PlatformEvent,
    record: Option<ResourceRecord>,
    ledger: ResourceLedger,
    expected: Expected,
}

fn applied(activity: Option<ActivityType>, delta: Option<LedgerDelta>) -> Expected {
    Expected::Applied {
        activity,
        delta,
        payments: None,
    }
}

#[test]
fn platform_events_move_records_ledger_and_activity() {
    use EventKind::*;
    let none = || ledger(0, 10);
    let cases = vec![
        Case {
            name: "an event for an organisation that no longer holds the slug",
            event: {
                let mut e = cluster_event(ClusterCreated, 0, 1000);
                e.organisation_identity = uuid::Uuid::from_u128(7);
                e
            },
            record: None,
            ledger: none(),
            expected: Expected::Refused(PlatformRefusal::OtherOrganisation),
        },
        Case {
            name: "a cluster created",
            event: cluster_event(ClusterCreated, 0, 2000),
            record: None,
            ledger: none(),
            expected: applied(
                Some(ActivityType::ClusterCreated),
                Some(delta(1, 0, 0, 2000, 1024, 1)),
            ),
        },
        Case {
            name: "a cluster resized",
            event: cluster_event(ClusterResized, 5, 3000),
            record: record(active(1000), 0, 0, 1),
            ledger: none(),
            expected: applied(None, Some(delta(0, 0, 0, 2000, 0, 0))),
        },
        Case {
            name: "a resize at the creation's instant (a later step of its life)",
            event: cluster_event(ClusterResized, 0, 3000),
            record: record(active(1000), 0, 0, 1),
            ledger: none(),
            expected: applied(None, Some(delta(0, 0, 0, 2000, 0, 0))),
        },
        Case {
            name: "a creation at a resize's instant is older",
            event: cluster_event(ClusterCreated, 0, 1000),
            record: record(active(3000), 0, 1, 2),
            ledger: none(),
            expected: Expected::Ignored,
        },
        Case {
            name: "an older resize",
            event: cluster_event(ClusterResized, 1, 500),
            record: record(active(3000), 2, 1, 2),
            ledger: none(),
            expected: Expected::Ignored,
        },
        Case {
            name: "a duplicate",
            event: cluster_event(ClusterResized, 2, 3000),
            record: record(active(3000), 2, 1, 2),
            ledger: none(),
            expected: Expected::Ignored,
        },
        Case {
            name: "a cluster deleted",
            event: cluster_event(ClusterDeleted, 9, 0),
            record: record(active(3000), 2, 1, 2),
            ledger: none(),
            expected: applied(
                Some(ActivityType::ClusterDeleted),
                Some(delta(-1, 0, 0, -3000, -1024, 0)),
            ),
        },
        Case {
            name: "a deletion older than the record still deletes",
            event: cluster_event(ClusterDeleted, -60, 0),
            record: record(active(3000), 2, 1, 2),
            ledger: none(),
            expected: applied(
                Some(ActivityType::ClusterDeleted),
                Some(delta(-1, 0, 0, -3000, -1024, 0)),
            ),
        },
        Case {
            name: "anything after a deletion",
            event: cluster_event(ClusterCreated, 60, 1000),
            record: record(ResourceState::ClusterDeleted, 9, 2, 3),
            ledger: none(),
            expected: Expected::Ignored,
        },
        Case {
            name: "a deletion of a cluster never seen leaves a tombstone",
            event: cluster_event(ClusterDeleted, 0, 0),
            record: None,
            ledger: none(),
            expected: applied(None, Some(delta(0, 0, 0, 0, 0, 1))),
        },
        Case {
            name: "a cloud account configured",
            event: event(
                CloudAccountConfigured,
                Resource::CloudAccount("a-1".into()),
                0,
                ResourceState::CloudAccountConfigured,
            ),
            record: None,
            ledger: none(),
            expected: applied(None, Some(delta(0, 1, 0, 0, 0, 1))),
        },
        Case {
            name: "a cloud account removed",
            event: event(
                CloudAccountRemoved,
                Resource::CloudAccount("a-1".into()),
                5,
                ResourceState::CloudAccountRemoved,
            ),
            record: record(ResourceState::CloudAccountConfigured, 0, 0, 1),
            ledger: none(),
            expected: applied(None, Some(delta(0, -1, 0, 0, 0, 0))),
        },
        Case {
            name: "a cloud account configured again, older",
            event: event(
                CloudAccountConfigured,
                Resource::CloudAccount("a-1".into()),
                1,
                ResourceState::CloudAccountConfigured,
            ),
            record: record(ResourceState::CloudAccountRemoved, 5, 2, 2),
            ledger: none(),
            expected: Expected::Ignored,
        },
        Case {
            name: "a monitoring tenant activated",
            event: event(
                MonitoringTenantActivated,
                Resource::MonitoringTenant("t-1".into()),
                0,
                ResourceState::MonitoringTenantActive,
            ),
            record: None,
            ledger: none(),
            expected: applied(None, Some(delta(0, 0, 1, 0, 0, 1))),
        },
        Case {
            name: "a monitoring tenant deactivated",
            event: event(
                MonitoringTenantDeactivated,
                Resource::MonitoringTenant("t-1".into()),
                5,
                ResourceState::MonitoringTenantInactive,
            ),
            record: record(ResourceState::MonitoringTenantActive, 0, 0, 1),
            ledger: none(),
            expected: applied(None, Some(delta(0, 0, -1, 0, 0, 0))),
        },
        Case {
            name: "a payment method attached",
            event: payment_event(PaymentMethodAttached, "pm-new", 0),
            record: None,
            ledger: ledger(1, 10),
            expected: Expected::Applied {
                activity: Some(ActivityType::PaymentMethodAttached),
                delta: Some(delta(0, 0, 0, 0, 0, 1)),
                payments: Some(vec!["pm-0", "pm-new"]),
            },
        },
        Case {
            name: "a payment method detached",
            event: payment_event(PaymentMethodDetached, "pm-0", 5),
            record: record(attached(-100), -100, 0, 1),
            ledger: ledger(1, 10),
            expected: Expected::Applied {
                activity: Some(ActivityType::PaymentMethodDetached),
                delta: None,
                payments: Some(vec![]),
            },
        },
        Case {
            name: "a detachment of a method never attached changes no payments",
            event: payment_event(PaymentMethodDetached, "pm-x", 5),
            record: None,
            ledger: ledger(1, 10),
            expected: applied(None, Some(delta(0, 0, 0, 0, 0, 1))),
        },
        Case {
            name: "an attachment redelivered",
            event: payment_event(PaymentMethodAttached, "pm-0", -100),
            record: record(attached(-100), -100, 0, 1),
            ledger: ledger(1, 10),
            expected: Expected::Ignored,
        },
        Case {
            name: "quota overrides set",
            event: event(QuotasOverridden, Resource::Quotas, 0, quotas(Some(50))),
            record: None,
            ledger: none(),
            expected: applied(
                Some(ActivityType::OrganisationUpdated),
                Some(delta(0, 0, 0, 0, 0, 1)),
            ),
        },
        Case {
            name: "quota overrides changed",
            event: event(QuotasOverridden, Resource::Quotas, 5, quotas(Some(80))),
            record: record(quotas(Some(50)), 0, 0, 1),
            ledger: none(),
            expected: applied(Some(ActivityType::OrganisationUpdated), None),
        },
        Case {
            name: "the same quota overrides, newer",
            event: event(QuotasOverridden, Resource::Quotas, 5, quotas(Some(50))),
            record: record(quotas(Some(50)), 0, 0, 1),
            ledger: none(),
            expected: applied(None, None),
        },
        Case {
            name: "older quota overrides",
            event: event(QuotasOverridden, Resource::Quotas, -5, quotas(Some(10))),
            record: record(quotas(Some(50)), 0, 0, 1),
            ledger: none(),
            expected: Expected::Ignored,
        },
        Case {
            name: "a new record one below the cap",
            event: cluster_event(ClusterCreated, 0, 1000),
            record: None,
            ledger: ledger(0, MAX_RESOURCE_RECORDS - 1),
            expected: applied(
                Some(ActivityType::ClusterCreated),
                Some(delta(1, 0, 0, 1000, 1024, 1)),
            ),
        },
        Case {
            name: "a new record at the cap",
            event: cluster_event(ClusterCreated, 0, 1000),
            record: None,
            ledger: ledger(0, MAX_RESOURCE_RECORDS),
            expected: Expected::Refused(PlatformRefusal::TooManyResources),
        },
        Case {
            name: "an existing record at the cap",
            event: cluster_event(ClusterResized, 5, 2000),
            record: record(active(1000), 0, 0, 1),
            ledger: ledger(0, MAX_RESOURCE_RECORDS),
            expected: applied(None, Some(delta(0, 0, 0, 1000, 0, 0))),
        },
        Case {
            name: "the last payment method below the cap",
            event: payment_event(PaymentMethodAttached, "pm-new", 0),
            record: None,
            ledger: ledger(MAX_PAYMENT_METHODS - 1, 100),
            expected: Expected::Applied {
                activity: Some(ActivityType::PaymentMethodAttached),
                delta: Some(delta(0, 0, 0, 0, 0, 1)),
                payments: None,
            },
        },
        Case {
            name: "one payment method past the cap",
            event: payment_event(PaymentMethodAttached, "pm-new", 0),
            record: None,
            ledger: ledger(MAX_PAYMENT_METHODS, 100),
            expected: Expected::Refused(PlatformRefusal::TooManyPaymentMethods),
        },
    ];
    for case in cases {
        let mut organisation = organisation();
        organisation.identity = IDENTITY;
        organisation.revision = 5;
        let view = ResourceView {
            organisation,
            record: case.record.clone(),
            ledger: case.ledger.clone(),
        };
        let result = apply_platform_event(&case.event, &view);
        let name = case.name;
        match (case.expected, result) {
            (Expected::Refused(refusal), Err(actual)) => assert_eq!(actual, refusal, "{name}"),
            (Expected::Ignored, Ok(None)) => {}
            (
                Expected::Applied {
                    activity,
                    delta,
                    payments,
                },
                Ok(Some((change, after))),
            ) => {
                // The resource record, on condition of the version read.
                let read = case.record.as_ref().map(|r| r.version);
                assert_eq!(
                    shapes(&change),
                    [format!(
                        "put Resource if {:?} else retry",
                        Expect::Version(read)
                    )],
                    "{name}"
                );
                let expected_record = ResourceRecord {
                    state: case.event.asserted.clone(),
                    occurred_at: case.event.occurred_at,
                    event_rank: after.record.as_ref().unwrap().event_rank,
                    version: read.map_or(1, |v| v + 1),
                };
                assert_eq!(
                    after.record.as_ref(),
                    Some(&expected_record),
                    "{name}: the record after"
                );
                // Members see an activity event, at the next revision; otherwise the profile
                // is only required to exist.
                match activity {
                    Some(kind) => {
                        let (profile, read) = updated(&change);
                        assert_eq!((read, profile.revision), (5, 6), "{name}: next revision");
                        let event = change.activity.as_ref().unwrap();
                        assert_eq!(event.event_type, kind, "{name}: activity");
                        assert_eq!(
                            event.created_at, case.event.occurred_at,
                            "{name}: dated by the event"
                        );
                        assert_eq!(after.organisation.revision, 6, "{name}: the view moves on");
                    }
                    None => {
                        assert_eq!(change.profile, Profile::Exists, "{name}: profile");
                        assert!(change.activity.is_none(), "{name}");
                        assert_eq!(after.organisation.revision, 5, "{name}");
                    }
                }
                let new_record = case.record.is_none();
                match (&change.ledger, delta) {
                    (None, None) => {}
                    (Some(update), expected) => {
                        assert_eq!(
                            update.delta,
                            expected.unwrap_or_default(),
                            "{name}: ledger delta"
                        );
                        assert_eq!(
                            update.records_below,
                            new_record.then_some(MAX_RESOURCE_RECORDS),
                            "{name}: the record cap is checked for new records"
                        );
                    }
                    (None, Some(expected)) => {
                        panic!("{name}: expected a ledger delta {expected:?}")
                    }
                }
                let payment_update = change.ledger.as_ref().and_then(|l| l.payments.as_ref());
                if let Some(ids) = payments {
                    let payments = payment_update
                        .unwrap_or_else(|| panic!("{name}: the payment methods change"));
                    let after_ids: Vec<&str> = payments
                        .payment_methods
                        .keys()
                        .map(String::as_str)
                        .collect();
                    assert_eq!(after_ids, ids, "{name}: payment methods after");
                    assert_eq!(
                        payments.payment_version,
                        case.ledger.payment_version + 1,
                        "{name}: payment version"
                    );
                    assert_eq!(
                        payments.payment_method_attached_at,
                        payments.payment_methods.values().min().copied(),
                        "{name}"
                    );
                    assert_eq!(
                        &after.ledger.payment_methods, &payments.payment_methods,
                        "{name}: the view's ledger"
                    );
                }
                if !matches!(case.event.resource, Resource::PaymentMethod(_)) {
                    assert!(
                        payment_update.is_none(),
                        "{name}: only payment events move payments"
                    );
                }
                assert_eq!(
                    after.ledger.resource_records,
                    case.ledger.resource_records + u64::from(new_record),
                    "{name}: records counted in the view"
                );
            }
            (_, other) => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_quota_override_publishes_what_an_operators_patch_publishes() {
    let mut organisation = organisation();
    organisation.identity = IDENTITY;
    let view = ResourceView {
        organisation,
        record: None,
        ledger: ResourceLedger::default(),
    };
    let event = event(
        EventKind::QuotasOverridden,
        Resource::Quotas,
        0,
        quotas(Some(50)),
    );
    let (change, _) = apply_platform_event(&event, &view).unwrap().unwrap();
    let activity = change.activity.unwrap();
    assert!(
        activity
            .message
            .starts_with("The platform changed quotaOverrides to "),
        "{}",
        activity.message
    );
    let outbound = activity.outbound.expect("published");
    assert_eq!(outbound.revision, 2, "stamped with the new revision");
    let kinds: Vec<DetailType> = outbound.events.iter().map(|e| e.detail_type).collect();
    assert!(kinds.contains(&DetailType::QuotasChanged), "{kinds:?}");
    let quotas = outbound
        .events
        .iter()
        .find(|e| e.detail_type == DetailType::QuotasChanged)
        .unwrap();
    assert_eq!(quotas.fields["quotas"]["nodesPerCluster"], 50);
}
