//! The `platform-events` function against DynamoDB Local, fed real SQS batches of EventBridge
//! events (the fixtures in tests/events/ and events built the same way).

use std::collections::HashMap;

use api_tests::platform::{
    deliver, deliver_bodies, event, fixture, fixture_body, fixture_name, ledger,
};
use api_tests::{create_organisation, faults, send, ApiRequest, TestEnv, TestUser};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use shared::domain::ledger::ResourceLedger;
use shared::domain::platform::{EventKind, ResourceRecord, ResourceState};
use shared::storage::entities::from_item;
use shared::storage::keys::Key;

const CLUSTER_PREFIX: &str = "CLUSTER#";
const CLOUD_ACCOUNT_PREFIX: &str = "CLOUDACCOUNT#";
const TENANT_PREFIX: &str = "TENANT#";
const PAYMENT_PREFIX: &str = "PAYMENT#";

/// The organisation the fixtures name.
async fn acme(env: &TestEnv) -> (String, TestUser) {
    let admin = TestUser::new("admin");
    let slug = create_organisation(&env.app, &admin, "Acme Cloud", "BUSINESS").await;
    assert_eq!(slug, "acme-cloud", "the fixtures name this organisation");
    (slug, admin)
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// (type, actor type, createdAt) of the organisation's activity events, oldest first.
async fn activity(env: &TestEnv, slug: &str, admin: &TestUser) -> Vec<(String, String, String)> {
    let reply = send(
        &env.app,
        ApiRequest::get(&format!(
            "/api/v1/organisations/{slug}/activity?sort=createdAt,asc&size=100"
        ))
        .by(admin),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["actor"]["type"] == "USER" || e["actor"]["subject"].is_null());
            (
                e["type"].as_str().unwrap().to_owned(),
                e["actor"]["type"].as_str().unwrap().to_owned(),
                e["createdAt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn counters(l: &ResourceLedger) -> [u64; 5] {
    [
        l.active_clusters,
        l.total_cpu_millicores,
        l.total_memory_mib,
        l.cloud_accounts,
        l.monitoring_tenants,
    ]
}

#[test]
fn every_event_kind_has_a_fixture() {
    for kind in EventKind::ALL {
        let body = fixture_body(&fixture_name(kind));
        assert_eq!(body["detail-type"], kind.detail_type());
        assert_eq!(body["source"], kind.source());
        assert_eq!(body["detail"]["organisationSlug"], "acme-cloud");
    }
}

#[tokio::test]
async fn every_fixture_is_applied_by_the_function() {
    let env = TestEnv::new().await;
    let (slug, admin) = acme(&env).await;
    let attached = Some(at("2026-11-28T12:03:00Z"));
    // (fixture, [clusters, cpu, memory, cloud accounts, tenants], payment method attached at)
    let steps = [
        ("cluster-created", [1, 8000, 16384, 0, 0], None),
        ("cloud-account-configured", [1, 8000, 16384, 1, 0], None),
        ("monitoring-tenant-activated", [1, 8000, 16384, 1, 1], None),
        ("payment-method-attached", [1, 8000, 16384, 1, 1], attached),
        ("quotas-overridden", [1, 8000, 16384, 1, 1], attached),
        ("cluster-resized", [1, 12000, 24576, 1, 1], attached),
        ("cluster-deleted", [0, 0, 0, 1, 1], attached),
        ("cloud-account-removed", [0, 0, 0, 0, 1], attached),
        ("monitoring-tenant-deactivated", [0, 0, 0, 0, 0], attached),
        ("payment-method-detached", [0, 0, 0, 0, 0], None),
    ];
    for (name, expected, attached_at) in steps {
        let failures = deliver(&env.app, fixture(name)).await;
        assert!(failures.is_empty(), "{name}: {failures:?}");
        let ledger = ledger(&env, &slug).await;
        assert_eq!(counters(&ledger), expected, "after {name}");
        assert_eq!(
            ledger.payment_method_attached_at, attached_at,
            "after {name}"
        );
        if name == "cluster-resized" {
            let reply = send(
                &env.app,
                ApiRequest::get(&format!("/api/v1/compute-information/organisation/{slug}"))
                    .by(&admin),
            )
            .await;
            assert_eq!(
                reply.body,
                json!({"totalClusters": 1, "totalCpu": 12000, "totalMemory": 24576})
            );
        }
    }
    let quotas = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/quotas")).by(&admin),
    )
    .await;
    assert_eq!(
        quotas.body,
        json!({"clustersPerCustomer": 40, "clustersPerEnvironment": 10,
               "environmentsPerCustomer": 5, "nodePoolsPerCluster": 10,
               "nodesPerCluster": 100, "nodesPerNodePool": 20})
    );
    let log = activity(&env, &slug, &admin).await;
    let system: Vec<(&str, &str)> = log[1..]
        .iter()
        .map(|(t, actor, created)| {
            assert_eq!(actor, "SYSTEM");
            (t.as_str(), created.as_str())
        })
        .collect();
    assert_eq!(
        system,
        [
            ("CLUSTER_CREATED", "2026-11-28T12:00:00Z"),
            ("PAYMENT_METHOD_ATTACHED", "2026-11-28T12:03:00Z"),
            ("ORGANISATION_UPDATED", "2026-11-28T12:04:00Z"),
            ("CLUSTER_DELETED", "2026-11-28T12:10:00Z"),
            ("PAYMENT_METHOD_DETACHED", "2026-11-28T12:13:00Z"),
        ]
    );
}

#[tokio::test]
async fn a_duplicate_delivery_changes_nothing() {
    let env = TestEnv::new().await;
    let (slug, admin) = acme(&env).await;
    for name in ["cluster-created", "payment-method-attached"] {
        assert!(deliver(&env.app, fixture(name)).await.is_empty());
    }
    let ledger_before = ledger(&env, &slug).await;
    let log_before = activity(&env, &slug, &admin).await;

    env.round_trips.reset();
    assert!(deliver(&env.app, fixture("cluster-created"))
        .await
        .is_empty());
    assert_eq!(
        env.round_trips.get(),
        1,
        "a duplicate is read, never written"
    );
    let twice = [
        fixture_body("cluster-created").to_string(),
        fixture_body("cluster-created").to_string(),
        fixture_body("payment-method-attached").to_string(),
    ];
    let (failures, _) = deliver_bodies(&env.app, twice).await;
    assert!(failures.is_empty(), "{failures:?}");

    assert_eq!(ledger(&env, &slug).await, ledger_before);
    assert_eq!(activity(&env, &slug, &admin).await, log_before);
}

#[tokio::test]
async fn an_older_event_never_rolls_back_a_newer_one() {
    let env = TestEnv::new().await;
    let (slug, admin) = acme(&env).await;
    // Newest first: every older event that follows changes nothing.
    for name in [
        "cluster-deleted",
        "cluster-resized",
        "cluster-created",
        "cloud-account-removed",
        "cloud-account-configured",
        "monitoring-tenant-deactivated",
        "monitoring-tenant-activated",
        "payment-method-detached",
        "payment-method-attached",
    ] {
        assert!(deliver(&env.app, fixture(name)).await.is_empty(), "{name}");
    }
    let four_records = ResourceLedger {
        resource_records: 4,
        ..ResourceLedger::default()
    };
    assert_eq!(ledger(&env, &slug).await, four_records);
    assert_eq!(
        activity(&env, &slug, &admin).await.len(),
        1,
        "only the creation"
    );

    // A resize that overtook the creation keeps its sizes.
    let cluster = |kind, at: &str, cpu: u32| {
        event(
            kind,
            &slug,
            at,
            json!({"clusterId": "c-2", "cpuMillicores": cpu, "memoryMib": cpu * 2}),
        )
    };
    let (failures, _) = deliver_bodies(
        &env.app,
        [
            cluster(EventKind::ClusterResized, "2026-11-28T12:05:00Z", 3000),
            cluster(EventKind::ClusterCreated, "2026-11-28T12:00:00Z", 1000),
        ],
    )
    .await;
    assert!(failures.is_empty());
    assert_eq!(counters(&ledger(&env, &slug).await), [1, 3000, 6000, 0, 0]);
    // A newer "created" after a deletion does not bring a cluster back either.
    let (failures, _) = deliver_bodies(
        &env.app,
        [
            event(
                EventKind::ClusterDeleted,
                &slug,
                "2026-11-28T12:06:00Z",
                json!({"clusterId": "c-2"}),
            ),
            cluster(EventKind::ClusterCreated, "2026-11-28T12:07:00Z", 1000),
        ],
    )
    .await;
    assert!(failures.is_empty());
    let tombstones = ResourceLedger {
        resource_records: 5,
        ..ResourceLedger::default()
    };
    assert_eq!(ledger(&env, &slug).await, tombstones);
}

#[tokio::test]
async fn malformed_bodies_and_unknown_organisations_fail_alone() {
    let env = TestEnv::new().await;
    let (slug, _) = acme(&env).await;
    let good = fixture_body("cluster-created");
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body.to_string()
    };
    let bad = [
        "not json".to_owned(),
        String::new(),
        json!({"detail-type": "ClusterCreated"}).to_string(),
        with("/detail-type", json!("ClusterUpgraded")),
        with("/source", json!("platform.payments")),
        with("/detail/cpuMillicores", json!(-1)),
        with("/detail/memoryMib", json!("lots")),
        with("/detail/clusterId", json!("")),
        with("/detail/occurredAt", json!("yesterday")),
        with("/detail/organisationSlug", json!("Not A Slug")),
        with("/detail/organisationSlug", json!("nobody-here")),
        {
            let mut quotas = fixture_body("quotas-overridden");
            quotas["detail"]["quotas"]
                .as_object_mut()
                .unwrap()
                .remove("nodesPerCluster");
            quotas.to_string()
        },
    ];
    let bodies: Vec<String> = std::iter::once(good.to_string())
        .chain(bad.iter().cloned())
        .collect();
    let (mut failures, ids) = deliver_bodies(&env.app, bodies).await;
    let mut bad_ids = ids[1..].to_vec();
    failures.sort();
    bad_ids.sort();
    assert_eq!(
        failures, bad_ids,
        "every bad message fails, the good one does not"
    );
    assert_eq!(counters(&ledger(&env, &slug).await), [1, 8000, 16384, 0, 0]);
    assert!(env
        .store()
        .get(Key::ledger(
            &shared::domain::Slug::parse("nobody-here").unwrap()
        ))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn transaction_conflicts_are_retried() {
    let conflicts = faults::TransactionConflicts::start(0).await;
    let env = TestEnv::with_faults(Some(conflicts.clone())).await;
    let (slug, _) = acme(&env).await;
    conflicts.arm(3);
    assert!(deliver(&env.app, fixture("cluster-created"))
        .await
        .is_empty());
    assert_eq!(conflicts.served(), 3);
    assert_eq!(counters(&ledger(&env, &slug).await), [1, 8000, 16384, 0, 0]);
}

#[tokio::test]
async fn payment_method_attached_at_is_the_earliest_of_the_attached() {
    let env = TestEnv::new().await;
    let (slug, admin) = acme(&env).await;
    let payment = |kind, id: &str, at: &str| event(kind, &slug, at, json!({"paymentMethodId": id}));
    let steps = [
        (
            payment(
                EventKind::PaymentMethodAttached,
                "pm-a",
                "2026-11-28T12:00:00Z",
            ),
            Some("2026-11-28T12:00:00Z"),
        ),
        (
            payment(
                EventKind::PaymentMethodAttached,
                "pm-b",
                "2026-11-28T11:00:00Z",
            ),
            Some("2026-11-28T11:00:00Z"),
        ),
        (
            payment(
                EventKind::PaymentMethodDetached,
                "pm-b",
                "2026-11-28T12:30:00Z",
            ),
            Some("2026-11-28T12:00:00Z"),
        ),
        (
            payment(
                EventKind::PaymentMethodAttached,
                "pm-c",
                "2026-11-28T13:00:00Z",
            ),
            Some("2026-11-28T12:00:00Z"),
        ),
        (
            payment(
                EventKind::PaymentMethodDetached,
                "pm-a",
                "2026-11-28T13:30:00Z",
            ),
            Some("2026-11-28T13:00:00Z"),
        ),
        (
            payment(
                EventKind::PaymentMethodDetached,
                "pm-c",
                "2026-11-28T14:00:00Z",
            ),
            None,
        ),
    ];
    for (body, expected) in steps {
        let (failures, _) = deliver_bodies(&env.app, [body]).await;
        assert!(failures.is_empty());
        let ledger = ledger(&env, &slug).await;
        assert_eq!(ledger.payment_method_attached_at, expected.map(at));
        assert_eq!(
            ledger.payment_methods.values().min().copied(),
            expected.map(at)
        );
        // ... and that is what validation-status reports.
        let status = send(
            &env.app,
            ApiRequest::get(&format!("/api/v1/organisations/{slug}/validation-status")).by(&admin),
        )
        .await;
        let reported = status.body["validPaymentMethodAttachedAt"].as_str().map(at);
        assert_eq!(reported, expected.map(at));
    }
}

/// `DELETE /organisations/{identity}` of the organisation `slug`, by `admin`.
async fn delete_request(env: &TestEnv, slug: &str, admin: &TestUser) -> ApiRequest {
    let org = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(admin),
    )
    .await;
    ApiRequest::delete(&format!(
        "/api/v1/organisations/{}",
        org.body["identity"].as_str().unwrap()
    ))
    .by(admin)
}

#[tokio::test]
async fn the_delete_guard_reads_the_ledger_the_events_feed() {
    let env = TestEnv::new().await;
    let (slug, admin) = acme(&env).await;
    let delete = delete_request(&env, &slug, &admin).await;

    // The event first: the delete is refused and says why.
    assert!(deliver(&env.app, fixture("cluster-created"))
        .await
        .is_empty());
    let refused = send(&env.app, delete.clone()).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.message().contains("1 active cluster"),
        "{}",
        refused.message()
    );

    // Once the cluster is gone the delete goes through...
    assert!(deliver(&env.app, fixture("cluster-deleted"))
        .await
        .is_empty());
    assert_eq!(send(&env.app, delete).await.status, 204);

    // ...and an event after the delete is refused into the dead-letter queue, writing nothing.
    let (failures, ids) =
        deliver_bodies(&env.app, [fixture_body("cluster-resized").to_string()]).await;
    assert_eq!(failures, ids);
    assert!(env.partition(&slug, "").await.is_empty());
}

#[tokio::test]
async fn a_delete_racing_a_cluster_event_never_leaves_an_active_cluster() {
    let env = TestEnv::new().await;
    let mut deleted_first = 0;
    for round in 0..8_u64 {
        let admin = TestUser::new("admin");
        let slug = create_organisation(&env.app, &admin, &format!("Race {round}"), "TRIAL").await;
        let delete = delete_request(&env, &slug, &admin).await;
        let created = event(
            EventKind::ClusterCreated,
            &slug,
            "2026-11-28T12:00:00Z",
            json!({"clusterId": "c-race", "cpuMillicores": 1000, "memoryMib": 2048}),
        );
        // Staggered by 0 to 7 ms, so that each side sometimes starts first.
        let (deleted, (failures, _)) = tokio::join!(send(&env.app, delete), async {
            tokio::time::sleep(std::time::Duration::from_millis(round)).await;
            deliver_bodies(&env.app, [created]).await
        });
        match (deleted.status, failures.is_empty()) {
            (204, false) => {
                deleted_first += 1;
                assert!(env.partition(&slug, "").await.is_empty());
            }
            (400, true) => {
                assert!(deleted.message().contains("1 active cluster"));
                assert_eq!(ledger(&env, &slug).await.active_clusters, 1);
            }
            other => panic!("round {round}: delete {other:?} {}", deleted.body),
        }
    }
    println!("the delete won {deleted_first} of 8 races");
}

#[tokio::test]
async fn round_trips_per_event() {
    let env = TestEnv::new().await;
    let (slug, _) = acme(&env).await;
    let bodies: Vec<String> = (0..50)
        .map(|i| {
            event(
                EventKind::ClusterCreated,
                &slug,
                "2026-11-28T12:00:00Z",
                json!({"clusterId": format!("c-{i}"), "cpuMillicores": 500, "memoryMib": 1024}),
            )
        })
        .collect();
    env.round_trips.reset();
    let (failures, _) = deliver_bodies(&env.app, bodies.clone()).await;
    assert!(failures.is_empty());
    assert_eq!(
        env.round_trips.get(),
        51,
        "one BatchGet for the batch, one transaction per event"
    );
    env.round_trips.reset();
    let (failures, _) = deliver_bodies(&env.app, bodies).await;
    assert!(failures.is_empty());
    assert_eq!(
        env.round_trips.get(),
        1,
        "redelivered: read once, nothing to write"
    );
    assert_eq!(ledger(&env, &slug).await.active_clusters, 50);
}

async fn records(env: &TestEnv, slug: &str, prefix: &str) -> HashMap<String, ResourceState> {
    env.partition(slug, prefix)
        .await
        .into_iter()
        .map(|item| {
            let sk = item["sk"].as_s().unwrap()[prefix.len()..].to_owned();
            (sk, from_item::<ResourceRecord>(item).unwrap().state)
        })
        .collect()
}

/// One generated event: its resource, kind, time and what it asserts.
#[derive(Debug, Clone)]
struct Generated {
    resource: String,
    kind: EventKind,
    at: DateTime<Utc>,
    cpu: u32,
    body: String,
}

/// What the events must leave, worked out from the rules in docs/platform-events.md: per
/// resource the newest event decides, except that a deleted cluster stays deleted.
fn expected(events: &[Generated]) -> (ResourceLedger, HashMap<String, DateTime<Utc>>) {
    let mut by_resource: HashMap<&str, Vec<&Generated>> = HashMap::new();
    for e in events {
        by_resource.entry(&e.resource).or_default().push(e);
    }
    let mut ledger = ResourceLedger::default();
    let mut attached = HashMap::new();
    for (resource, mut events) in by_resource {
        events.sort_by_key(|e| e.at);
        let newest = events.last().unwrap();
        match newest.kind {
            _ if resource.starts_with('c')
                && events.iter().any(|e| e.kind == EventKind::ClusterDeleted) => {}
            EventKind::ClusterCreated | EventKind::ClusterResized => {
                ledger.active_clusters += 1;
                ledger.total_cpu_millicores += u64::from(newest.cpu);
                ledger.total_memory_mib += u64::from(newest.cpu) * 2;
            }
            EventKind::CloudAccountConfigured => ledger.cloud_accounts += 1,
            EventKind::MonitoringTenantActivated => ledger.monitoring_tenants += 1,
            EventKind::PaymentMethodAttached => {
                attached.insert(resource.to_owned(), newest.at);
            }
            _ => {}
        }
    }
    ledger.payment_method_attached_at = attached.values().min().copied();
    (ledger, attached)
}

fn generate(rng: &mut StdRng, slug: &str) -> Vec<Generated> {
    let base = at("2026-01-01T00:00:00Z");
    let mut minutes: Vec<i64> = (0..2000).collect();
    minutes.shuffle(rng);
    let mut minutes = minutes.into_iter();
    let families: [(char, &[EventKind]); 4] = [
        (
            'c',
            &[
                EventKind::ClusterCreated,
                EventKind::ClusterResized,
                EventKind::ClusterResized,
                EventKind::ClusterDeleted,
            ],
        ),
        (
            'a',
            &[
                EventKind::CloudAccountConfigured,
                EventKind::CloudAccountRemoved,
            ],
        ),
        (
            't',
            &[
                EventKind::MonitoringTenantActivated,
                EventKind::MonitoringTenantDeactivated,
            ],
        ),
        (
            'p',
            &[
                EventKind::PaymentMethodAttached,
                EventKind::PaymentMethodDetached,
            ],
        ),
    ];
    let mut events = Vec::new();
    for (letter, kinds) in families {
        for n in 0..6 {
            let resource = format!("{letter}{n}");
            for _ in 0..rng.random_range(1..=6) {
                let kind = kinds[rng.random_range(0..kinds.len())];
                let at = base + Duration::minutes(minutes.next().unwrap());
                let cpu = rng.random_range(1..=64) * 250;
                let field = match letter {
                    'c' => "clusterId",
                    'a' => "cloudAccountId",
                    't' => "monitoringTenantId",
                    _ => "paymentMethodId",
                };
                let mut detail = json!({ field: resource });
                if matches!(kind, EventKind::ClusterCreated | EventKind::ClusterResized) {
                    detail["cpuMillicores"] = json!(cpu);
                    detail["memoryMib"] = json!(cpu * 2);
                }
                let body = event(kind, slug, &at.to_rfc3339(), detail);
                events.push(Generated {
                    resource: resource.clone(),
                    kind,
                    at,
                    cpu,
                    body,
                });
            }
        }
    }
    events
}

#[tokio::test]
async fn totals_equal_a_recomputation_from_the_resource_items() {
    let env = TestEnv::new().await;
    for seed in [7_u64, 2026, 4242] {
        let mut rng = StdRng::seed_from_u64(seed);
        let admin = TestUser::new("admin");
        let slug =
            create_organisation(&env.app, &admin, &format!("Random {seed}"), "BUSINESS").await;
        let events = generate(&mut rng, &slug);
        // Every event once, a third of them twice, in random order, in random batches, three
        // batches at a time (so that batches race each other for the same records).
        let mut bodies: Vec<String> = events.iter().map(|e| e.body.clone()).collect();
        for e in &events {
            if rng.random_range(0..3) == 0 {
                bodies.push(e.body.clone());
            }
        }
        bodies.shuffle(&mut rng);
        let mut batches = Vec::new();
        while !bodies.is_empty() {
            let size = rng.random_range(1..=25).min(bodies.len());
            batches.push(bodies.drain(..size).collect::<Vec<_>>());
        }
        for round in batches.chunks(3) {
            let results = futures_util::future::join_all(
                round.iter().map(|b| deliver_bodies(&env.app, b.clone())),
            )
            .await;
            for (failures, _) in results {
                assert!(failures.is_empty(), "seed {seed}: {failures:?}");
            }
        }

        let stored = ledger(&env, &slug).await;
        // The ledger is the sum of the records...
        let mut recomputed = ResourceLedger::default();
        for state in records(&env, &slug, CLUSTER_PREFIX).await.values() {
            if let ResourceState::ClusterActive {
                cpu_millicores,
                memory_mib,
            } = state
            {
                recomputed.active_clusters += 1;
                recomputed.total_cpu_millicores += u64::from(*cpu_millicores);
                recomputed.total_memory_mib += u64::from(*memory_mib);
            }
        }
        for state in records(&env, &slug, CLOUD_ACCOUNT_PREFIX).await.values() {
            recomputed.cloud_accounts += u64::from(*state == ResourceState::CloudAccountConfigured);
        }
        for state in records(&env, &slug, TENANT_PREFIX).await.values() {
            recomputed.monitoring_tenants +=
                u64::from(*state == ResourceState::MonitoringTenantActive);
        }
        let attached: HashMap<String, DateTime<Utc>> = records(&env, &slug, PAYMENT_PREFIX)
            .await
            .into_iter()
            .filter_map(|(id, state)| Some((id, state.attached_at()?)))
            .collect();
        recomputed.payment_method_attached_at = attached.values().min().copied();
        assert_eq!(counters(&stored), counters(&recomputed), "seed {seed}");
        assert_eq!(
            stored.payment_method_attached_at, recomputed.payment_method_attached_at,
            "seed {seed}"
        );
        assert_eq!(
            stored
                .payment_methods
                .clone()
                .into_iter()
                .collect::<HashMap<_, _>>(),
            attached,
            "seed {seed}"
        );
        // ...and the records are what the events say, whatever the order of delivery.
        let (expected, expected_attached) = expected(&events);
        assert_eq!(counters(&stored), counters(&expected), "seed {seed}");
        assert_eq!(attached, expected_attached, "seed {seed}");
    }
}

#[tokio::test]
async fn an_event_for_a_former_holder_of_the_slug_is_dropped_not_applied() {
    let env = TestEnv::new().await;
    let (slug, admin) = acme(&env).await;
    let mut body = fixture_body("cluster-created");
    // Another organisation's identity: the slug was freed by a delete and taken again.
    body["detail"]["organisationIdentity"] = json!(uuid::Uuid::new_v4().to_string());
    let (failures, _) = deliver_bodies(&env.app, [body.to_string()]).await;
    assert!(failures.is_empty(), "dropped, not retried: {failures:?}");
    assert_eq!(counters(&ledger(&env, &slug).await), [0, 0, 0, 0, 0]);
    assert_eq!(
        activity(&env, &slug, &admin).await.len(),
        1,
        "only the creation"
    );

    let mut missing = fixture_body("cluster-created");
    missing["detail"]
        .as_object_mut()
        .unwrap()
        .remove("organisationIdentity");
    let (failures, ids) = deliver_bodies(&env.app, [missing.to_string()]).await;
    assert_eq!(failures, ids, "an event without the identity is malformed");
}

#[tokio::test]
async fn an_event_from_the_future_is_refused_and_changes_nothing() {
    let env = TestEnv::new().await;
    let (slug, _) = acme(&env).await;
    let soon = (Utc::now() + Duration::minutes(4)).to_rfc3339();
    let later = (Utc::now() + Duration::minutes(10)).to_rfc3339();
    let cluster = |id: &str, at: &str| {
        event(
            EventKind::ClusterCreated,
            &slug,
            at,
            json!({"clusterId": id, "cpuMillicores": 1000, "memoryMib": 2048}),
        )
    };
    let (failures, ids) = deliver_bodies(
        &env.app,
        [cluster("c-late", &later), cluster("c-skew", &soon)],
    )
    .await;
    assert_eq!(failures, ids[..1], "10 minutes ahead: refused (to the DLQ)");
    assert_eq!(
        counters(&ledger(&env, &slug).await),
        [1, 1000, 2048, 0, 0],
        "4 minutes of clock skew is accepted"
    );
}

#[tokio::test]
async fn collections_that_events_grow_stop_at_their_bounds() {
    use shared::domain::ledger::{MAX_PAYMENT_METHODS, MAX_RESOURCE_RECORDS};
    let env = TestEnv::new().await;
    let (slug, _) = acme(&env).await;
    assert!(deliver(&env.app, fixture("cluster-created"))
        .await
        .is_empty());
    // The organisation is at both bounds.
    let full = ResourceLedger {
        active_clusters: 1,
        total_cpu_millicores: 8000,
        total_memory_mib: 16384,
        payment_methods: (0..MAX_PAYMENT_METHODS)
            .map(|i| (format!("pm-{i}"), Utc::now() - Duration::days(1)))
            .collect(),
        payment_method_attached_at: Some(Utc::now() - Duration::days(1)),
        payment_version: 1,
        resource_records: MAX_RESOURCE_RECORDS,
        ..ResourceLedger::default()
    };
    let org = shared::domain::Slug::parse(&slug).unwrap();
    env.store().seed(&full, &org).await.unwrap();
    let item = env.store().get(Key::ledger(&org)).await.unwrap().unwrap();
    let size: usize = item
        .iter()
        .map(|(k, v)| k.len() + format!("{v:?}").len())
        .sum();
    assert!(
        size < 20_000,
        "a full ledger stays far below 400 KB: ~{size} bytes"
    );

    // A new resource is refused; the known cluster still changes.
    let new_cluster = event(
        EventKind::ClusterCreated,
        &slug,
        "2026-11-28T12:30:00Z",
        json!({"clusterId": "c-new", "cpuMillicores": 500, "memoryMib": 1024}),
    );
    let resized = event(
        EventKind::ClusterResized,
        &slug,
        "2026-11-28T12:31:00Z",
        json!({"clusterId": "c-7f3a9e", "cpuMillicores": 1000, "memoryMib": 2048}),
    );
    let (failures, ids) = deliver_bodies(&env.app, [new_cluster, resized]).await;
    assert_eq!(failures, ids[..1], "the 5,001st resource record is refused");
    let ledger_now = ledger(&env, &slug).await;
    assert_eq!(counters(&ledger_now), [1, 1000, 2048, 0, 0]);
    assert_eq!(ledger_now.resource_records, MAX_RESOURCE_RECORDS);
    assert_eq!(ledger_now.payment_methods.len(), MAX_PAYMENT_METHODS);

    // Below the bound of records, a 101st attached payment method is refused.
    let room = ResourceLedger {
        resource_records: 10,
        ..ledger_now
    };
    env.store().seed(&room, &org).await.unwrap();
    let attach = event(
        EventKind::PaymentMethodAttached,
        &slug,
        "2026-11-28T12:40:00Z",
        json!({"paymentMethodId": "pm-one-too-many"}),
    );
    let (failures, ids) = deliver_bodies(&env.app, [attach]).await;
    assert_eq!(failures, ids, "the 101st payment method is refused");
    let after = ledger(&env, &slug).await;
    assert_eq!(after.payment_methods.len(), MAX_PAYMENT_METHODS);
    assert_eq!(after.resource_records, 10);
}
