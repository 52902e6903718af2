//! The operator plane (`/admin/v1/orgs/{organisationIdentity}`): what a platform operator sees
//! of an organisation and the body of their PATCH; the pure decision that turns it into one
//! change is `decisions::operator`. Operators are not members: who may act here is
//! `authorisation::operate`; the read is `crate::access::apply_as_operator`. docs/plans.md, "The operator plane".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::activity::{ActivityEvent, ActivityType, ActorType};
use super::input::{collect, finish, Field, RequestBody};
use super::ledger::ResourceLedger;
use super::organisation::{Organisation, OrganisationType};
use super::platform::{ResourceRecord, ResourceState};
use super::quotas::{QuotaOverrides, Quotas};
use super::FieldError;

/// What the operator plane reads of an organisation, in one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorView {
    pub organisation: Organisation,
    pub ledger: ResourceLedger,
    /// The `QUOTAS` record: the overrides in force, whichever wrote them last (an operator's
    /// PATCH or a `QuotasOverridden` platform event), with the version the next write of it is
    /// conditioned on. `None`: never overridden.
    pub quotas: Option<ResourceRecord>,
    /// Who created the organisation (see [`Creator::of_first_event`]).
    pub created_by: Option<Creator>,
    /// Memberships and pending invitations, as GET .../members lists them.
    pub member_count: usize,
}

impl OperatorView {
    /// The overrides in force (none when there is no record).
    pub fn quota_overrides(&self) -> QuotaOverrides {
        match &self.quotas {
            Some(ResourceRecord {
                state: ResourceState::QuotasOverridden { overrides },
                ..
            }) => overrides.clone(),
            _ => QuotaOverrides::default(),
        }
    }

    /// The effective quotas: the type's defaults with the overrides in place (what
    /// `GET .../quotas` answers).
    pub fn quotas(&self) -> Quotas {
        Quotas::defaults(self.organisation.organisation_type).overridden(&self.quota_overrides())
    }
}

/// `createdBy` of the operator's view: the user who created the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Creator {
    pub sub: String,
    pub email: Option<String>,
}

impl Creator {
    /// The creator as the organisation's first activity event names them: `ORGANISATION_CREATED`
    /// is written in the create's own transaction, with the creator (the first admin) as its
    /// actor, and never changes, whatever happens to their membership later. `None` for an
    /// organisation not created through the API (seeded data).
    pub fn of_first_event(event: &ActivityEvent) -> Option<Self> {
        if event.event_type != ActivityType::OrganisationCreated
            || event.actor.actor_type != ActorType::User
        {
            return None;
        }
        Some(Self {
            sub: event.actor.subject.clone()?,
            email: event.actor.email.clone(),
        })
    }
}

/// The quota fields, named as in the quotas body.
pub const QUOTA_FIELDS: [&str; 6] = [
    "clustersPerCustomer",
    "clustersPerEnvironment",
    "environmentsPerCustomer",
    "nodePoolsPerCluster",
    "nodesPerCluster",
    "nodesPerNodePool",
];

fn quota_slot<'a>(overrides: &'a mut QuotaOverrides, name: &str) -> Option<&'a mut Option<i64>> {
    Some(match name {
        "clustersPerCustomer" => &mut overrides.clusters_per_customer,
        "clustersPerEnvironment" => &mut overrides.clusters_per_environment,
        "environmentsPerCustomer" => &mut overrides.environments_per_customer,
        "nodePoolsPerCluster" => &mut overrides.node_pools_per_cluster,
        "nodesPerCluster" => &mut overrides.nodes_per_cluster,
        "nodesPerNodePool" => &mut overrides.nodes_per_node_pool,
        _ => return None,
    })
}

/// The fields an override sets, by wire name, in [`QUOTA_FIELDS`] order.
pub fn overridden_fields(overrides: &QuotaOverrides) -> Vec<(&'static str, i64)> {
    let values = [
        overrides.clusters_per_customer,
        overrides.clusters_per_environment,
        overrides.environments_per_customer,
        overrides.node_pools_per_cluster,
        overrides.nodes_per_cluster,
        overrides.nodes_per_node_pool,
    ];
    QUOTA_FIELDS
        .into_iter()
        .zip(values)
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
}

/// `quotaOverrides` of the operator's view: `None` (null) when no field is overridden, else an
/// object of the overridden fields only.
pub fn overrides_json(overrides: &QuotaOverrides) -> Option<Map<String, Value>> {
    let fields = overridden_fields(overrides);
    (!fields.is_empty()).then(|| {
        fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::from(value)))
            .collect()
    })
}

