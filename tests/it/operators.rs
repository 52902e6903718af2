//! The operator plane: `GET|PATCH /admin/v1/orgs/{organisationIdentity}`, for platform operators
//! only (docs/plans.md, "The operator plane").

use api_tests::platform::{deliver_bodies, event};
use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};
use shared::domain::platform::EventKind;

fn admin_path(identity: &str) -> String {
    format!("/admin/v1/orgs/{identity}")
}

async fn get(env: &TestEnv, identity: &str, user: &TestUser) -> Reply {
    send(&env.app, ApiRequest::get(&admin_path(identity)).by(user)).await
}

async fn patch(env: &TestEnv, identity: &str, user: &TestUser, body: Value) -> Reply {
    send(
        &env.app,
        ApiRequest::patch(&admin_path(identity)).by(user).json(body),
    )
    .await
}

/// A customer endpoint of the organisation, as `user` reads it.
async fn customer(env: &TestEnv, slug: &str, tail: &str, user: &TestUser) -> Value {
    let path = match tail {
        "compute" => format!("/api/v1/compute-information/organisation/{slug}"),
        tail => format!("/api/v1/organisations/{slug}{tail}"),
    };
    let reply = send(&env.app, ApiRequest::get(&path).by(user)).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.body
}

/// An organisation created by `admin` through the API: its slug and identity.
async fn organisation(env: &TestEnv, admin: &TestUser, name: &str, kind: &str) -> (String, String) {
    let slug = create_organisation(&env.app, admin, name, kind).await;
    let identity = customer(env, &slug, "", admin).await["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    (slug, identity)
}

/// The type's quotas (docs/platform-events.md), with `changes` in place.
fn quotas(kind: &str, changes: Value) -> Value {
    let [a, b, c, d, e, f] = match kind {
        "TRIAL" => [1, 1, 1, 1, 3, 3],
        "INDIVIDUAL" => [3, 3, 2, 3, 10, 5],
        "BUSINESS" => [20, 10, 5, 10, 50, 20],
        "ENTERPRISE" => [100, 50, 20, 25, 500, 100],
        other => panic!("{other}"),
    };
    let mut quotas = json!({"clustersPerCustomer": a, "clustersPerEnvironment": b,
        "environmentsPerCustomer": c, "nodePoolsPerCluster": d, "nodesPerCluster": e,
        "nodesPerNodePool": f});
    for (name, value) in changes.as_object().unwrap() {
        quotas[name] = value.clone();
    }
    quotas
}

/// A `QuotasOverridden` event for `slug` at `at`, with `set` overridden and the rest null.
fn quotas_overridden(slug: &str, at: DateTime<Utc>, set: Value) -> String {
    let mut all = json!({"clustersPerCustomer": null, "clustersPerEnvironment": null,
        "environmentsPerCustomer": null, "nodePoolsPerCluster": null, "nodesPerCluster": null,
        "nodesPerNodePool": null});
    for (name, value) in set.as_object().unwrap() {
        all[name] = value.clone();
    }
    event(
        EventKind::QuotasOverridden,
        slug,
        &at.to_rfc3339_opts(SecondsFormat::Millis, true),
        json!({ "quotas": all }),
    )
}

async fn deliver(env: &TestEnv, bodies: impl IntoIterator<Item = String>) {
    let (failures, _) = deliver_bodies(&env.app, bodies).await;
    assert!(failures.is_empty(), "{failures:?}");
}

/// The newest activity event of the organisation, as its admin reads it.
async fn last_event(env: &TestEnv, slug: &str, admin: &TestUser) -> Value {
    let page = customer(env, slug, "/activity?size=1", admin).await;
    page["content"][0].clone()
}

#[tokio::test]
async fn get_shows_the_customer_view_and_what_operators_need() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (slug, identity) = organisation(&env, &admin, "Viewed Org", "BUSINESS").await;
    let invited = send(
        &env.app,
        ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
            .by(&admin)
            .json(json!({"email": "dev@example.com", "role": "developer"})),
    )
    .await;
    assert_eq!(invited.status, 200);
    deliver(
        &env,
        [
            event(
                EventKind::ClusterCreated,
                &slug,
                "2026-11-28T12:00:00Z",
                json!({"clusterId": "c-1", "cpuMillicores": 2500, "memoryMib": 4096}),
            ),
            event(
                EventKind::PaymentMethodAttached,
                &slug,
                "2026-11-28T12:00:00Z",
                json!({"paymentMethodId": "pm-1"}),
            ),
        ],
    )
    .await;

    env.round_trips.reset();
    let reply = get(&env, &identity, &operator).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        env.round_trips.get(),
        3,
        "the identity lookup, then one BatchGet with the member count's Query beside it"
    );
    let mut body = reply.body;
    let extra: Vec<(&str, Value)> = [
        "revision",
        "createdBy",
        "memberCount",
        "quotas",
        "computeInformation",
        "validationStatus",
        "quotaOverrides",
    ]
    .into_iter()
    .map(|field| (field, body.as_object_mut().unwrap().remove(field).unwrap()))
    .collect();
    // The admin plane's slug is a plain string (the platform's Go client decodes it so); the
    // customer body keeps {"slugValue"}.
    assert_eq!(body["slug"], slug.as_str());
    body["slug"] = json!({"slugValue": slug});
    assert_eq!(body, customer(&env, &slug, "", &admin).await);
    let activity = customer(&env, &slug, "/activity", &admin).await;
    let expected = [
        ("revision", activity["totalElements"].clone()),
        (
            "createdBy",
            json!({"sub": admin.sub, "email": admin.email()}),
        ),
        // The admin and the pending invitation.
        ("memberCount", json!(2)),
        ("quotas", customer(&env, &slug, "/quotas", &admin).await),
        (
            "computeInformation",
            customer(&env, &slug, "compute", &admin).await,
        ),
        (
            "validationStatus",
            customer(&env, &slug, "/validation-status", &admin).await,
        ),
        ("quotaOverrides", Value::Null),
    ];
    assert_eq!(extra, expected);
    assert_eq!(extra[0].1, json!(4), "create, invitation, cluster, payment");
    assert_eq!(extra[4].1["totalClusters"], 1);
    assert!(extra[5].1["validPaymentMethodAttachedAt"].is_string());
}

