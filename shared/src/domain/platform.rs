//! Facts that other services of the platform publish on EventBridge (clusters, cloud accounts,
//! monitoring tenants, payment methods, operators' quota overrides), and what this service keeps
//! of them: one record per resource holding what the newest event said about it.
//!
//! Events may arrive twice and in any order. Each event asserts the state of one resource at
//! the time it happened (`occurredAt`); a record changes only for an event newer than the one it
//! holds, so a duplicate or an older event changes nothing. A deleted cluster stays deleted.
//! The wire format is documented with examples in docs/platform-events.md.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::activity::{ActivityEvent, ActivityType, Actor};
use super::ledger::LedgerDelta;
use super::quotas::QuotaOverrides;
use super::Slug;

/// The events this service consumes, by EventBridge `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    ClusterCreated,
    ClusterResized,
    ClusterDeleted,
    CloudAccountConfigured,
    CloudAccountRemoved,
    MonitoringTenantActivated,
    MonitoringTenantDeactivated,
    PaymentMethodAttached,
    PaymentMethodDetached,
    QuotasOverridden,
}

impl EventKind {
    pub const ALL: [Self; 10] = [
        Self::ClusterCreated,
        Self::ClusterResized,
        Self::ClusterDeleted,
        Self::CloudAccountConfigured,
        Self::CloudAccountRemoved,
        Self::MonitoringTenantActivated,
        Self::MonitoringTenantDeactivated,
        Self::PaymentMethodAttached,
        Self::PaymentMethodDetached,
        Self::QuotasOverridden,
    ];

    pub fn detail_type(self) -> &'static str {
        match self {
            Self::ClusterCreated => "ClusterCreated",
            Self::ClusterResized => "ClusterResized",
            Self::ClusterDeleted => "ClusterDeleted",
            Self::CloudAccountConfigured => "CloudAccountConfigured",
            Self::CloudAccountRemoved => "CloudAccountRemoved",
            Self::MonitoringTenantActivated => "MonitoringTenantActivated",
            Self::MonitoringTenantDeactivated => "MonitoringTenantDeactivated",
            Self::PaymentMethodAttached => "PaymentMethodAttached",
            Self::PaymentMethodDetached => "PaymentMethodDetached",
            Self::QuotasOverridden => "QuotasOverridden",
        }
    }

    /// The EventBridge `source` of the service that owns the fact.
    pub fn source(self) -> &'static str {
        match self {
            Self::ClusterCreated | Self::ClusterResized | Self::ClusterDeleted => {
                "platform.clusters"
            }
            Self::CloudAccountConfigured | Self::CloudAccountRemoved => "platform.cloud-accounts",
            Self::MonitoringTenantActivated | Self::MonitoringTenantDeactivated => {
                "platform.monitoring"
            }
            Self::PaymentMethodAttached | Self::PaymentMethodDetached => "platform.payments",
            Self::QuotasOverridden => "platform.operators",
        }
    }

    /// The `detail` field that names the resource (quotas belong to the organisation itself).
    fn resource_field(self) -> Option<&'static str> {
        match self {
            Self::ClusterCreated | Self::ClusterResized | Self::ClusterDeleted => Some("clusterId"),
            Self::CloudAccountConfigured | Self::CloudAccountRemoved => Some("cloudAccountId"),
            Self::MonitoringTenantActivated | Self::MonitoringTenantDeactivated => {
                Some("monitoringTenantId")
            }
            Self::PaymentMethodAttached | Self::PaymentMethodDetached => Some("paymentMethodId"),
            Self::QuotasOverridden => None,
        }
    }

    /// Breaks ties between events of one resource that happened at the same instant: a
    /// resource's life runs created → resized → deleted, so the later step wins.
    fn rank(self) -> u8 {
        match self {
            Self::ClusterResized => 1,
            Self::ClusterDeleted
            | Self::CloudAccountRemoved
            | Self::MonitoringTenantDeactivated
            | Self::PaymentMethodDetached => 2,
            _ => 0,
        }
    }

    fn from_detail_type(detail_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.detail_type() == detail_type)
    }
}

/// A resource of the organisation that another service owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Cluster(String),
    CloudAccount(String),
    MonitoringTenant(String),
    PaymentMethod(String),
    /// The operator's quota overrides of the organisation.
    Quotas,
}

