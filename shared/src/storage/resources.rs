//! Resources that other platform services own: one item per resource (`CLUSTER#`,
//! `CLOUDACCOUNT#`, `TENANT#`, `PAYMENT#`, `QUOTAS`) and the `LEDGER` they add up to. Keys:
//! [`super::keys`].

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::keys::{self, org_pk};
use super::{key, n, to_item, Condition, Store, StoreError};
use crate::domain::activity::ActivityEvent;
use crate::domain::ledger::{LedgerDelta, ResourceLedger};
use crate::domain::organisation::Organisation;
use crate::domain::platform::{Resource, ResourceRecord};
use crate::domain::Slug;

/// A resource change decided on what was read: the new record, what it changes in the ledger
/// and the activity event members see, if any.
#[derive(Debug)]
pub struct ResourceWrite<'a> {
    /// The organisation as read (its revision, when there is an activity event).
    pub organisation: &'a Organisation,
    pub resource: &'a Resource,
    /// The version of the record that was read; `None` when there was none.
    pub read_version: Option<u64>,
    pub record: &'a ResourceRecord,
    pub delta: LedgerDelta,
    /// The ledger's payment methods after the change, when they change.
    pub payments: Option<&'a ResourceLedger>,
    pub activity: Option<&'a ActivityEvent>,
}

impl Store {
    /// Writes a resource change in one TransactWriteItems. Every condition guards something
    /// the decision rested on, so any failure means "changed since read" ([`StoreError::Conflict`]):
    /// the organisation still exists (or is still at the revision read, when an activity event
    /// takes the next number), the record is still the version read, the payment methods are
    /// still the version read. The counters and totals are `ADD`ed: computed from the record
    /// as read, they are right exactly when the record's condition holds.
    pub async fn write_resource(&self, write: &ResourceWrite<'_>) -> Result<(), StoreError> {
        let organisation = write.organisation;
        let pk = org_pk(&organisation.slug);
        let mut guards = vec![match write.activity {
            Some(_) => self.advance_revision(organisation, 0),
            None => self.check(key(&pk, keys::PROFILE_SK), Condition::present()),
        }];
        let unchanged = match write.read_version {
            None => Condition::absent(),
            Some(version) => Condition::new("#version = :version")
                .name("#version", "version")
                .value(":version", n(version)),
        };
        guards.push(self.put(
            to_item(&pk, keys::resource_sk(write.resource), write.record)?,
            Some(unchanged),
        ));
        if !write.delta.is_zero() || write.payments.is_some() {
            guards.push(self.update_ledger(&organisation.slug, write.delta, write.payments)?);
        }
        let rest = match write.activity {
            Some(event) => {
                vec![self.put_activity(&organisation.slug, organisation.revision + 1, event)?]
            }
            None => Vec::new(),
        };
        self.commit(guards, rest).await
    }

    fn update_ledger(
        &self,
        slug: &Slug,
        delta: LedgerDelta,
        payments: Option<&ResourceLedger>,
    ) -> Result<TransactWriteItem, StoreError> {
        // Every counter is added to, zero or not: the delete guard compares all three with 0,
        // and an attribute that was never written compares equal to nothing.
        let mut expression = "ADD active_clusters :clusters, cloud_accounts :accounts, \
             monitoring_tenants :tenants, total_cpu_millicores :cpu, total_memory_mib :memory"
            .to_owned();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(slug), keys::LEDGER_SK)))
            .expression_attribute_values(":clusters", n(delta.active_clusters))
            .expression_attribute_values(":accounts", n(delta.cloud_accounts))
            .expression_attribute_values(":tenants", n(delta.monitoring_tenants))
            .expression_attribute_values(":cpu", n(delta.total_cpu_millicores))
            .expression_attribute_values(":memory", n(delta.total_memory_mib));
        if let Some(ledger) = payments {
            expression
                .push_str(" SET payment_methods = :methods, payment_version = :payment_version");
            update = update
                .expression_attribute_values(
                    ":methods",
                    serde_dynamo::to_attribute_value(&ledger.payment_methods)?,
                )
                .expression_attribute_values(":payment_version", n(ledger.payment_version));
            match ledger.payment_method_attached_at {
                Some(at) => {
                    expression.push_str(", payment_method_attached_at = :attached_at");
                    update = update.expression_attribute_values(
                        ":attached_at",
                        serde_dynamo::to_attribute_value(at)?,
                    );
                }
                None => expression.push_str(" REMOVE payment_method_attached_at"),
            }
            let read_version = ledger.payment_version.saturating_sub(1);
            update = if read_version == 0 {
                update.condition_expression("attribute_not_exists(payment_version)")
            } else {
                update
                    .condition_expression("payment_version = :read_payment_version")
                    .expression_attribute_values(":read_payment_version", n(read_version))
            };
        }
        let update = update
            .update_expression(expression)
            .build()
            .expect("table, key and expression are set");
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
