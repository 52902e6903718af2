//! Facts owned by other platform services that this service keeps per organisation (fed by
//! platform events): what blocks a delete, and the compute totals.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceLedger {
    pub active_clusters: u64,
    pub cloud_accounts: u64,
    pub monitoring_tenants: u64,
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
}