/// What the newest event said about a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceState {
    ClusterActive {
        cpu_millicores: u32,
        memory_mib: u32,
    },
    ClusterDeleted,
    CloudAccountConfigured,
    CloudAccountRemoved,
    MonitoringTenantActive,
    MonitoringTenantInactive,
    PaymentMethodAttached {
        attached_at: DateTime<Utc>,
    },
    PaymentMethodDetached,
    QuotasOverridden {
        overrides: QuotaOverrides,
    },
}

impl ResourceState {
    /// What a resource in `state` adds to the ledger (nothing when there is no record).
    pub fn contribution(state: Option<&Self>) -> LedgerDelta {
        match state {
            Some(Self::ClusterActive {
                cpu_millicores,
                memory_mib,
            }) => LedgerDelta {
                active_clusters: 1,
                total_cpu_millicores: i64::from(*cpu_millicores),
                total_memory_mib: i64::from(*memory_mib),
                ..LedgerDelta::default()
            },
            Some(Self::CloudAccountConfigured) => LedgerDelta {
                cloud_accounts: 1,
                ..LedgerDelta::default()
            },
            Some(Self::MonitoringTenantActive) => LedgerDelta {
                monitoring_tenants: 1,
                ..LedgerDelta::default()
            },
            _ => LedgerDelta::default(),
        }
    }

    /// When this is an attached payment method: since when.
    pub fn attached_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::PaymentMethodAttached { attached_at } => Some(*attached_at),
            _ => None,
        }
    }

    fn is_active_cluster(state: Option<&Self>) -> bool {
        matches!(state, Some(Self::ClusterActive { .. }))
    }
}

/// The item kept per resource: its state, the event it came from, and a version that moves
/// with every write (the next write is conditioned on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub state: ResourceState,
    pub occurred_at: DateTime<Utc>,
    pub event_rank: u8,
    pub version: u64,
}

/// Why an event body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedEvent(String);

impl MalformedEvent {
    fn field(name: &str, reason: &str) -> Self {
        Self(format!("detail.{name}: {reason}"))
    }
}

/// A validated platform event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEvent {
    /// EventBridge's event id, for the logs.
    pub id: Option<String>,
    pub kind: EventKind,
    pub organisation: Slug,
    /// The identity of the organisation the producer meant: a slug freed by a delete and taken
    /// again names another organisation, whose identity differs.
    pub organisation_identity: uuid::Uuid,
    pub resource: Resource,
    pub occurred_at: DateTime<Utc>,
    /// What the event says the resource's state is.
    pub asserted: ResourceState,
}

/// How far in the future an event's `occurredAt` may lie (producers' clocks drift).
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The longest resource id accepted (ids go into sort keys and map keys).
const MAX_ID_LEN: usize = 128;

impl PlatformEvent {
    /// Parses an EventBridge event (an SQS message body): every problem is a [`MalformedEvent`].
    pub fn parse(body: &str) -> Result<Self, MalformedEvent> {
        let envelope: Value = serde_json::from_str(body)
            .map_err(|e| MalformedEvent(format!("the body is not JSON: {e}")))?;
        let text = |name: &str| envelope.get(name).and_then(Value::as_str);
        let detail_type =
            text("detail-type").ok_or_else(|| MalformedEvent("detail-type: is required".into()))?;
        let kind = EventKind::from_detail_type(detail_type).ok_or_else(|| {
            MalformedEvent(format!("detail-type: '{detail_type}' is not consumed"))
        })?;
        if text("source") != Some(kind.source()) {
            return Err(MalformedEvent(format!(
                "source: {detail_type} must come from {}",
                kind.source()
            )));
        }
        let detail = envelope
            .get("detail")
            .and_then(Value::as_object)
            .ok_or_else(|| MalformedEvent("detail: must be an object".into()))?;

        let organisation = Slug::parse(string(detail, "organisationSlug")?)
            .map_err(|e| MalformedEvent::field("organisationSlug", &e.reason))?;
        let organisation_identity = uuid::Uuid::parse_str(string(detail, "organisationIdentity")?)
            .map_err(|_| MalformedEvent::field("organisationIdentity", "must be a UUID"))?;
        let occurred_at = DateTime::parse_from_rfc3339(string(detail, "occurredAt")?)
            .map_err(|_| MalformedEvent::field("occurredAt", "must be an RFC 3339 time"))?
            .with_timezone(&Utc);
        let id = kind
            .resource_field()
            .map(|field| resource_id(detail, field))
            .transpose()?
            .unwrap_or_default();
        let (resource, asserted) = match kind {
            EventKind::ClusterCreated | EventKind::ClusterResized => (
                Resource::Cluster(id),
                ResourceState::ClusterActive {
                    cpu_millicores: amount(detail, "cpuMillicores")?,
                    memory_mib: amount(detail, "memoryMib")?,
                },
            ),
            EventKind::ClusterDeleted => (Resource::Cluster(id), ResourceState::ClusterDeleted),
            EventKind::CloudAccountConfigured => (
                Resource::CloudAccount(id),
                ResourceState::CloudAccountConfigured,
            ),
            EventKind::CloudAccountRemoved => (
                Resource::CloudAccount(id),
                ResourceState::CloudAccountRemoved,
            ),
            EventKind::MonitoringTenantActivated => (
                Resource::MonitoringTenant(id),
                ResourceState::MonitoringTenantActive,
            ),
            EventKind::MonitoringTenantDeactivated => (
                Resource::MonitoringTenant(id),
                ResourceState::MonitoringTenantInactive,
            ),
            EventKind::PaymentMethodAttached => (
                Resource::PaymentMethod(id),
                ResourceState::PaymentMethodAttached {
                    attached_at: occurred_at,
                },
            ),
            EventKind::PaymentMethodDetached => (
                Resource::PaymentMethod(id),
                ResourceState::PaymentMethodDetached,
            ),
            EventKind::QuotasOverridden => (
                Resource::Quotas,
                ResourceState::QuotasOverridden {
                    overrides: overrides(detail)?,
                },
            ),
        };
        Ok(Self {
            id: text("id").map(str::to_owned),
            kind,
            organisation,
            organisation_identity,
            resource,
            occurred_at,
            asserted,
        })
    }