#[tokio::test]
async fn patch_sets_every_type_and_restricted_follows_it() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (slug, identity) = organisation(&env, &admin, "Typed Org", "TRIAL").await;
    let revision = get(&env, &identity, &operator).await.body["revision"]
        .as_u64()
        .unwrap();
    for (step, (kind, restricted)) in [
        ("ENTERPRISE", false),
        ("INDIVIDUAL", false),
        ("TRIAL", true),
        ("BUSINESS", false),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = patch(
            &env,
            &identity,
            &operator,
            json!({"organisationType": kind}),
        )
        .await;
        assert_eq!(reply.status, 200, "{kind}: {}", reply.body);
        assert_eq!(reply.body["type"], kind);
        assert_eq!(
            reply.body["restrictedToAvailableCloudProviders"],
            restricted
        );
        assert_eq!(reply.body["quotas"], quotas(kind, json!({})));
        assert_eq!(reply.body["revision"], revision + 1 + step as u64);
        // The answer is the GET body; the customers see the same organisation.
        assert_eq!(reply.body, get(&env, &identity, &operator).await.body);
        let seen = customer(&env, &slug, "", &admin).await;
        assert_eq!(seen["type"], kind);
        assert_eq!(seen["restrictedToAvailableCloudProviders"], restricted);
    }
    // The type it has already: nothing changes, nothing is written.
    let same = patch(
        &env,
        &identity,
        &operator,
        json!({"organisationType": "BUSINESS"}),
    )
    .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["revision"], revision + 4);
}

