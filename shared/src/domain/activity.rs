//! The activity log's vocabulary: who did what to an organisation, as users read it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Caller;

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
}

impl ActivityEvent {
    pub fn new(event_type: ActivityType, actor: Actor, message: String, at: DateTime<Utc>) -> Self {
        Self {
            event_type,
            actor,
            message,
            created_at: at,
        }
    }
}