    /// Whether the event claims to have happened later than `now` plus [`MAX_CLOCK_SKEW`]:
    /// applied, it would freeze its resource's state against every later real event.
    pub fn is_from_the_future(&self, now: DateTime<Utc>) -> bool {
        self.occurred_at > now + MAX_CLOCK_SKEW
    }

    /// The resource's state after this event, given its `record`; `None` when the event
    /// changes nothing: a duplicate, an event older than the record's, or anything after a
    /// cluster's deletion (cluster ids are not reused, so a deleted cluster never comes back,
    /// and a deletion applies whenever it arrives).
    ///
    /// The state is the newest event's, whatever came before, so that the outcome does not
    /// depend on the order of delivery. (A payment method's attach time is therefore that of
    /// its newest `PaymentMethodAttached`: the payments service sends one per attachment, and
    /// redeliveries carry the same `occurredAt`.)
    pub fn next_state(&self, record: Option<&ResourceRecord>) -> Option<ResourceState> {
        let Some(record) = record else {
            return Some(self.asserted.clone());
        };
        if record.state == ResourceState::ClusterDeleted {
            return None;
        }
        // A deletion wins even over newer events that overtook it: otherwise a cluster would
        // stay deleted or not depending on the order of delivery.
        let newer = (self.occurred_at, self.kind.rank()) > (record.occurred_at, record.event_rank);
        (newer || self.asserted == ResourceState::ClusterDeleted).then(|| self.asserted.clone())
    }

    /// Whether `record` is what this very event recorded (same time and kind): a redelivery,
    /// where an event that changes nothing otherwise is older than what is recorded.
    pub fn is_recorded_in(&self, record: Option<&ResourceRecord>) -> bool {
        record
            .is_some_and(|r| (r.occurred_at, r.event_rank) == (self.occurred_at, self.kind.rank()))
    }

    /// The record this event leaves, moving on from `record` to `state`.
    pub fn record(&self, record: Option<&ResourceRecord>, state: ResourceState) -> ResourceRecord {
        ResourceRecord {
            state,
            occurred_at: self.occurred_at,
            event_rank: self.kind.rank(),
            version: record.map_or(1, |r| r.version + 1),
        }
    }