#[tokio::test]
async fn restricted_is_pinned_by_a_value_and_follows_the_type_again_on_null() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (_, identity) = organisation(&env, &admin, "Pinned Org", "BUSINESS").await;
    for (body, expected) in [
        (json!({"restrictedToAvailableCloudProviders": true}), true),
        // Pinned: a type change leaves it alone.
        (json!({"organisationType": "INDIVIDUAL"}), true),
        // Null: it follows the type again (INDIVIDUAL: not restricted).
        (json!({"restrictedToAvailableCloudProviders": null}), false),
        (json!({"organisationType": "TRIAL"}), true),
        (json!({"restrictedToAvailableCloudProviders": false}), false),
        (json!({"organisationType": "BUSINESS"}), false),
        (json!({"organisationType": "TRIAL"}), false),
        // Both at once: the type, and following it.
        (
            json!({"organisationType": "ENTERPRISE", "restrictedToAvailableCloudProviders": null}),
            false,
        ),
        (json!({"organisationType": "TRIAL"}), true),
    ] {
        let reply = patch(&env, &identity, &operator, body.clone()).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.body);
        assert_eq!(
            reply.body["restrictedToAvailableCloudProviders"], expected,
            "after {body}"
        );
    }
}

#[tokio::test]
async fn quota_overrides_replace_the_previous_ones_and_null_clears_them() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (slug, identity) = organisation(&env, &admin, "Quota Org", "INDIVIDUAL").await;
    for (overrides, shown, effective) in [
        (
            json!({"clustersPerCustomer": 12, "nodesPerCluster": 40}),
            json!({"clustersPerCustomer": 12, "nodesPerCluster": 40}),
            json!({"clustersPerCustomer": 12, "nodesPerCluster": 40}),
        ),
        // Replaced, not merged: clustersPerCustomer and nodesPerCluster follow the type again;
        // a null field follows the type too; 0 is a quota.
        (
            json!({"nodesPerNodePool": 0, "environmentsPerCustomer": null}),
            json!({"nodesPerNodePool": 0}),
            json!({"nodesPerNodePool": 0}),
        ),
        (Value::Null, Value::Null, json!({})),
        (
            json!({"clustersPerEnvironment": 9}),
            json!({"clustersPerEnvironment": 9}),
            json!({"clustersPerEnvironment": 9}),
        ),
        // An empty object overrides nothing: the same as null.
        (json!({}), Value::Null, json!({})),
    ] {
        let reply = patch(
            &env,
            &identity,
            &operator,
            json!({ "quotaOverrides": overrides }),
        )
        .await;
        assert_eq!(reply.status, 200, "{overrides}: {}", reply.body);
        assert_eq!(reply.body["quotaOverrides"], shown, "{overrides}");
        let expected = quotas("INDIVIDUAL", effective);
        assert_eq!(reply.body["quotas"], expected, "{overrides}");
        assert_eq!(
            customer(&env, &slug, "/quotas", &admin).await,
            expected,
            "members see the same quotas"
        );
    }
    // The overrides stay when the type changes; the type's quotas change beneath them.
    patch(
        &env,
        &identity,
        &operator,
        json!({"quotaOverrides": {"nodesPerCluster": 7}}),
    )
    .await;
    let reply = patch(
        &env,
        &identity,
        &operator,
        json!({"organisationType": "ENTERPRISE"}),
    )
    .await;
    assert_eq!(
        reply.body["quotas"],
        quotas("ENTERPRISE", json!({"nodesPerCluster": 7}))
    );
}