pub(crate) const RESTRICTED: &str = "restrictedToAvailableCloudProviders";

/// The body of `PATCH /admin/v1/orgs/{organisationIdentity}` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OperatorPatchBody {
    pub organisation_type: Field<String>,
    pub quota_overrides: Field<Value>,
    pub restricted_to_available_cloud_providers: Field<bool>,
}

impl RequestBody for OperatorPatchBody {
    const FIELDS: &'static [&'static str] = &[
        "organisationType",
        "quotaOverrides",
        "restrictedToAvailableCloudProviders",
    ];
    /// The response's other fields.
    const READ_ONLY: &'static [&'static str] = &[
        "acceptedAgreements",
        "acceptedTerms",
        "acceptedTermsAt",
        "billingEmail",
        "companyAddress",
        "companyName",
        "computeInformation",
        "contactEmail",
        "createdAt",
        "createdBy",
        "id",
        "identity",
        "memberCount",
        "name",
        "phoneNumber",
        "quotas",
        "revision",
        "slug",
        "type",
        "validationStatus",
        "vatCode",
        "vatCodeValidated",
        "vatCodeValidatedAt",
    ];
}

/// A validated operator PATCH: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperatorPatch {
    pub organisation_type: Option<OrganisationType>,
    /// `Some(None)`: `restrictedToAvailableCloudProviders` follows the type again.
    pub restricted: Option<Option<bool>>,
    /// The overrides that replace the current ones (fields left out follow the type);
    /// `Some(QuotaOverrides::default())` clears them.
    pub quota_overrides: Option<QuotaOverrides>,
}

impl TryFrom<OperatorPatchBody> for OperatorPatch {
    type Error = Vec<FieldError>;

    /// Every problem at once: `organisationType` one of the four types (not null),
    /// `restrictedToAvailableCloudProviders` a boolean or null, `quotaOverrides` null or an
    /// object of quota fields, each a whole number ≥ 0 or null (follows the type).
    fn try_from(body: OperatorPatchBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let mut patch = Self::default();
        match &body.organisation_type {
            Field::Null => errors.push(FieldError::new("organisationType", "must not be null")),
            kind => {
                patch.organisation_type = kind.text("organisationType", &mut errors).and_then(|s| {
                    collect(OrganisationType::parse("organisationType", s), &mut errors)
                })
            }
        }
        match body.restricted_to_available_cloud_providers {
            Field::Absent => {}
            Field::Null => patch.restricted = Some(None),
            Field::Value(restricted) => patch.restricted = Some(Some(restricted)),
            Field::Invalid(_) => errors.push(FieldError::new(
                RESTRICTED,
                "must be true, false, or null to follow the organisation type",
            )),
        }
        match &body.quota_overrides {
            Field::Absent => {}
            Field::Null => patch.quota_overrides = Some(QuotaOverrides::default()),
            Field::Value(value) | Field::Invalid(value) => {
                patch.quota_overrides = parse_overrides(value, &mut errors)
            }
        }
        finish(Some(patch), errors)
    }
}

fn parse_overrides(value: &Value, errors: &mut Vec<FieldError>) -> Option<QuotaOverrides> {
    let Value::Object(fields) = value else {
        errors.push(FieldError::new(
            "quotaOverrides",
            format!(
                "must be null or an object with any of {}",
                QUOTA_FIELDS.join(", ")
            ),
        ));
        return None;
    };
    let before = errors.len();
    let mut overrides = QuotaOverrides::default();
    for (name, value) in fields {
        let field = format!("quotaOverrides.{name}");
        let Some(slot) = quota_slot(&mut overrides, name) else {
            errors.push(FieldError::new(
                field,
                format!("is not a quota (expected: {})", QUOTA_FIELDS.join(", ")),
            ));
            continue;
        };
        match value {
            Value::Null => *slot = None,
            number => match number.as_i64().filter(|n| *n >= 0) {
                Some(n) => *slot = Some(n),
                None => errors.push(FieldError::new(
                    field,
                    "must be a whole number of at least 0, or null to follow the organisation type",
                )),
            },
        }
    }
    (errors.len() == before).then_some(overrides)
}

pub(crate) fn describe_overrides(overrides: &QuotaOverrides) -> String {
    let fields = overridden_fields(overrides);
    if fields.is_empty() {
        return "none (the type's quotas)".to_owned();
    }
    let fields: Vec<String> = fields
        .into_iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    format!("{{{}}}", fields.join(", "))
}