    /// The activity event that members see for the change from `before` to `after`, if they
    /// care about it: clusters created and deleted, payment methods attached and detached.
    pub fn activity(
        &self,
        before: Option<&ResourceState>,
        after: &ResourceState,
    ) -> Option<ActivityEvent> {
        let (event_type, message) = match (&self.resource, after) {
            (
                Resource::Cluster(id),
                ResourceState::ClusterActive {
                    cpu_millicores,
                    memory_mib,
                },
            ) if !ResourceState::is_active_cluster(before) => (
                ActivityType::ClusterCreated,
                format!(
                    "Cluster {id} was created ({cpu_millicores} millicores CPU, {memory_mib} MiB memory)"
                ),
            ),
            (Resource::Cluster(id), ResourceState::ClusterDeleted)
                if ResourceState::is_active_cluster(before) =>
            {
                (
                    ActivityType::ClusterDeleted,
                    format!("Cluster {id} was deleted"),
                )
            }
            (Resource::PaymentMethod(id), ResourceState::PaymentMethodAttached { .. })
                if before.and_then(ResourceState::attached_at).is_none() =>
            {
                (
                    ActivityType::PaymentMethodAttached,
                    format!("Payment method {id} was attached"),
                )
            }
            (Resource::PaymentMethod(id), ResourceState::PaymentMethodDetached)
                if before.and_then(ResourceState::attached_at).is_some() =>
            {
                (
                    ActivityType::PaymentMethodDetached,
                    format!("Payment method {id} was detached"),
                )
            }
            _ => return None,
        };
        Some(ActivityEvent::new(
            event_type,
            Actor::system(),
            message,
            self.occurred_at,
        ))
    }
}

fn string<'a>(detail: &'a Map<String, Value>, field: &str) -> Result<&'a str, MalformedEvent> {
    match detail.get(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(MalformedEvent::field(field, "is required")),
        Some(_) => Err(MalformedEvent::field(field, "must be a string")),
    }
}

fn resource_id(detail: &Map<String, Value>, field: &str) -> Result<String, MalformedEvent> {
    let id = string(detail, field)?;
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.chars().any(|c| c.is_control() || c.is_whitespace());
    if valid {
        Ok(id.to_owned())
    } else {
        Err(MalformedEvent::field(
            field,
            "must be 1 to 128 characters without spaces or control characters",
        ))
    }
}

fn amount(detail: &Map<String, Value>, field: &str) -> Result<u32, MalformedEvent> {
    detail
        .get(field)
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| MalformedEvent::field(field, "must be a whole number from 0 to 4294967295"))
}

