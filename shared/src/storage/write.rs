//! The one write path. Every change to an organisation is decided on a read by a pure function
//! (`domain::decisions`) and written here as one TransactWriteItems: the profile under the
//! revision guard, the activity event under the new revision, the change's records with their
//! expectations. A failed guard means the read is stale: [`Store::decide_and_write`] reads and
//! decides again, after a jittered backoff ([`super::retry`]).

use std::future::Future;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::entities::{
    fields, to_item, ActivityEntry, MemberBySubject, PurgeMarker, ResourceEntry,
};
use super::keys::{self, Key};
use super::retry::{backoff, MAX_ATTEMPTS};
use super::{n, Condition, Store, StoreError};
use crate::domain::budgets::{AddressMailCounter, MAILS_PER_ADDRESS_PER_HOUR};
use crate::domain::change::{
    Change, Decision, Expect, IfNot, LedgerUpdate, Operation, Profile, Record, RecordKey, Refusal,
};
use crate::domain::Slug;

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;

/// The conflict retries of one write loop, written as the metric `ConflictRetries` when the
/// loop ends, if there were any.
struct RetriesCounted(u64);

impl Drop for RetriesCounted {
    fn drop(&mut self) {
        if self.0 > 0 {
            crate::metrics::conflict_retries(self.0);
        }
    }
}

impl Store {
    /// Reads with `read`, decides with `decide` and writes the decision's change; on a conflict
    /// (a guard failed, or DynamoDB reported a transaction conflict) runs again from the read,
    /// up to [`MAX_ATTEMPTS`] times. `read` gets the attempt number (0 first) and answers
    /// `None` when it raced another writer itself (it is then run again too).
    pub async fn decide_and_write<S, T, E, R, Fut>(
        &self,
        mut read: R,
        mut decide: impl FnMut(S) -> Result<Decision<T>, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
        R: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<Option<S>, E>>,
    {
        let mut attempt = 0;
        // However the loop ends (an answer, an error, given up, or the future dropped).
        let mut retries = RetriesCounted(0);
        loop {
            let outcome = match read(attempt).await? {
                None => None,
                Some(state) => {
                    let decision = decide(state)?;
                    match decision.change {
                        None => Some(decision.outcome),
                        Some(change) => match self.write(&change).await {
                            Ok(()) => Some(decision.outcome),
                            Err(StoreError::Conflict) => None,
                            Err(other) => return Err(other.into()),
                        },
                    }
                }
            };
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                return Err(StoreError::Conflict.into());
            }
            tracing::debug!(attempt, "write conflicted; reading again");
            retries.0 += 1;
            backoff(attempt).await;
        }
    }

    /// Writes `change` in one TransactWriteItems. When expectations fail, the refusal of the
    /// failed item that matters most is [`StoreError::Refused`]; failed expectations that only
    /// mean "read again" ([`IfNot::Retry`]), and transaction conflicts, are
    /// [`StoreError::Conflict`].
    pub async fn write(&self, change: &Change) -> Result<(), StoreError> {
        let (items, meanings) = self.transaction(change)?;
        match self.transact(items).await {
            Err(StoreError::ConditionFailed(failed)) => {
                // A refusal states a fact about what is stored now (the slug is taken, the
                // address is a member): it holds whatever else was stale, and it explains the
                // other items' failures (a taken slug fails every insert into its partition).
                let refusal = failed
                    .iter()
                    .filter_map(|i| match meanings.get(*i) {
                        Some(IfNot::Refuse(r)) => Some(*r),
                        _ => None,
                    })
                    .max_by_key(|r| precedence(*r));
                Err(refusal.map_or(StoreError::Conflict, StoreError::Refused))
            }
            other => other,
        }
    }

