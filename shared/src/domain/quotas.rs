//! Quotas: the limits the platform enforces per organisation. Each organisation type has
//! defaults; operators override single fields per organisation with a `QuotasOverridden` event
//! (docs/platform-events.md).

use serde::{Deserialize, Deserializer, Serialize};

use super::organisation::OrganisationType;

/// The `QuotasResponse` of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    pub clusters_per_customer: i64,
    pub clusters_per_environment: i64,
    pub environments_per_customer: i64,
    pub node_pools_per_cluster: i64,
    pub nodes_per_cluster: i64,
    pub nodes_per_node_pool: i64,
}

const fn quotas(values: [i64; 6]) -> Quotas {
    Quotas {
        clusters_per_customer: values[0],
        clusters_per_environment: values[1],
        environments_per_customer: values[2],
        node_pools_per_cluster: values[3],
        nodes_per_cluster: values[4],
        nodes_per_node_pool: values[5],
    }
}

impl Quotas {
    /// The defaults of each organisation type, in the field order of the contract
    /// (docs/platform-events.md has the same table): a trial gets the least, an enterprise the most.
    pub const fn defaults(organisation_type: OrganisationType) -> Self {
        match organisation_type {
            OrganisationType::Trial => quotas([1, 1, 1, 1, 3, 3]),
            OrganisationType::Individual => quotas([3, 3, 2, 3, 10, 5]),
            OrganisationType::Business => quotas([20, 10, 5, 10, 50, 20]),
            OrganisationType::Enterprise => quotas([100, 50, 20, 25, 500, 100]),
        }
    }

    /// These quotas with the operator's overrides in place.
    pub fn overridden(self, overrides: &QuotaOverrides) -> Self {
        let pick = |value: Option<i64>, default: i64| value.unwrap_or(default);
        Self {
            clusters_per_customer: pick(
                overrides.clusters_per_customer,
                self.clusters_per_customer,
            ),
            clusters_per_environment: pick(
                overrides.clusters_per_environment,
                self.clusters_per_environment,
            ),
            environments_per_customer: pick(
                overrides.environments_per_customer,
                self.environments_per_customer,
            ),
            node_pools_per_cluster: pick(
                overrides.node_pools_per_cluster,
                self.node_pools_per_cluster,
            ),
            nodes_per_cluster: pick(overrides.nodes_per_cluster, self.nodes_per_cluster),
            nodes_per_node_pool: pick(overrides.nodes_per_node_pool, self.nodes_per_node_pool),
        }
    }
}

/// An operator's overrides for one organisation; `None` means the type's default.
///
/// A `QuotasOverridden` event states the whole set: every field must be present (a number, or
/// `null` for the default), so that a sender who meant "leave the others alone" is refused
/// rather than silently resetting them. Unknown fields are refused too: a misspelt quota would
/// otherwise be dropped without a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaOverrides {
    #[serde(deserialize_with = "present")]
    pub clusters_per_customer: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub clusters_per_environment: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub environments_per_customer: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub node_pools_per_cluster: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub nodes_per_cluster: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub nodes_per_node_pool: Option<i64>,
}

/// A field that must be present but may be `null` (a plain `Option` field would default to
/// `None` when missing).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Option::<i64>::deserialize(deserializer)
}

impl QuotaOverrides {
    /// The names of the fields whose value is negative.
    pub fn negative_fields(&self) -> Vec<&'static str> {
        [
            ("clustersPerCustomer", self.clusters_per_customer),
            ("clustersPerEnvironment", self.clusters_per_environment),
            ("environmentsPerCustomer", self.environments_per_customer),
            ("nodePoolsPerCluster", self.node_pools_per_cluster),
            ("nodesPerCluster", self.nodes_per_cluster),
            ("nodesPerNodePool", self.nodes_per_node_pool),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some_and(|v| v < 0))
        .map(|(name, _)| name)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_grow_from_trial_to_enterprise() {
        let [trial, individual, business, enterprise] = [
            OrganisationType::Trial,
            OrganisationType::Individual,
            OrganisationType::Business,
            OrganisationType::Enterprise,
        ]
        .map(|t| serde_json::to_value(Quotas::defaults(t)).unwrap());
        for field in trial.as_object().unwrap().keys() {
            let values =
                [&trial, &individual, &business, &enterprise].map(|q| q[field].as_i64().unwrap());
            assert!(
                values.windows(2).all(|w| w[0] <= w[1]),
                "{field}: {values:?}"
            );
            assert!(values[0] < values[3], "{field}: {values:?}");
        }
    }

    #[test]
    fn overrides_replace_only_their_fields() {
        let overrides: QuotaOverrides = serde_json::from_value(json!({
            "clustersPerCustomer": 7, "clustersPerEnvironment": null,
            "environmentsPerCustomer": null, "nodePoolsPerCluster": null,
            "nodesPerCluster": 0, "nodesPerNodePool": null
        }))
        .unwrap();
        let quotas = Quotas::defaults(OrganisationType::Trial).overridden(&overrides);
        assert_eq!(quotas.clusters_per_customer, 7);
        assert_eq!(quotas.nodes_per_cluster, 0);
        assert_eq!(
            quotas.nodes_per_node_pool,
            Quotas::defaults(OrganisationType::Trial).nodes_per_node_pool
        );
    }

    #[test]
    fn overrides_need_every_field_and_no_other() {
        let missing = serde_json::from_value::<QuotaOverrides>(json!({"nodesPerCluster": 5}));
        assert!(missing.is_err());
        let unknown = serde_json::from_value::<QuotaOverrides>(json!({
            "clustersPerCustomer": 1, "clustersPerEnvironment": 1, "environmentsPerCustomer": 1,
            "nodePoolsPerCluster": 1, "nodesPerCluster": 1, "nodesPerNodePool": 1,
            "nodesPerClustr": 1
        }));
        assert!(unknown.is_err());
    }
}
