//! Membership of a user in an organisation, and the roles that decide what the user may do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::input::{collect, finish, Field, RequestBody};
use super::FieldError;
use super::{bounded_text, Email, EmailObject, Subject};

/// What a member may do in the organisation (docs/members.md): admins change settings and members and
/// may delete the organisation; every member may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Admin,
    Developer,
    BillingAdmin,
    Viewer,
}

impl Role {
    pub const ALL: [Self; 4] = [
        Self::Admin,
        Self::Developer,
        Self::BillingAdmin,
        Self::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::BillingAdmin => "billing-admin",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let wanted = value.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    "must be one of admin, developer, billing-admin, viewer",
                )
            })
    }
}

/// The member's role inside the organisation's Kubernetes clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KubernetesRole {
    ClusterAdmin,
    Edit,
    View,
    None,
}

impl KubernetesRole {
    pub const ALL: [Self; 4] = [Self::ClusterAdmin, Self::Edit, Self::View, Self::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterAdmin => "CLUSTER_ADMIN",
            Self::Edit => "EDIT",
            Self::View => "VIEW",
            Self::None => "NONE",
        }
    }

    /// Accepts the contract's `CLUSTER_ADMIN|EDIT|VIEW|NONE` and the lowercase
    /// `cluster-admin|edit|view|none`.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let wanted = value.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| FieldError::new(field, "must be one of CLUSTER_ADMIN, EDIT, VIEW, NONE"))
    }
}

/// A membership as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub identity: Uuid,
    pub email: Option<Email>,
    pub username: Option<String>,
    pub role: Role,
    pub kubernetes_role: KubernetesRole,
    /// The token `sub` bound to this membership; `None` until the invited person first uses the
    /// API with a verified token for this e-mail address.
    pub subject: Option<Subject>,
    pub joined_at: DateTime<Utc>,
    /// When the membership was an invitation: when it was sent and until when it may be
    /// claimed (`domain::memberships`). Absent for creators and memberships stored before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
}

/// An invitation's times: sent at `invited_at` (or re-sent), claimable until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub invited_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The body of `POST .../members` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AddMemberBody {
    pub email: Field<serde_json::Value>,
    pub kubernetes_role: Field<String>,
    pub role: Field<String>,
    pub username: Field<String>,
}

impl RequestBody for AddMemberBody {
    const FIELDS: &'static [&'static str] = &["email", "role", "kubernetesRole", "username"];
    const READ_ONLY: &'static [&'static str] = &["identity", "joinedAt", "subject"];
}

/// A validated `POST .../members` body: who is invited, with which roles.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub email: Email,
    pub role: Role,
    pub kubernetes_role: KubernetesRole,
    pub username: Option<String>,
}

impl TryFrom<AddMemberBody> for NewMember {
    type Error = Vec<FieldError>;

    fn try_from(body: AddMemberBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let email = match body.email.json() {
            None => {
                errors.push(FieldError::new("email", "is required"));
                None
            }
            Some(v) => collect(Email::from_json("email", v), &mut errors),
        };
        let role = body
            .role
            .required_text("role", &mut errors)
            .and_then(|r| collect(Role::parse("role", r), &mut errors));
        let kubernetes_role = match body.kubernetes_role.text("kubernetesRole", &mut errors) {
            Some(k) => collect(KubernetesRole::parse("kubernetesRole", k), &mut errors),
            None => Some(KubernetesRole::None),
        };
        let username = body
            .username
            .text("username", &mut errors)
            .and_then(|u| collect(bounded_text("username", u, 255), &mut errors))
            .flatten();
        let parsed = match (email, role, kubernetes_role) {
            (Some(email), Some(role), Some(kubernetes_role)) => Some(Self {
                email,
                role,
                kubernetes_role,
                username,
            }),
            _ => None,
        };
        finish(parsed, errors)
    }
}

impl NewMember {
    /// The membership: an invitation until its owner first uses the API.
    pub fn invitation(self, identity: Uuid, now: DateTime<Utc>) -> Member {
        Member {
            identity,
            email: Some(self.email),
            username: self.username,
            role: self.role,
            kubernetes_role: self.kubernetes_role,
            subject: None,
            joined_at: now,
            invitation: None,
        }
    }
}

/// Member fields a list may be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberSort {
    JoinedAt,
    Email,
    Username,
    Role,
}

impl MemberSort {
    pub const ALL: [Self; 4] = [Self::JoinedAt, Self::Email, Self::Username, Self::Role];

    pub fn wire_name(self) -> &'static str {
        match self {
            Self::JoinedAt => "joinedAt",
            Self::Email => "email",
            Self::Username => "username",
            Self::Role => "role",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.wire_name() == name)
    }

    /// Sorts `members` by this field, ties broken by identity (a stable, total order).
    pub fn sort(self, members: &mut [Member], descending: bool) {
        members.sort_by(|a, b| {
            let order = match self {
                Self::Email => a
                    .email
                    .as_ref()
                    .map(Email::key)
                    .cmp(&b.email.as_ref().map(Email::key)),
                Self::Username => a.username.cmp(&b.username),
                Self::Role => a.role.as_str().cmp(b.role.as_str()),
                Self::JoinedAt => a.joined_at.cmp(&b.joined_at),
            }
            .then_with(|| a.identity.cmp(&b.identity));
            if descending {
                order.reverse()
            } else {
                order
            }
        });
    }
}

/// `OrganisationMemberResponse` of the contract (also the `/me` response).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberResponse<'a> {
    pub email: Option<EmailObject>,
    pub identity: Uuid,
    pub joined_at: DateTime<Utc>,
    pub kubernetes_role: KubernetesRole,
    pub role: Role,
    pub subject: Option<&'a str>,
    pub username: Option<&'a str>,
}

impl<'a> From<&'a Member> for MemberResponse<'a> {
    fn from(m: &'a Member) -> Self {
        Self {
            email: m.email.as_ref().map(|e| EmailObject {
                email: e.as_str().to_owned(),
            }),
            identity: m.identity,
            joined_at: m.joined_at,
            kubernetes_role: m.kubernetes_role,
            role: m.role,
            subject: m.subject.as_ref().map(Subject::as_str),
            username: m.username.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_accept_documented_spellings() {
        assert_eq!(
            Role::parse("role", "billing-admin").unwrap(),
            Role::BillingAdmin
        );
        assert_eq!(
            Role::parse("role", "BILLING_ADMIN").unwrap(),
            Role::BillingAdmin
        );
        assert!(Role::parse("role", "owner").is_err());
        assert_eq!(
            KubernetesRole::parse("k", "cluster-admin").unwrap(),
            KubernetesRole::ClusterAdmin
        );
        assert_eq!(
            KubernetesRole::parse("k", "VIEW").unwrap(),
            KubernetesRole::View
        );
        assert!(KubernetesRole::parse("k", "root").is_err());
        assert_eq!(
            serde_json::to_string(&Role::BillingAdmin).unwrap(),
            "\"billing-admin\""
        );
    }
}