#[tokio::test]
async fn the_newer_of_an_operator_override_and_a_platform_event_wins() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (slug, identity) = organisation(&env, &admin, "Raced Org", "BUSINESS").await;
    let overrides = |reply: &Reply| reply.body["quotaOverrides"].clone();

    let set = patch(
        &env,
        &identity,
        &operator,
        json!({"quotaOverrides": {"clustersPerCustomer": 12}}),
    )
    .await;
    assert_eq!(overrides(&set), json!({"clustersPerCustomer": 12}));

    // An event that happened before the operator's change, arriving after it: dropped.
    let earlier = Utc::now() - Duration::hours(1);
    deliver(
        &env,
        [quotas_overridden(
            &slug,
            earlier,
            json!({"clustersPerCustomer": 99}),
        )],
    )
    .await;
    let read = get(&env, &identity, &operator).await;
    assert_eq!(overrides(&read), json!({"clustersPerCustomer": 12}));

    // An event that happened after it (its producer's clock a minute ahead): it wins.
    let ahead = Utc::now() + Duration::minutes(1);
    let ahead_event = quotas_overridden(&slug, ahead, json!({"nodesPerCluster": 64}));
    deliver(&env, [ahead_event.clone()]).await;
    let read = get(&env, &identity, &operator).await;
    assert_eq!(overrides(&read), json!({"nodesPerCluster": 64}));
    assert_eq!(
        read.body["quotas"],
        quotas("BUSINESS", json!({"nodesPerCluster": 64}))
    );

    // The operator changes them again now, which is before that event's claimed time: the
    // operator's change is still the newer one, and a redelivery of the event does not undo it.
    let set = patch(
        &env,
        &identity,
        &operator,
        json!({"quotaOverrides": {"nodePoolsPerCluster": 5}}),
    )
    .await;
    assert_eq!(set.status, 200);
    deliver(&env, [ahead_event]).await;
    let read = get(&env, &identity, &operator).await;
    assert_eq!(overrides(&read), json!({"nodePoolsPerCluster": 5}));

    // A later event wins again.
    deliver(
        &env,
        [quotas_overridden(
            &slug,
            ahead + Duration::seconds(30),
            json!({"clustersPerEnvironment": 3}),
        )],
    )
    .await;
    assert_eq!(
        overrides(&get(&env, &identity, &operator).await),
        json!({"clustersPerEnvironment": 3})
    );
    // Resending the overrides in force records them as of now, though members see no change
    // (no activity event): an event older than the PATCH, arriving after it, changes nothing.
    let (slug, identity) = organisation(&env, &admin, "Resent Org", "BUSINESS").await;
    let two_hours_ago = Utc::now() - Duration::hours(2);
    deliver(
        &env,
        [quotas_overridden(
            &slug,
            two_hours_ago,
            json!({"clustersPerEnvironment": 3}),
        )],
    )
    .await;
    let before = get(&env, &identity, &operator).await.body["revision"].clone();
    let resent = patch(
        &env,
        &identity,
        &operator,
        json!({"quotaOverrides": {"clustersPerEnvironment": 3}}),
    )
    .await;
    assert_eq!(resent.status, 200);
    assert_eq!(resent.body["revision"], before, "no activity event");
    deliver(
        &env,
        [quotas_overridden(
            &slug,
            two_hours_ago + Duration::hours(1),
            json!({"clustersPerEnvironment": 4}),
        )],
    )
    .await;
    assert_eq!(
        overrides(&get(&env, &identity, &operator).await),
        json!({"clustersPerEnvironment": 3})
    );
}