    /// The transaction of `change`, with what each item's failed condition means.
    fn transaction(
        &self,
        change: &Change,
    ) -> Result<(Vec<TransactWriteItem>, Vec<IfNot>), StoreError> {
        let slug = &change.slug;
        let mut items = Vec::with_capacity(change.writes.len() + 3);
        let mut meanings = Vec::with_capacity(change.writes.len() + 3);
        let revision = match &change.profile {
            Profile::Create(organisation) => {
                items.push(self.put(to_item(organisation, slug)?, Some(Condition::absent()))?);
                items.push(self.check(Key::purge(slug).into_item(), Condition::absent())?);
                meanings.extend([IfNot::Refuse(Refusal::SlugTaken); 2]);
                Some(organisation.revision)
            }
            Profile::Update(update) => {
                let organisation = update.organisation();
                items.push(self.put(
                    to_item(&organisation.clone().as_written(), slug)?,
                    Some(profile_as_read(
                        update.read_revision(),
                        organisation.profile_writes,
                    )),
                )?);
                meanings.push(IfNot::Retry);
                Some(organisation.revision)
            }
            Profile::Delete { read_revision } => {
                items.push(self.delete(
                    Key::profile(slug).into_item(),
                    Some(revision_is(*read_revision)),
                )?);
                meanings.push(IfNot::Retry);
                None
            }
            Profile::Untouched => None,
            Profile::Exists => {
                items.push(self.check(Key::profile(slug).into_item(), Condition::present())?);
                meanings.push(IfNot::Retry);
                None
            }
        };
        if let Some(event) = &change.activity {
            let seq = revision.ok_or(StoreError::InvalidChange(
                "an activity event needs a profile that moves to a new revision",
            ))?;
            items.push(self.put(
                to_item(&ActivityEntry { seq, event }, slug)?,
                Some(Condition::absent()),
            )?);
            meanings.push(IfNot::Retry);
        }
        for write in &change.writes {
            let condition = condition(&write.expect);
            items.push(match &write.operation {
                Operation::Put(record) => self.put(record_item(record, slug)?, condition),
                Operation::Remove(key) => self.delete(record_key(key, slug).into_item(), condition),
                Operation::Check(key) => self.check(
                    record_key(key, slug).into_item(),
                    condition.ok_or(StoreError::InvalidChange("a check needs an expectation"))?,
                ),
                Operation::CountMail(counter) => self.count_mail(counter),
            }?);
            meanings.push(write.if_not);
        }
        if let Some(ledger) = &change.ledger {
            items.push(self.update_ledger(slug, ledger)?);
            meanings.push(IfNot::Retry);
        }
        Ok((items, meanings))
    }

