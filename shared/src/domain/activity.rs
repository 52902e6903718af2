//! The activity log's vocabulary: who did what to an organisation, as users read it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::organisation::Organisation;
use super::verification::VatStatus;
use super::{Caller, Slug};
use uuid::Uuid;

/// One kind of change. The wire value is the SCREAMING_SNAKE_CASE name (docs/activity.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityType {
    OrganisationCreated,
    OrganisationUpdated,
    MemberAdded,
    MemberRemoved,
    /// An invited member used the API for the first time and the invitation was bound to them.
    MemberJoined,
    /// A member left the organisation (`DELETE /api/v1/memberships/{organisationIdentity}`).
    MemberLeft,
    /// An invited person declined their invitation (same route, before joining).
    InvitationDeclined,
    /// An admin changed a member's role or Kubernetes role.
    MemberUpdated,
    /// The owner of an address opened its verification link.
    EmailVerified,
    /// VIES's verdict on the VAT number changed (scheduled re-validation).
    VatStatusChanged,
    /// An admin confirmed the legal entity name and/or address VIES holds.
    VatLegalEntityConfirmed,
    /// Platform events (actor `SYSTEM`): see docs/platform-events.md.
    ClusterCreated,
    ClusterDeleted,
    PaymentMethodAttached,
    PaymentMethodDetached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorType {
    User,
    System,
    /// A platform operator acting on the operator plane (`/admin/v1/orgs/...`), not as a member.
    Operator,
}

/// Who caused an event: a user (with the identity their token carried), a platform operator, or
/// the platform itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(rename = "type")]
    pub actor_type: ActorType,
    pub subject: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
}

impl Actor {
    pub fn user(caller: &Caller) -> Self {
        Self {
            actor_type: ActorType::User,
            subject: Some(caller.subject.as_str().to_owned()),
            username: caller.username.clone(),
            // An e-mail the identity provider has not verified is not an identity.
            email: caller.verified_email().map(|e| e.as_str().to_owned()),
        }
    }

    /// A platform operator: the identity their token carried, marked as an operator.
    pub fn operator(caller: &Caller) -> Self {
        Self {
            actor_type: ActorType::Operator,
            ..Self::user(caller)
        }
    }

    pub fn system() -> Self {
        Self {
            actor_type: ActorType::System,
            subject: None,
            username: None,
            email: None,
        }
    }

    /// How the actor is named in messages.
    pub fn display_name(&self) -> &str {
        match self.actor_type {
            ActorType::System => "The platform",
            ActorType::User | ActorType::Operator => self
                .email
                .as_deref()
                .or(self.username.as_deref())
                .or(self.subject.as_deref())
                .unwrap_or("A user"),
        }
    }
}

/// Activity lists sort by time only (the log is in revision order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivitySort {
    CreatedAt,
}

/// An event as stored and served (`ActivityEventResponse`), plus its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEvent {
    #[serde(rename = "type")]
    pub event_type: ActivityType,
    pub actor: Actor,
    pub message: String,
    pub created_at: DateTime<Utc>,
    /// What the change publishes on the service's event bus (docs/events.md). Stored with the
    /// event (`storage::entities::ActivityEntry` writes it), never served: the activity API
    /// serialises this type, and this field is skipped when serialising.
    #[serde(default, skip_serializing)]
    pub outbound: Option<Outbound>,
}

impl ActivityEvent {
    pub fn new(event_type: ActivityType, actor: Actor, message: String, at: DateTime<Utc>) -> Self {
        Self {
            event_type,
            actor,
            message,
            created_at: at,
            outbound: None,
        }
    }

    /// The event with what its change publishes.
    pub fn with_outbound(mut self, outbound: Outbound) -> Self {
        self.outbound = Some(outbound);
        self
    }
}

// --- outbound events (docs/events.md) ------------------------------------------------------

/// The `detail-type`s the service publishes on its own bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetailType {
    OrganisationCreated,
    OrganisationUpdated,
    OrganisationTypeChanged,
    OrganisationDeleted,
    MemberAdded,
    MemberJoined,
    MemberRemoved,
    EmailVerified,
    VatStatusChanged,
    QuotasChanged,
    MemberLeft,
    InvitationDeclined,
    MemberUpdated,
}