#[tokio::test]
async fn every_change_is_one_activity_event_by_the_operator() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (slug, identity) = organisation(&env, &admin, "Logged Org", "BUSINESS").await;
    let before = get(&env, &identity, &operator).await.body["revision"]
        .as_u64()
        .unwrap();
    let reply = patch(
        &env,
        &identity,
        &operator,
        json!({"organisationType": "ENTERPRISE", "restrictedToAvailableCloudProviders": true,
               "quotaOverrides": {"clustersPerCustomer": 250, "nodesPerCluster": 1000}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["revision"], before + 1, "one change");
    let event = last_event(&env, &slug, &admin).await;
    assert_eq!(event["type"], "ORGANISATION_UPDATED");
    assert_eq!(
        event["actor"],
        json!({"type": "OPERATOR", "subject": operator.sub, "username": "olga",
               "email": operator.email()})
    );
    assert_eq!(
        event["message"],
        format!(
            "{} (platform operator) changed organisationType to ENTERPRISE, \
             restrictedToAvailableCloudProviders to true, \
             quotaOverrides to {{clustersPerCustomer 250, nodesPerCluster 1000}}",
            operator.email()
        )
    );
    let page = customer(&env, &slug, "/activity", &admin).await;
    assert_eq!(page["totalElements"], before + 1);

    // Concurrent changes by two operators: both are applied, one event each.
    let other = TestUser::operator("oscar");
    let (first, second) = futures_util::join!(
        patch(
            &env,
            &identity,
            &operator,
            json!({"restrictedToAvailableCloudProviders": null}),
        ),
        patch(
            &env,
            &identity,
            &other,
            json!({"quotaOverrides": {"nodesPerNodePool": 3}}),
        ),
    );
    assert_eq!((first.status, second.status), (200, 200));
    let after = get(&env, &identity, &operator).await.body;
    assert_eq!(after["revision"], before + 3);
    assert_eq!(after["restrictedToAvailableCloudProviders"], false);
    assert_eq!(after["quotaOverrides"], json!({"nodesPerNodePool": 3}));
}

#[tokio::test]
async fn only_operators_whatever_their_memberships() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (slug, identity) = organisation(&env, &admin, "Guarded Org", "BUSINESS").await;
    let body = json!({"organisationType": "ENTERPRISE"});

    // The organisation's own admin, without the scope: 403 before anything is read.
    env.round_trips.reset();
    let reply = get(&env, &identity, &admin).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.message().contains("organisations/operator"));
    assert_eq!(
        patch(&env, &identity, &admin, body.clone()).await.status,
        403
    );
    assert_eq!(env.round_trips.get(), 0);
    // A scope that is not the operator's is not enough.
    let other_scope = TestUser {
        scope: Some("openid organisations/read".into()),
        ..TestUser::new("scoped")
    };
    assert_eq!(get(&env, &identity, &other_scope).await.status, 403);
    // Without a token: 401.
    let anonymous = send(&env.app, ApiRequest::get(&admin_path(&identity))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(customer(&env, &slug, "", &admin).await["type"], "BUSINESS");

    // A local HS256 token (make dev) carries the scope the same way.
    let by_token =
        |user: &TestUser| ApiRequest::get(&admin_path(&identity)).bearer(&user.token(300));
    assert_eq!(send(&env.app, by_token(&admin)).await.status, 403);
    assert_eq!(send(&env.app, by_token(&operator)).await.status, 200);
    // Also in an `scp` claim, as a list (some identity providers send that).
    let claims = ApiRequest::get(&admin_path(&identity)).by(&TestUser {
        scope: None,
        ..operator.clone()
    });
    let mut event = claims.event();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["scp"] =
        json!("[openid organisations/operator]");
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(api_tests::dispatch(&env.app, request).await.status, 200);

    // The operator is no member: the customer endpoints stay closed to them.
    let as_member = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&operator),
    )
    .await;
    assert_eq!(as_member.status, 403);
    assert_eq!(patch(&env, &identity, &operator, body).await.status, 200);
}