fn overrides(detail: &Map<String, Value>) -> Result<QuotaOverrides, MalformedEvent> {
    let value = detail
        .get("quotas")
        .ok_or_else(|| MalformedEvent::field("quotas", "is required"))?;
    let overrides = QuotaOverrides::deserialize(value)
        .map_err(|e| MalformedEvent::field("quotas", &e.to_string()))?;
    match overrides.negative_fields().as_slice() {
        [] => Ok(overrides),
        negative => Err(MalformedEvent::field(
            "quotas",
            &format!("{} must not be negative", negative.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str, source: &str, detail: Value) -> String {
        json!({"version": "0", "id": "e-1", "detail-type": detail_type, "source": source,
               "time": "2026-11-28T12:00:00Z", "detail": detail})
        .to_string()
    }

    fn cluster(detail_type: &str, at: &str, cpu: u32) -> PlatformEvent {
        PlatformEvent::parse(&event(
            detail_type,
            "platform.clusters",
            json!({"organisationSlug": "acme", "organisationIdentity": "6f1c2d3e-0000-4000-8000-000000000001", "clusterId": "c-1", "occurredAt": at,
                   "cpuMillicores": cpu, "memoryMib": 1024}),
        ))
        .unwrap()
    }

    /// Applies events in order to one record, as the store would.
    fn fold(events: &[&PlatformEvent]) -> Option<ResourceRecord> {
        events.iter().fold(None, |record, event| {
            match event.next_state(record.as_ref()) {
                Some(state) => Some(event.record(record.as_ref(), state)),
                None => record,
            }
        })
    }

    #[test]
    fn a_redelivery_is_told_from_an_older_event() {
        let created = cluster("ClusterCreated", "2026-11-28T12:00:00Z", 4000);
        let updated = cluster("ClusterResized", "2026-11-28T12:05:00Z", 8000);
        let recorded = fold(&[&created, &updated]);
        assert!(updated.is_recorded_in(recorded.as_ref()));
        assert!(updated.next_state(recorded.as_ref()).is_none());
        assert!(!created.is_recorded_in(recorded.as_ref()));
        assert!(created.next_state(recorded.as_ref()).is_none());
        assert!(!created.is_recorded_in(None));
    }

    #[test]
    fn parses_every_kind_and_refuses_what_does_not_fit() {
        let created = cluster("ClusterCreated", "2026-11-28T12:00:00.123Z", 4000);
        assert_eq!(created.resource, Resource::Cluster("c-1".into()));
        assert_eq!(created.id.as_deref(), Some("e-1"));
        for (body, says) in [
            ("nope".to_owned(), "not JSON"),
            (
                event("ClusterUpgraded", "platform.clusters", json!({})),
                "not consumed",
            ),
            (
                event("ClusterCreated", "platform.payments", json!({})),
                "source",
            ),
            (
                event(
                    "ClusterDeleted",
                    "platform.clusters",
                    json!({"organisationSlug": "acme", "organisationIdentity": "6f1c2d3e-0000-4000-8000-000000000001", "occurredAt": "2026-11-28T12:00:00Z"}),
                ),
                "detail.clusterId: is required",
            ),
            (
                event(
                    "ClusterCreated",
                    "platform.clusters",
                    json!({"organisationSlug": "acme", "organisationIdentity": "6f1c2d3e-0000-4000-8000-000000000001", "clusterId": "c", "occurredAt": "2026-11-28T12:00:00Z", "cpuMillicores": -1, "memoryMib": 1}),
                ),
                "detail.cpuMillicores",
            ),
            (
                event(
                    "PaymentMethodAttached",
                    "platform.payments",
                    json!({"organisationSlug": "Acme!", "organisationIdentity": "6f1c2d3e-0000-4000-8000-000000000001", "paymentMethodId": "p", "occurredAt": "2026-11-28T12:00:00Z"}),
                ),
                "detail.organisationSlug",
            ),
            (
                event(
                    "PaymentMethodAttached",
                    "platform.payments",
                    json!({"organisationSlug": "acme", "organisationIdentity": "6f1c2d3e-0000-4000-8000-000000000001", "paymentMethodId": "p", "occurredAt": "yesterday"}),
                ),
                "detail.occurredAt",
            ),
            (
                event(
                    "QuotasOverridden",
                    "platform.operators",
                    json!({"organisationSlug": "acme", "organisationIdentity": "6f1c2d3e-0000-4000-8000-000000000001", "occurredAt": "2026-11-28T12:00:00Z",
                    "quotas": {"clustersPerCustomer": -5, "clustersPerEnvironment": null, "environmentsPerCustomer": null,
                               "nodePoolsPerCluster": null, "nodesPerCluster": null, "nodesPerNodePool": null}}),
                ),
                "clustersPerCustomer must not be negative",
            ),
        ] {
            let error = PlatformEvent::parse(&body).unwrap_err();
            assert!(
                error.to_string().contains(says),
                "{error} should say {says}"
            );
        }
    }

    #[test]
    fn the_newest_event_wins_whatever_the_order() {
        let created = cluster("ClusterCreated", "2026-11-28T12:00:00Z", 1000);
        let resized = cluster("ClusterResized", "2026-11-28T12:01:00Z", 2000);
        let resized_later = cluster("ClusterResized", "2026-11-28T12:02:00Z", 3000);
        let in_order = fold(&[&created, &resized, &resized_later]);
        let shuffled = fold(&[&resized_later, &created, &resized, &created]);
        assert_eq!(
            in_order.as_ref().map(|r| &r.state),
            shuffled.as_ref().map(|r| &r.state)
        );
        assert_eq!(
            in_order.unwrap().state,
            ResourceState::ClusterActive {
                cpu_millicores: 3000,
                memory_mib: 1024
            }
        );
    }

    #[test]
    fn a_deleted_cluster_stays_deleted_whatever_the_order() {
        let created = cluster("ClusterCreated", "2026-11-28T12:00:00Z", 1000);
        let deleted = cluster("ClusterDeleted", "2026-11-28T12:00:00Z", 0);
        let resized_after = cluster("ClusterResized", "2026-11-28T13:00:00Z", 5000);
        for order in [
            [&created, &deleted, &resized_after],
            [&deleted, &created, &resized_after],
            [&resized_after, &deleted, &created],
        ] {
            assert_eq!(fold(&order).unwrap().state, ResourceState::ClusterDeleted);
        }
    }

    #[test]
    fn activity_only_for_transitions_members_care_about() {
        let created = cluster("ClusterCreated", "2026-11-28T12:00:00Z", 1000);
        let active = created.next_state(None).unwrap();
        let activity = created.activity(None, &active).unwrap();
        assert_eq!(activity.event_type, ActivityType::ClusterCreated);
        assert_eq!(activity.actor, Actor::system());
        assert_eq!(activity.created_at, created.occurred_at);
        let resized = cluster("ClusterResized", "2026-11-28T12:01:00Z", 2000);
        let bigger = resized.next_state(None).unwrap();
        assert!(resized.activity(Some(&active), &bigger).is_none());
    }
}