impl DetailType {
    pub const ALL: [Self; 13] = [
        Self::OrganisationCreated,
        Self::OrganisationUpdated,
        Self::OrganisationTypeChanged,
        Self::OrganisationDeleted,
        Self::MemberAdded,
        Self::MemberJoined,
        Self::MemberRemoved,
        Self::EmailVerified,
        Self::VatStatusChanged,
        Self::QuotasChanged,
        Self::MemberLeft,
        Self::InvitationDeclined,
        Self::MemberUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrganisationCreated => "OrganisationCreated",
            Self::OrganisationUpdated => "OrganisationUpdated",
            Self::OrganisationTypeChanged => "OrganisationTypeChanged",
            Self::OrganisationDeleted => "OrganisationDeleted",
            Self::MemberAdded => "MemberAdded",
            Self::MemberJoined => "MemberJoined",
            Self::MemberRemoved => "MemberRemoved",
            Self::EmailVerified => "EmailVerified",
            Self::VatStatusChanged => "VatStatusChanged",
            Self::QuotasChanged => "QuotasChanged",
            Self::MemberLeft => "MemberLeft",
            Self::InvitationDeclined => "InvitationDeclined",
            Self::MemberUpdated => "MemberUpdated",
        }
    }
}

/// Who caused an outbound event: the activity's actor without its e-mail address (events go to
/// billing, provisioning and the CRM; docs/events.md, "Personal data").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundActor {
    /// `user`, `operator` or `system`.
    #[serde(rename = "type")]
    pub actor_type: String,
    pub sub: Option<String>,
    pub username: Option<String>,
}

impl From<&Actor> for OutboundActor {
    fn from(actor: &Actor) -> Self {
        let actor_type = match actor.actor_type {
            ActorType::User => "user",
            ActorType::Operator => "operator",
            ActorType::System => "system",
        };
        Self {
            actor_type: actor_type.to_owned(),
            sub: actor.subject.clone(),
            username: actor.username.clone(),
        }
    }
}

/// One event of a change: its `detail-type` and the fields of its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundEvent {
    pub detail_type: DetailType,
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What one change publishes: the organisation it changed, its revision after the change, when
/// and by whom, and its events in order (an event's position in `events` is part of its
/// `eventId`). Decisions fill it in; it is stored in the change's own transaction (with its
/// activity event, or in the deletion record), and the `event-publisher` function publishes it
/// from the table's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbound {
    pub organisation_identity: Uuid,
    pub organisation_slug: Slug,
    pub revision: u64,
    pub occurred_at: DateTime<Utc>,
    pub actor: OutboundActor,
    pub events: Vec<OutboundEvent>,
}

impl Outbound {
    /// No events yet, for `organisation` at its revision after the change.
    pub fn new(organisation: &Organisation, actor: &Actor, at: DateTime<Utc>) -> Self {
        Self {
            organisation_identity: organisation.identity,
            organisation_slug: organisation.slug.clone(),
            revision: organisation.revision,
            occurred_at: at,
            actor: OutboundActor::from(actor),
            events: Vec::new(),
        }
    }

    /// Adds an event of `detail_type` with `fields` (a JSON object; anything else adds none).
    pub fn event(mut self, detail_type: DetailType, fields: serde_json::Value) -> Self {
        let fields = match fields {
            serde_json::Value::Object(fields) => fields,
            _ => serde_json::Map::new(),
        };
        self.events.push(OutboundEvent {
            detail_type,
            fields,
        });
        self
    }

    /// Adds `VatStatusChanged` when the VAT status differs between `before` (`None`: a new
    /// organisation) and `after`.
    pub fn vat_status_change(self, before: Option<&Organisation>, after: &Organisation) -> Self {
        let previous = before.and_then(|o| o.verification.vat_status);
        let status = after.verification.vat_status;
        if previous == status {
            return self;
        }
        self.event(
            DetailType::VatStatusChanged,
            serde_json::json!({
                "vatNumber": after.vat_code,
                "vatStatus": status.map(VatStatus::as_str),
                "previousVatStatus": previous.map(VatStatus::as_str),
                "vatCodeValidated": after.vat_code_validated,
            }),
        )
    }
}