/// Scopes are granted per app client, groups per user: a customer who adds the operator scope
/// to their own authorize request is no operator, and neither is a group member whose token
/// (another client's) lacks the scope. Both are needed, in an authorizer's claims and in a
/// local token, and a `groups` claim (list or space-separated) counts as `cognito:groups` does.
#[tokio::test]
async fn operators_need_the_scope_and_the_group() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let (slug, identity) = organisation(&env, &admin, "Group Check", "BUSINESS").await;
    let operator = TestUser::operator("olga");
    let body = json!({"organisationType": "ENTERPRISE"});

    let scope_only = TestUser {
        groups: None,
        ..operator.clone()
    };
    let group_only = TestUser {
        scope: Some("openid email".into()),
        ..operator.clone()
    };
    let other_group = TestUser {
        groups: Some(vec!["customers".into(), "organisations-operators-x".into()]),
        ..operator.clone()
    };
    for user in [&scope_only, &group_only, &other_group] {
        let reply = get(&env, &identity, user).await;
        assert_eq!(reply.status, 403, "{user:?}: {}", reply.body);
        assert_eq!(patch(&env, &identity, user, body.clone()).await.status, 403);
        let by_token = ApiRequest::get(&admin_path(&identity)).bearer(&user.token(300));
        assert_eq!(send(&env.app, by_token).await.status, 403, "{user:?}");
    }
    assert_eq!(customer(&env, &slug, "", &admin).await["type"], "BUSINESS");

    // The group in a `groups` claim: a space-separated string, or a list in a local token.
    let mut event = ApiRequest::get(&admin_path(&identity))
        .by(&scope_only)
        .event();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] =
        json!("customers organisations-operators");
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(api_tests::dispatch(&env.app, request).await.status, 200);
    // The group is configuration (OPERATOR_GROUP).
    let mut app = env.app.clone();
    app.operator_group = "platform-admins".into();
    let reply = send(&app, ApiRequest::get(&admin_path(&identity)).by(&operator)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let renamed = TestUser {
        groups: Some(vec!["platform-admins".into()]),
        ..operator.clone()
    };
    let reply = send(
        &app,
        ApiRequest::get(&admin_path(&identity)).bearer(&renamed.token(300)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(patch(&env, &identity, &operator, body).await.status, 200);
}

#[tokio::test]
async fn unknown_identities_are_404_and_malformed_ones_400() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let unknown = uuid::Uuid::new_v4().to_string();
    let body = json!({"organisationType": "TRIAL"});
    assert_eq!(get(&env, &unknown, &operator).await.status, 404);
    assert_eq!(
        patch(&env, &unknown, &operator, body.clone()).await.status,
        404
    );
    for bad in ["not-a-uuid", "acme-cloud"] {
        let reply = get(&env, bad, &operator).await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.details(),
            ["organisationIdentity: must be a UUID".to_owned()]
        );
        assert_eq!(patch(&env, bad, &operator, body.clone()).await.status, 400);
    }
    // A deleted organisation is gone for operators too.
    let (_, identity) = organisation(&env, &admin, "Deleted Org", "BUSINESS").await;
    let deleted = send(
        &env.app,
        ApiRequest::delete(&format!("/api/v1/organisations/{identity}")).by(&admin),
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(get(&env, &identity, &operator).await.status, 404);
    assert_eq!(patch(&env, &identity, &operator, body).await.status, 404);
}

#[tokio::test]
async fn bad_bodies_are_400_naming_every_field_and_change_nothing() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let operator = TestUser::operator("olga");
    let (_, identity) = organisation(&env, &admin, "Strict Org", "BUSINESS").await;
    let before = get(&env, &identity, &operator).await.body;
    for (body, details) in [
        (
            json!({"organisationType": "HUGE", "restrictedToAvailableCloudProviders": "yes"}),
            vec![
                "organisationType: must be one of BUSINESS, ENTERPRISE, INDIVIDUAL, TRIAL",
                "restrictedToAvailableCloudProviders: must be true, false, or null to follow the organisation type",
            ],
        ),
        (
            json!({"organisationType": null}),
            vec!["organisationType: must not be null"],
        ),
        (
            json!({"quotaOverrides": {"nodesPerCluster": -1}}),
            vec!["quotaOverrides.nodesPerCluster: must be a whole number of at least 0, or null to follow the organisation type"],
        ),
        (
            json!({"quotaOverrides": {"clustersPerCustomer": 1.5, "nodesPerNodePool": "4"}}),
            vec![
                "quotaOverrides.clustersPerCustomer: must be a whole number of at least 0, or null to follow the organisation type",
                "quotaOverrides.nodesPerNodePool: must be a whole number of at least 0, or null to follow the organisation type",
            ],
        ),
        (
            json!({"quotaOverrides": {"nodesPerClustr": 4}}),
            vec!["quotaOverrides.nodesPerClustr: is not a quota (expected: clustersPerCustomer, clustersPerEnvironment, environmentsPerCustomer, nodePoolsPerCluster, nodesPerCluster, nodesPerNodePool)"],
        ),
        (
            json!({"quotaOverrides": [12]}),
            vec!["quotaOverrides: must be null or an object with any of clustersPerCustomer, clustersPerEnvironment, environmentsPerCustomer, nodePoolsPerCluster, nodesPerCluster, nodesPerNodePool"],
        ),
        (
            json!({"revision": 9}),
            vec!["revision: is read-only and cannot be set by this request"],
        ),
        (
            json!({"billingEmail": "b@example.com"}),
            vec!["billingEmail: is read-only and cannot be set by this request"],
        ),
        (
            json!({"organisationName": "Renamed"}),
            vec!["organisationName: is not a field of this request (expected: organisationType, quotaOverrides, restrictedToAvailableCloudProviders)"],
        ),
    ] {
        let reply = patch(&env, &identity, &operator, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        let mut got = reply.details();
        got.sort();
        assert_eq!(got, details, "{body}");
        assert!(!reply.message().is_empty());
    }
    for raw in ["", "not json", "[1]"] {
        let reply = send(
            &env.app,
            ApiRequest::patch(&admin_path(&identity))
                .by(&operator)
                .raw_body(raw),
        )
        .await;
        assert_eq!(reply.status, 400, "{raw:?}: {}", reply.body);
    }
    assert_eq!(get(&env, &identity, &operator).await.body, before);
}
