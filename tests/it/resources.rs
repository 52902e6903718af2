//! `GET /compute-information/organisation/{slug}` and `GET /organisations/{slug}/quotas`.

use api_tests::platform::{deliver_bodies, event};
use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::platform::EventKind;

async fn get(env: &TestEnv, path: &str, user: &TestUser) -> Reply {
    send(&env.app, ApiRequest::get(path).by(user)).await
}

fn quotas_path(slug: &str) -> String {
    format!("/api/v1/organisations/{slug}/quotas")
}

fn compute_path(slug: &str) -> String {
    format!("/api/v1/compute-information/organisation/{slug}")
}

/// The defaults table of docs/platform-events.md, in the contract's field order.
fn defaults(organisation_type: &str) -> Value {
    let [a, b, c, d, e, f] = match organisation_type {
        "TRIAL" => [1, 1, 1, 1, 3, 3],
        "INDIVIDUAL" => [3, 3, 2, 3, 10, 5],
        "BUSINESS" => [20, 10, 5, 10, 50, 20],
        "ENTERPRISE" => [100, 50, 20, 25, 500, 100],
        other => panic!("{other}"),
    };
    json!({"clustersPerCustomer": a, "clustersPerEnvironment": b, "environmentsPerCustomer": c,
           "nodePoolsPerCluster": d, "nodesPerCluster": e, "nodesPerNodePool": f})
}

fn overridden(slug: &str, at: &str, quotas: Value) -> String {
    event(
        EventKind::QuotasOverridden,
        slug,
        at,
        json!({ "quotas": quotas }),
    )
}

#[tokio::test]
async fn compute_information_is_one_read_for_members_only() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let slug = create_organisation(&env.app, &admin, "Compute Org", "BUSINESS").await;

    env.round_trips.reset();
    let reply = get(&env, &compute_path(&slug), &admin).await;
    assert_eq!(env.round_trips.get(), 1, "one BatchGet");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"totalClusters": 0, "totalCpu": 0, "totalMemory": 0})
    );

    let (failures, _) = deliver_bodies(
        &env.app,
        ["c-1", "c-2"].map(|id| {
            event(
                EventKind::ClusterCreated,
                &slug,
                "2026-11-28T12:00:00Z",
                json!({"clusterId": id, "cpuMillicores": 2500, "memoryMib": 4096}),
            )
        }),
    )
    .await;
    assert!(failures.is_empty());
    env.round_trips.reset();
    let reply = get(&env, &compute_path(&slug), &admin).await;
    assert_eq!(env.round_trips.get(), 1, "one BatchGet");
    assert_eq!(
        reply.body,
        json!({"totalClusters": 2, "totalCpu": 5000, "totalMemory": 8192})
    );

    let stranger = TestUser::new("stranger");
    assert_eq!(get(&env, &compute_path(&slug), &stranger).await.status, 403);
    assert_eq!(
        get(&env, &compute_path("no-such-org"), &admin).await.status,
        404
    );
    let bad = get(&env, &compute_path("Not_A_Slug"), &admin).await;
    assert_eq!(bad.status, 400);
    assert!(bad.details()[0].starts_with("organisationSlug:"));
}

#[tokio::test]
async fn quotas_default_per_type_and_follow_operator_overrides() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    for organisation_type in ["TRIAL", "INDIVIDUAL", "BUSINESS", "ENTERPRISE"] {
        // Customers cannot choose ENTERPRISE: operators set it (here, straight in the table).
        let chosen = organisation_type.replace("ENTERPRISE", "BUSINESS");
        let slug = create_organisation(
            &env.app,
            &admin,
            &format!("Quota {organisation_type}"),
            &chosen,
        )
        .await;
        if organisation_type == "ENTERPRISE" {
            let org = shared::domain::Slug::parse(&slug).unwrap();
            let mut stored = env.store().organisation(&org).await.unwrap().unwrap();
            stored.organisation_type = shared::domain::organisation::OrganisationType::Enterprise;
            env.store().seed(&stored, &org).await.unwrap();
        }
        env.round_trips.reset();
        let reply = get(&env, &quotas_path(&slug), &admin).await;
        assert_eq!(env.round_trips.get(), 1, "one BatchGet");
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.body,
            defaults(organisation_type),
            "{organisation_type}"
        );
    }

    let slug = create_organisation(&env.app, &admin, "Overridden", "TRIAL").await;
    let mut raised = defaults("TRIAL");
    raised["clustersPerCustomer"] = json!(12);
    raised["nodesPerCluster"] = json!(40);
    let overrides = json!({"clustersPerCustomer": 12, "clustersPerEnvironment": null,
        "environmentsPerCustomer": null, "nodePoolsPerCluster": null,
        "nodesPerCluster": 40, "nodesPerNodePool": null});
    let back_to_defaults = json!({"clustersPerCustomer": null, "clustersPerEnvironment": null,
        "environmentsPerCustomer": null, "nodePoolsPerCluster": null,
        "nodesPerCluster": null, "nodesPerNodePool": null});
    for (at, quotas, expected) in [
        ("2026-11-28T12:00:00Z", overrides.clone(), raised.clone()),
        // An older override arriving late changes nothing.
        ("2026-11-28T11:00:00Z", back_to_defaults.clone(), raised),
        ("2026-11-28T13:00:00Z", back_to_defaults, defaults("TRIAL")),
    ] {
        let (failures, _) = deliver_bodies(&env.app, [overridden(&slug, at, quotas)]).await;
        assert!(failures.is_empty());
        env.round_trips.reset();
        let reply = get(&env, &quotas_path(&slug), &admin).await;
        assert_eq!(env.round_trips.get(), 1);
        assert_eq!(reply.body, expected, "after the override of {at}");
    }
    // Overrides must be whole and sane: such events fail into the dead-letter queue.
    let mut negative = overrides.clone();
    negative["nodesPerNodePool"] = json!(-1);
    let mut partial = overrides;
    partial
        .as_object_mut()
        .unwrap()
        .remove("clustersPerEnvironment");
    let (failures, ids) = deliver_bodies(
        &env.app,
        [negative, partial].map(|q| overridden(&slug, "2026-11-28T14:00:00Z", q)),
    )
    .await;
    assert_eq!(failures, ids);
    assert_eq!(
        get(&env, &quotas_path(&slug), &admin).await.body,
        defaults("TRIAL")
    );

    assert_eq!(
        get(&env, &quotas_path(&slug), &TestUser::new("stranger"))
            .await
            .status,
        403
    );
    assert_eq!(
        get(&env, &quotas_path("nope-org"), &admin).await.status,
        404
    );
}
