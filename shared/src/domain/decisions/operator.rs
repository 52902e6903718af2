//! The operator plane's decision: a platform operator's PATCH as one change.

use chrono::{DateTime, Duration, Utc};

use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::change::{Change, Decision, Expect, LedgerUpdate, Record, Write};
use crate::domain::ledger::LedgerDelta;
use crate::domain::platform::{Resource, ResourceRecord, ResourceState};
use crate::domain::Caller;

use crate::domain::operator::*;
use crate::domain::outbound::*;

/// When an operator's overrides are recorded: now, or just after the record they replace when
/// that one is dated later (producers' clocks may run up to `platform::MAX_CLOCK_SKEW` ahead).
/// The operator acts after that record was applied, so theirs must be the newer one: otherwise
/// a redelivery of the event it replaced would undo the operator's change.
pub(crate) fn recorded_at(record: Option<&ResourceRecord>, now: DateTime<Utc>) -> DateTime<Utc> {
    match record {
        Some(record) if record.occurred_at >= now => record.occurred_at + Duration::milliseconds(1),
        _ => now,
    }
}

/// A platform operator's PATCH of the organisation in `view`, as one change: the profile at the
/// next revision with one `ORGANISATION_UPDATED` event (actor `OPERATOR`) that names every field
/// that changed, and, when `quotaOverrides` is sent, the `QUOTAS` record on condition of the
/// version read. Nothing changed: no write (but `quotaOverrides` is always recorded as of now, so
/// that an older `QuotasOverridden` event arriving later cannot replace it: the newer one wins).
///
/// The answer is the view after the change.
pub fn update_organisation(
    view: &OperatorView,
    operator: &Caller,
    patch: &OperatorPatch,
    now: DateTime<Utc>,
) -> Decision<OperatorView> {
    let before = &view.organisation;
    let mut organisation = before.clone();
    let mut changed = Vec::new();
    if let Some(kind) = patch
        .organisation_type
        .filter(|kind| *kind != before.organisation_type)
    {
        organisation.organisation_type = kind;
        changed.push(format!("organisationType to {}", kind.as_str()));
    }
    let new_override = patch
        .restricted
        .filter(|restricted| *restricted != before.restricted_override);
    if let Some(restricted) = new_override {
        organisation.restricted_override = restricted;
    }
    if !changed.is_empty() || new_override.is_some() {
        organisation.follow_type();
    }
    let restricted = organisation.restricted_to_available_cloud_providers;
    match new_override {
        Some(Some(value)) => changed.push(format!("{RESTRICTED} to {value}")),
        Some(None) => changed.push(format!("{RESTRICTED} to follow the type ({restricted})")),
        None if restricted != before.restricted_to_available_cloud_providers => {
            changed.push(format!("{RESTRICTED} to {restricted} (follows the type)"))
        }
        None => {}
    }

    let mut quotas = view.quotas.clone();
    let mut writes = Vec::new();
    let mut ledger = None;
    if let Some(overrides) = &patch.quota_overrides {
        if *overrides != view.quota_overrides() {
            changed.push(format!(
                "quotaOverrides to {}",
                describe_overrides(overrides)
            ));
        }
        let read = view.quotas.as_ref();
        let record = ResourceRecord {
            state: ResourceState::QuotasOverridden {
                overrides: overrides.clone(),
            },
            occurred_at: recorded_at(read, now),
            // The rank of a `QuotasOverridden` event: it only breaks ties of equal times.
            event_rank: 0,
            version: read.map_or(1, |r| r.version + 1),
        };
        writes.push(Write::put(
            Record::Resource(Resource::Quotas, record.clone()),
            Expect::Version(read.map(|r| r.version)),
        ));
        // A new resource record is counted like a platform event's (the ledger's
        // `resourceRecords`); one per organisation, so the bound on records is not checked.
        if read.is_none() {
            ledger = Some(LedgerUpdate {
                delta: LedgerDelta {
                    resource_records: 1,
                    ..LedgerDelta::default()
                },
                payments: None,
                records_below: None,
            });
        }
        quotas = Some(record);
    }

    if changed.is_empty() && writes.is_empty() {
        return Decision::nothing(view.clone());
    }
    let activity = if changed.is_empty() {
        None
    } else {
        let actor = Actor::operator(operator);
        let message = format!(
            "{} (platform operator) changed {}",
            actor.display_name(),
            changed.join(", ")
        );
        Some(
            ActivityEvent::new(
                ActivityType::OrganisationUpdated,
                actor.clone(),
                message,
                now,
            )
            .with_outbound(operator_outbound(
                view,
                &organisation,
                patch.quota_overrides.as_ref(),
                &actor,
                now,
            )),
        )
    };
    let mut ledger_after = view.ledger.clone();
    if ledger.is_some() {
        ledger_after.resource_records += 1;
    }
    let mut change = Change::update_or_keep(before, organisation, activity).with_all(writes);
    change.ledger = ledger;
    let organisation = change.profile_after(before);
    Decision::write(
        change,
        OperatorView {
            organisation,
            ledger: ledger_after,
            quotas,
            created_by: view.created_by.clone(),
            member_count: view.member_count,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::Operation;
    use crate::domain::input::RequestBody;
    use crate::domain::organisation::tests_support::organisation;
    use crate::domain::Subject;
    use crate::domain::{
        activity::{ActivityEvent, ActivityType, Actor, ActorType},
        change::{Expect, Profile, Record},
        ledger::ResourceLedger,
        operator::{OperatorPatch, OperatorPatchBody, OperatorView},
        organisation::OrganisationType,
        platform::{Resource, ResourceRecord, ResourceState},
        quotas::{QuotaOverrides, Quotas},
        Caller, Email, FieldError,
    };
    use serde_json::json;
    use serde_json::Value;

    fn operator() -> Caller {
        Caller {
            subject: Subject::parse("op-1").unwrap(),
            email: Some(Email::parse("e", "olga@platform.example").unwrap()),
            email_verified: true,
            username: Some("olga".into()),
            operator: true,
        }
    }

    fn view() -> OperatorView {
        OperatorView {
            organisation: organisation(),
            ledger: ResourceLedger::default(),
            quotas: None,
            created_by: None,
            member_count: 0,
        }
    }

    fn patch(value: Value) -> Result<OperatorPatch, Vec<FieldError>> {
        OperatorPatch::try_from(serde_json::from_value::<OperatorPatchBody>(value).unwrap())
    }

    fn record(overrides: QuotaOverrides, at: DateTime<Utc>, version: u64) -> ResourceRecord {
        ResourceRecord {
            state: ResourceState::QuotasOverridden { overrides },
            occurred_at: at,
            event_rank: 0,
            version,
        }
    }

    #[test]
    fn body_takes_exactly_its_fields() {
        for field in OperatorPatchBody::FIELDS {
            assert!(serde_json::from_value::<OperatorPatchBody>(json!({ *field: null })).is_ok());
        }
        assert!(serde_json::from_value::<OperatorPatchBody>(json!({"nope": 1})).is_err());
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let parsed = patch(json!({
            "organisationType": "enterprise",
            "restrictedToAvailableCloudProviders": null,
            "quotaOverrides": {"nodesPerCluster": 40, "clustersPerCustomer": null}
        }))
        .unwrap();
        assert_eq!(parsed.organisation_type, Some(OrganisationType::Enterprise));
        assert_eq!(parsed.restricted, Some(None));
        assert_eq!(
            parsed.quota_overrides,
            Some(QuotaOverrides {
                nodes_per_cluster: Some(40),
                ..QuotaOverrides::default()
            })
        );
        let cleared = patch(json!({"quotaOverrides": null})).unwrap();
        assert_eq!(cleared.quota_overrides, Some(QuotaOverrides::default()));
        assert_eq!(cleared.restricted, None);
        assert_eq!(patch(json!({})).unwrap(), OperatorPatch::default());
    }

    #[test]
    fn patch_reports_every_bad_value() {
        let errors = patch(json!({
            "organisationType": null,
            "restrictedToAvailableCloudProviders": "yes",
            "quotaOverrides": {"nodesPerCluster": -1, "clustersPerCustomer": 1.5,
                               "nodesPerClustr": 3, "nodePoolsPerCluster": "4"}
        }))
        .unwrap_err();
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "organisationType",
                "quotaOverrides.clustersPerCustomer",
                "quotaOverrides.nodePoolsPerCluster",
                "quotaOverrides.nodesPerCluster",
                "quotaOverrides.nodesPerClustr",
                RESTRICTED,
            ]
        );
        let errors = patch(json!({"quotaOverrides": [1], "organisationType": "HUGE"})).unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn a_type_change_is_one_change_with_the_operator_as_actor() {
        let view = view();
        let now = Utc::now();
        let patch = OperatorPatch {
            organisation_type: Some(OrganisationType::Trial),
            ..OperatorPatch::default()
        };
        let decision = update_organisation(&view, &operator(), &patch, now);
        let change = decision.change.unwrap();
        let Profile::Update(update) = &change.profile else {
            panic!("an update: {:?}", change.profile);
        };
        assert_eq!(update.read_revision(), view.organisation.revision);
        let organisation = update.organisation();
        assert_eq!(organisation.revision, view.organisation.revision + 1);
        assert_eq!(organisation.organisation_type, OrganisationType::Trial);
        // Follows the type: a trial is restricted.
        assert!(organisation.restricted_to_available_cloud_providers);
        let event = change.activity.unwrap();
        assert_eq!(event.event_type, ActivityType::OrganisationUpdated);
        assert_eq!(event.actor.actor_type, ActorType::Operator);
        assert_eq!(event.actor.subject.as_deref(), Some("op-1"));
        assert_eq!(
            event.message,
            "olga@platform.example (platform operator) changed organisationType to TRIAL, \
             restrictedToAvailableCloudProviders to true (follows the type)"
        );
        assert!(change.writes.is_empty() && change.ledger.is_none());
        assert_eq!(decision.outcome.organisation, *organisation);
    }

    #[test]
    fn restricted_is_pinned_and_released() {
        let mut view = view();
        let pinned = update_organisation(
            &view,
            &operator(),
            &OperatorPatch {
                restricted: Some(Some(true)),
                ..OperatorPatch::default()
            },
            Utc::now(),
        );
        let after = pinned.outcome.organisation;
        assert_eq!(after.restricted_override, Some(true));
        assert!(after.restricted_to_available_cloud_providers);
        view.organisation = after;
        let released = update_organisation(
            &view,
            &operator(),
            &OperatorPatch {
                restricted: Some(None),
                ..OperatorPatch::default()
            },
            Utc::now(),
        );
        let after = &released.outcome.organisation;
        assert_eq!(after.restricted_override, None);
        // A business organisation is not restricted by its type.
        assert!(!after.restricted_to_available_cloud_providers);
        assert!(released
            .change
            .unwrap()
            .activity
            .unwrap()
            .message
            .ends_with("changed restrictedToAvailableCloudProviders to follow the type (false)"));
        // The same again: nothing to write.
        view.organisation = released.outcome.organisation;
        let again = update_organisation(
            &view,
            &operator(),
            &OperatorPatch {
                restricted: Some(None),
                organisation_type: Some(view.organisation.organisation_type),
                ..OperatorPatch::default()
            },
            Utc::now(),
        );
        assert!(again.change.is_none());
    }

    #[test]
    fn overrides_replace_the_record_on_condition_of_its_version() {
        let now = Utc::now();
        let mut view = view();
        view.quotas = Some(record(
            QuotaOverrides {
                clusters_per_customer: Some(7),
                ..QuotaOverrides::default()
            },
            now - Duration::hours(1),
            3,
        ));
        let overrides = QuotaOverrides {
            nodes_per_cluster: Some(40),
            ..QuotaOverrides::default()
        };
        let decision = update_organisation(
            &view,
            &operator(),
            &OperatorPatch {
                quota_overrides: Some(overrides.clone()),
                ..OperatorPatch::default()
            },
            now,
        );
        let change = decision.change.unwrap();
        let [write] = change.writes.as_slice() else {
            panic!("one write: {:?}", change.writes);
        };
        assert_eq!(write.expect, Expect::Version(Some(3)));
        let Operation::Put(put) = &write.operation else {
            panic!("a put: {write:?}");
        };
        let Record::Resource(Resource::Quotas, stored) = put.as_ref() else {
            panic!("the QUOTAS record: {write:?}");
        };
        assert_eq!(*stored, record(overrides.clone(), now, 4));
        assert!(change.ledger.is_none(), "the record existed already");
        assert!(change
            .activity
            .unwrap()
            .message
            .ends_with("changed quotaOverrides to {nodesPerCluster 40}"));
        // Replaced, not merged: clustersPerCustomer follows the type again.
        let after = decision.outcome;
        assert_eq!(after.quota_overrides(), overrides);
        assert_eq!(
            after.quotas().clusters_per_customer,
            Quotas::defaults(view.organisation.organisation_type).clusters_per_customer
        );
        assert_eq!(after.quotas().nodes_per_cluster, 40);
    }

    #[test]
    fn a_first_override_is_counted_and_the_same_overrides_are_only_restamped() {
        let now = Utc::now();
        let first = update_organisation(
            &view(),
            &operator(),
            &OperatorPatch {
                quota_overrides: Some(QuotaOverrides::default()),
                ..OperatorPatch::default()
            },
            now,
        );
        let change = first.change.unwrap();
        // Clearing overrides that were never set changes nothing members see, but it is
        // recorded, so that an older event arriving later does not apply.
        assert_eq!(change.profile, Profile::Exists);
        assert!(change.activity.is_none());
        assert_eq!(change.ledger.unwrap().delta.resource_records, 1);
        assert_eq!(change.writes[0].expect, Expect::Version(None));
        assert_eq!(first.outcome.ledger.resource_records, 1);

        // The overrides in force, sent again: the record moves on, nothing else.
        let mut view = view();
        let same = QuotaOverrides {
            nodes_per_cluster: Some(9),
            ..QuotaOverrides::default()
        };
        view.quotas = Some(record(same.clone(), now - Duration::hours(1), 2));
        let again = update_organisation(
            &view,
            &operator(),
            &OperatorPatch {
                quota_overrides: Some(same.clone()),
                ..OperatorPatch::default()
            },
            now,
        );
        let change = again.change.unwrap();
        assert_eq!(change.profile, Profile::Exists);
        assert!(change.activity.is_none() && change.ledger.is_none());
        assert_eq!(again.outcome.quotas, Some(record(same, now, 3)));
    }

    #[test]
    fn an_operator_override_is_newer_than_a_record_dated_ahead() {
        let now = Utc::now();
        let ahead = now + Duration::minutes(3);
        assert_eq!(
            recorded_at(Some(&record(QuotaOverrides::default(), ahead, 1)), now),
            ahead + Duration::milliseconds(1)
        );
        assert_eq!(
            recorded_at(
                Some(&record(
                    QuotaOverrides::default(),
                    now - Duration::seconds(1),
                    1
                )),
                now
            ),
            now
        );
        assert_eq!(recorded_at(None, now), now);
    }

    #[test]
    fn the_view_shows_only_overridden_fields() {
        assert_eq!(overrides_json(&QuotaOverrides::default()), None);
        let shown = overrides_json(&QuotaOverrides {
            nodes_per_node_pool: Some(0),
            ..QuotaOverrides::default()
        })
        .unwrap();
        assert_eq!(Value::Object(shown), json!({"nodesPerNodePool": 0}));
    }

    #[test]
    fn the_creator_is_the_user_of_the_first_event() {
        let caller = Caller {
            operator: false,
            ..operator()
        };
        let created = ActivityEvent::new(
            ActivityType::OrganisationCreated,
            Actor::user(&caller),
            "created".into(),
            Utc::now(),
        );
        assert_eq!(
            Creator::of_first_event(&created),
            Some(Creator {
                sub: "op-1".into(),
                email: Some("olga@platform.example".into())
            })
        );
        let seeded = ActivityEvent {
            actor: Actor::system(),
            ..created
        };
        assert_eq!(Creator::of_first_event(&seeded), None);
    }
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod table_tests;
