//! Memberships: listing, adding, removing, and binding an invitation to its user on first use.
//! Keys: [`super::keys`] (`MEMBER#`, `MEMBERSUB#`, `MEMBEREMAIL#`).

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use uuid::Uuid;

use super::keys::{self, org_pk};
use super::organisations::EmailLookup;
use super::{from_item, key, n, s, to_item, Condition, Store, StoreError};
use crate::domain::activity::ActivityEvent;
use crate::domain::member::{Member, Role};
use crate::domain::organisation::Organisation;
use crate::domain::Slug;

impl Store {
    /// Every member of the organisation: one Query (`begins_with(sk, "MEMBER#")`), more only
    /// when the members exceed DynamoDB's 1 MB page (several thousand members).
    pub async fn members(&self, slug: &Slug) -> Result<Vec<Member>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(slug)))
            .expression_attribute_values(":prefix", s(keys::MEMBER_PREFIX))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    pub async fn member(&self, slug: &Slug, identity: Uuid) -> Result<Option<Member>, StoreError> {
        self.get(key(org_pk(slug), keys::member_sk(identity)))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Moves the organisation's revision from `organisation.revision` to the next, adjusting
    /// the admin count by `admin_delta`: the guard of every membership change.
    pub fn advance_revision(
        &self,
        organisation: &Organisation,
        admin_delta: i32,
    ) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(&organisation.slug), keys::PROFILE_SK)))
            .update_expression("SET revision = :next, admin_count = :admins")
            .condition_expression("revision = :revision")
            .expression_attribute_values(":revision", n(organisation.revision))
            .expression_attribute_values(":next", n(organisation.revision + 1))
            .expression_attribute_values(
                ":admins",
                n(i64::from(organisation.admin_count) + i64::from(admin_delta)),
            )
            .build()
            .expect("table, key and expressions are set");
        TransactWriteItem::builder().update(update).build()
    }

    /// Adds `member`. `Ok(false)` when the e-mail address already holds a membership.
    pub async fn add_member(
        &self,
        organisation: &Organisation,
        member: &Member,
        event: &ActivityEvent,
    ) -> Result<bool, StoreError> {
        let admin_delta = i32::from(member.role == Role::Admin);
        let guards = vec![self.advance_revision(organisation, admin_delta)];
        let mut rest =
            vec![self.put_activity(&organisation.slug, organisation.revision + 1, event)?];
        rest.extend(self.put_member_items(&organisation.slug, member)?);
        match self.commit(guards, rest).await {
            Ok(()) => Ok(true),
            // Only the member items carry conditions of their own: the e-mail is taken.
            Err(StoreError::ConditionFailed(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Removes `member` with its lookup items.
    pub async fn remove_member(
        &self,
        organisation: &Organisation,
        member: &Member,
        event: &ActivityEvent,
    ) -> Result<(), StoreError> {
        let pk = org_pk(&organisation.slug);
        let admin_delta = -i32::from(member.role == Role::Admin);
        let guards = vec![
            self.advance_revision(organisation, admin_delta),
            self.delete(
                key(&pk, keys::member_sk(member.identity)),
                Some(Condition::present()),
            ),
        ];
        let mut rest =
            vec![self.put_activity(&organisation.slug, organisation.revision + 1, event)?];
        if let Some(email) = &member.email {
            rest.push(self.delete(key(&pk, keys::member_email_sk(email)), None));
        }
        if let Some(subject) = &member.subject {
            rest.push(self.delete(key(&pk, keys::member_subject_sk(subject)), None));
        }
        self.commit(guards, rest).await
    }

    /// Binds the invitation `member` (found by e-mail, no subject yet) to `bound.subject`.
    /// The e-mail lookup must still be unclaimed.
    pub async fn bind_member(
        &self,
        organisation: &Organisation,
        bound: &Member,
        event: &ActivityEvent,
    ) -> Result<(), StoreError> {
        let pk = org_pk(&organisation.slug);
        let (Some(email), Some(subject)) = (&bound.email, &bound.subject) else {
            return Err(StoreError::ConditionFailed(Vec::new()));
        };
        let unclaimed = Condition::new("attribute_exists(pk) AND attribute_not_exists(subject)");
        self.commit(
            vec![
                self.advance_revision(organisation, 0),
                self.put(
                    to_item(
                        &pk,
                        keys::member_email_sk(email),
                        &EmailLookup {
                            member_identity: bound.identity,
                            subject: Some(subject.clone()),
                        },
                    )?,
                    Some(unclaimed),
                ),
                self.put(
                    to_item(&pk, keys::member_sk(bound.identity), bound)?,
                    Some(Condition::present()),
                ),
            ],
            vec![
                self.put(
                    to_item(&pk, keys::member_subject_sk(subject), bound)?,
                    Some(Condition::absent()),
                ),
                self.put_activity(&organisation.slug, organisation.revision + 1, event)?,
            ],
        )
        .await
    }
}
