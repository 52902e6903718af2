//! Facts owned by other platform services that this service keeps per organisation (fed by
//! platform events): what blocks a delete, and the compute totals.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `LEDGER` item of an organisation. The counters and totals are only ever changed by
/// `ADD` in the transaction that records the resource change they follow from, so they equal
/// the sum over the resource items (tests/it/platform_events.rs recomputes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceLedger {
    pub active_clusters: u64,
    pub cloud_accounts: u64,
    pub monitoring_tenants: u64,
    /// CPU of the active clusters, in millicores (1000 = one vCPU).
    pub total_cpu_millicores: u64,
    /// Memory of the active clusters, in MiB.
    pub total_memory_mib: u64,
    /// The attached payment methods by id, each with the time it was attached.
    pub payment_methods: BTreeMap<String, DateTime<Utc>>,
    /// The earliest attach time among the attached payment methods; `None` when none is
    /// attached (`validation-status.validPaymentMethodAttachedAt`).
    pub payment_method_attached_at: Option<DateTime<Utc>>,
    /// Moves with every change of the payment methods, which is written on condition that it
    /// has not moved since it was read (the earliest attach time is not a sum: it needs the
    /// whole set, so those writes cannot be blind `ADD`s).
    pub payment_version: u64,
    /// How many resource records (clusters, cloud accounts, tenants, payment methods, quotas)
    /// the organisation's partition holds: bounded by [`MAX_RESOURCE_RECORDS`].
    pub resource_records: u64,
}

/// Resource records an organisation may hold (records stay after deletion, as tombstones).
/// A platform event that would create one more is refused and lands in the dead-letter queue.
pub const MAX_RESOURCE_RECORDS: u64 = 5_000;

/// Payment methods attached at once, all held in the ledger item (which must stay far below
/// DynamoDB's 400 KB item limit: 100 entries are about 6 KB).
pub const MAX_PAYMENT_METHODS: usize = 100;

/// A change of the ledger's counters and totals, as `ADD` operands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerDelta {
    pub active_clusters: i64,
    pub cloud_accounts: i64,
    pub monitoring_tenants: i64,
    pub total_cpu_millicores: i64,
    pub total_memory_mib: i64,
    pub resource_records: i64,
}

impl LedgerDelta {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// `after - before`.
    pub fn between(before: Self, after: Self) -> Self {
        Self {
            active_clusters: after.active_clusters - before.active_clusters,
            cloud_accounts: after.cloud_accounts - before.cloud_accounts,
            monitoring_tenants: after.monitoring_tenants - before.monitoring_tenants,
            total_cpu_millicores: after.total_cpu_millicores - before.total_cpu_millicores,
            total_memory_mib: after.total_memory_mib - before.total_memory_mib,
            resource_records: after.resource_records - before.resource_records,
        }
    }
}

/// `GET /compute-information/organisation/{slug}`: CPU in millicores, memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputeInformation {
    pub total_clusters: u64,
    pub total_cpu: u64,
    pub total_memory: u64,
}

impl From<&ResourceLedger> for ComputeInformation {
    fn from(ledger: &ResourceLedger) -> Self {
        Self {
            total_clusters: ledger.active_clusters,
            total_cpu: ledger.total_cpu_millicores,
            total_memory: ledger.total_memory_mib,
        }
    }
}

impl ResourceLedger {
    /// Why the organisation may not be deleted now, as a sentence; `None` when it may.
    pub fn delete_blocker(&self) -> Option<String> {
        let mut blockers = Vec::new();
        let mut count = |n: u64, one: &str, many: &str| {
            if n > 0 {
                blockers.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        count(
            self.cloud_accounts,
            "configured cloud account",
            "configured cloud accounts",
        );
        count(self.active_clusters, "active cluster", "active clusters");
        count(
            self.monitoring_tenants,
            "active monitoring tenant",
            "active monitoring tenants",
        );
        (!blockers.is_empty()).then(|| {
            format!(
                "The organisation cannot be deleted while it has {}. Remove them first.",
                blockers.join(", ")
            )
        })
    }

    /// The ledger after payment method `id` was attached at `attached_at` (`Some`) or detached
    /// (`None`), with the payment version moved on.
    pub fn with_payment_method(&self, id: &str, attached_at: Option<DateTime<Utc>>) -> Self {
        let mut next = self.clone();
        match attached_at {
            Some(at) => next.payment_methods.insert(id.to_owned(), at),
            None => next.payment_methods.remove(id),
        };
        next.payment_method_attached_at = next.payment_methods.values().min().copied();
        next.payment_version += 1;
        next
    }
}