    /// One more mail to an address this clock hour: `ADD 1` on condition that the counter is
    /// below the cap. No read: DynamoDB creates the counter on its first `ADD`, and its TTL
    /// removes it after the hour.
    fn count_mail(&self, counter: &AddressMailCounter) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(
                Key::address_mail_counter(&counter.address_hash, counter.hour).into_item(),
            ))
            .update_expression("ADD #sent :one SET #entity = :entity, #expires = :expires")
            .expression_attribute_names("#entity", super::entities::ENTITY)
            .expression_attribute_names("#expires", fields::EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":entity", super::s(super::entities::ADDRESS_MAIL_COUNTER))
            .expression_attribute_values(":expires", n(counter.expires_at()));
        let update = Condition::new("attribute_not_exists(#sent) OR #sent < :cap")
            .name("#sent", fields::SENT)
            .value(":cap", n(MAILS_PER_ADDRESS_PER_HOUR))
            .apply_update(update)
            .build()
            .map_err(|_| StoreError::InvalidChange("mail counter update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The ledger's counters and totals are `ADD`ed: computed from the record as read, they
    /// are right exactly when the record's condition in the same transaction holds.
    fn update_ledger(
        &self,
        slug: &Slug,
        ledger: &LedgerUpdate,
    ) -> Result<TransactWriteItem, StoreError> {
        use fields::*;
        let delta = ledger.delta;
        // Every counter is added to, zero or not: the delete guard compares all three with 0,
        // and an attribute that was never written compares equal to nothing.
        let mut expression = "ADD #clusters :clusters, #accounts :accounts, #tenants :tenants, \
             #cpu :cpu, #memory :memory, #records :records"
            .to_owned();
        let mut conditions: Vec<&str> = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Key::ledger(slug).into_item()))
            .expression_attribute_names("#clusters", ACTIVE_CLUSTERS)
            .expression_attribute_names("#accounts", CLOUD_ACCOUNTS)
            .expression_attribute_names("#tenants", MONITORING_TENANTS)
            .expression_attribute_names("#cpu", TOTAL_CPU_MILLICORES)
            .expression_attribute_names("#memory", TOTAL_MEMORY_MIB)
            .expression_attribute_names("#records", RESOURCE_RECORDS)
            .expression_attribute_values(":records", n(delta.resource_records))
            .expression_attribute_names("#entity", super::entities::ENTITY)
            .expression_attribute_values(":clusters", n(delta.active_clusters))
            .expression_attribute_values(":accounts", n(delta.cloud_accounts))
            .expression_attribute_values(":tenants", n(delta.monitoring_tenants))
            .expression_attribute_values(":cpu", n(delta.total_cpu_millicores))
            .expression_attribute_values(":memory", n(delta.total_memory_mib))
            .expression_attribute_values(
                ":entity",
                super::s(<crate::domain::ledger::ResourceLedger as super::entities::Entity>::TYPE),
            );
        expression.push_str(" SET #entity = :entity");
        if let Some(payments) = &ledger.payments {
            expression.push_str(", #methods = :methods, #payment_version = :payment_version");
            update = update
                .expression_attribute_names("#methods", PAYMENT_METHODS)
                .expression_attribute_names("#payment_version", PAYMENT_VERSION)
                .expression_attribute_values(
                    ":methods",
                    serde_dynamo::to_attribute_value(&payments.payment_methods)?,
                )
                .expression_attribute_values(":payment_version", n(payments.payment_version))
                .expression_attribute_names("#attached_at", PAYMENT_METHOD_ATTACHED_AT);
            match payments.payment_method_attached_at {
                Some(at) => {
                    expression.push_str(", #attached_at = :attached_at");
                    update = update.expression_attribute_values(
                        ":attached_at",
                        serde_dynamo::to_attribute_value(at)?,
                    );
                }
                None => expression.push_str(" REMOVE #attached_at"),
            }
            let read_version = payments.payment_version.saturating_sub(1);
            if read_version == 0 {
                conditions.push("attribute_not_exists(#payment_version)");
            } else {
                conditions.push("#payment_version = :read_payment_version");
                update =
                    update.expression_attribute_values(":read_payment_version", n(read_version));
            }
        }
        if let Some(max) = ledger.records_below {
            conditions.push("(attribute_not_exists(#records) OR #records < :max_records)");
            update = update.expression_attribute_values(":max_records", n(max));
        }
        if !conditions.is_empty() {
            update = Condition::new(conditions.join(" AND ")).apply_update(update);
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(|_| StoreError::InvalidChange("ledger update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// Which refusal a request is told about when several items failed: registering twice is
/// what a user must hear first; a taken slug explains every other clash in its partition (the
/// creator's e-mail lookup there, say).
fn precedence(refusal: Refusal) -> u8 {
    match refusal {
        // A repeated request explains every other clash: it made them.
        Refusal::IdempotencyKeyUsed => 4,
        Refusal::AlreadyRegistered => 3,
        Refusal::SlugTaken => 2,
        Refusal::MemberEmailTaken | Refusal::CodeUsed => 1,
        // Only a full counter: any other refusal is the request's answer.
        Refusal::AddressMailCap => 0,
    }
}

/// The stored profile is at `revision`.
/// The profile is still the one a change was decided on: at its revision, and written as many
/// times (a resend writes it at the same revision). A profile stored before the count existed
/// has none, which counts as 0.
fn profile_as_read(revision: u64, writes: u64) -> Condition {
    let writes_as_read = if writes == 0 {
        "(attribute_not_exists(#writes) OR #writes = :writes)"
    } else {
        "#writes = :writes"
    };
    Condition::new(format!("#revision = :revision AND {writes_as_read}"))
        .name("#revision", fields::REVISION)
        .value(":revision", n(revision))
        .name("#writes", fields::PROFILE_WRITES)
        .value(":writes", n(writes))
}

fn revision_is(revision: u64) -> Condition {
    Condition::new("#revision = :revision")
        .name("#revision", fields::REVISION)
        .value(":revision", n(revision))
}

fn condition(expect: &Expect) -> Option<Condition> {
    match expect {
        Expect::Anything => None,
        Expect::Absent | Expect::Version(None) => Some(Condition::absent()),
        Expect::Present => Some(Condition::present()),
        Expect::Version(Some(version)) => Some(
            Condition::new("#version = :version")
                .name("#version", fields::VERSION)
                .value(":version", n(version)),
        ),
        Expect::Unused => Some(
            Condition::new("attribute_exists(#pk) AND attribute_not_exists(#used_at)")
                .name("#pk", keys::PK)
                .name("#used_at", fields::USED_AT),
        ),
        Expect::Unclaimed => Some(
            Condition::new("attribute_exists(#pk) AND attribute_not_exists(#subject)")
                .name("#pk", keys::PK)
                .name("#subject", fields::SUBJECT),
        ),
        Expect::LedgerClear => Some(
            Condition::new(
                "attribute_not_exists(#pk) OR (#clusters = :zero AND #accounts = :zero AND #tenants = :zero)",
            )
            .name("#pk", keys::PK)
            .name("#clusters", fields::ACTIVE_CLUSTERS)
            .name("#accounts", fields::CLOUD_ACCOUNTS)
            .name("#tenants", fields::MONITORING_TENANTS)
            .value(":zero", n(0)),
        ),
    }
}

fn record_item(record: &Record, slug: &Slug) -> Result<super::Item, StoreError> {
    match record {
        Record::Member(member) => to_item(member, slug),
        Record::MemberBySubject(member) => to_item(&MemberBySubject(member), slug),
        Record::MemberByEmail(lookup) => to_item(lookup, slug),
        Record::Resource(resource, record) => to_item(&ResourceEntry { resource, record }, slug),
        Record::OrganisationIdentity(lookup) => to_item(lookup, slug),
        Record::Registration(registration) => to_item(registration, slug),
        Record::Deletion(deletion) => to_item(deletion, slug),
        Record::EmailCode(code) => to_item(code, slug),
        Record::PurgeMarker { deleted_at } => to_item(
            &PurgeMarker {
                slug: slug.clone(),
                deleted_at: *deleted_at,
            },
            slug,
        ),
        Record::CreationLog(log) => to_item(log, slug),
        Record::Idempotency(record) => to_item(record, slug),
    }
}

fn record_key(key: &RecordKey, slug: &Slug) -> Key {
    match key {
        RecordKey::Member(identity) => Key::member(slug, *identity),
        RecordKey::MemberBySubject(subject) => Key::member_by_subject(slug, subject.as_str()),
        RecordKey::MemberByEmail(email) => Key::member_by_email(slug, email),
        RecordKey::OrganisationIdentity(identity) => Key::organisation_identity(*identity),
        RecordKey::EmailCode(hash) => Key::email_code(hash),
        RecordKey::Ledger => Key::ledger(slug),
    }
}

/// The operator plane's read (`/admin/v1/orgs/{organisationIdentity}`): the operator is
/// authorised by the request layer (`crate::access::apply_as_operator`), not by a membership.
mod operators {
    use uuid::Uuid;

    use super::super::entities::{entity_type, from_item, ActivityEntry, Entity, ResourceEntry};
    use super::super::keys::Key;
    use super::super::{Store, StoreError};
    use crate::domain::activity::ActivityEvent;
    use crate::domain::ledger::ResourceLedger;
    use crate::domain::operator::{Creator, OperatorView};
    use crate::domain::organisation::Organisation;
    use crate::domain::platform::{Resource, ResourceRecord};
    use crate::domain::Slug;

    impl Store {
        /// One BatchGet: the profile, the ledger, the `QUOTAS` record and the first activity
        /// event (who created the organisation); beside it the members' Query (the member
        /// count): one round trip on the critical path. `None` when there is no profile, or when it is
        /// another organisation's (the one `identity` named was deleted and its slug reused).
        pub async fn operator_view(
            &self,
            slug: &Slug,
            identity: Uuid,
        ) -> Result<Option<OperatorView>, StoreError> {
            let wanted = vec![
                Key::profile(slug),
                Key::ledger(slug),
                Key::resource(slug, &Resource::Quotas),
                Key::activity(slug, 1),
            ];
            let mut organisation: Option<Organisation> = None;
            let mut ledger = ResourceLedger::default();
            let mut quotas: Option<ResourceRecord> = None;
            let mut first_event: Option<ActivityEvent> = None;
            // Boxed: the Query's future would make the read's future large.
            let (items, members) =
                futures_util::future::join(self.get_all(wanted), Box::pin(self.members(slug)))
                    .await;
            let member_count = members?.len();
            for item in items? {
                match entity_type(&item) {
                    Some(Organisation::TYPE) => organisation = Some(from_item(item)?),
                    Some(ResourceLedger::TYPE) => ledger = from_item(item)?,
                    Some(ResourceEntry::TYPE) => quotas = Some(from_item(item)?),
                    Some(ActivityEntry::TYPE) => first_event = Some(from_item(item)?),
                    _ => {}
                }
            }
            Ok(organisation
                .filter(|organisation| organisation.identity == identity)
                .map(|organisation| OperatorView {
                    organisation,
                    ledger,
                    quotas,
                    created_by: first_event.as_ref().and_then(Creator::of_first_event),
                    member_count,
                }))
        }
    }
}
