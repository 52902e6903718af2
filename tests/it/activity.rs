//! The activity log: events of every endpoint, Spring pages in both directions, constant cost.

use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};

async fn create_org(env: &TestEnv, admin: &TestUser, name: &str) -> String {
    create_organisation(&env.app, admin, name, "BUSINESS").await
}

async fn activity(env: &TestEnv, slug: &str, user: &TestUser, query: &str) -> Reply {
    send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/activity{query}")).by(user),
    )
    .await
}

fn messages(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_change_is_recorded_with_its_actor() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("alice");
    let slug = create_org(&env, &alice, "Logged Org").await;
    let org = format!("/api/v1/organisations/{slug}");
    let bob = TestUser::new("bob");

    let steps = [
        ApiRequest::patch(&org)
            .json(json!({"organisationName": "Logged Org Two", "billingEmail": "b@example.com"})),
        ApiRequest::post(&format!("{org}/members"))
            .json(json!({"email": bob.email(), "role": "developer"})),
    ];
    for step in steps {
        assert_eq!(send(&env.app, step.by(&alice)).await.status, 200);
    }
    assert_eq!(
        send(&env.app, ApiRequest::get(&format!("{org}/me")).by(&bob))
            .await
            .status,
        200
    );
    let bob_identity = send(&env.app, ApiRequest::get(&format!("{org}/me")).by(&bob))
        .await
        .body["identity"]
        .clone();
    let removed = send(
        &env.app,
        ApiRequest::delete(&format!("{org}/members/{}", bob_identity.as_str().unwrap())).by(&alice),
    )
    .await;
    assert_eq!(removed.status, 204);

    // Refused requests leave no trace.
    let refused = [
        ApiRequest::patch(&org)
            .by(&alice)
            .json(json!({"vatCodeValidated": true})),
        ApiRequest::patch(&org)
            .by(&bob)
            .json(json!({"organisationName": "Hijacked"})),
        ApiRequest::post(&format!("{org}/members"))
            .by(&alice)
            .json(json!({"email": alice.email(), "role": "viewer"})),
    ];
    for request in refused {
        assert!(send(&env.app, request).await.status >= 400);
    }

    let page = activity(&env, &slug, &alice, "").await;
    assert_eq!(page.status, 200);
    let events = page.body["content"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "MEMBER_REMOVED",
            "MEMBER_JOINED",
            "MEMBER_ADDED",
            "ORGANISATION_UPDATED",
            "ORGANISATION_CREATED"
        ]
    );
    assert_eq!(page.body["totalElements"], 5);

    let created = &events[4];
    assert_eq!(
        created["actor"],
        json!({
            "type": "USER", "subject": alice.sub, "username": "alice", "email": alice.email()
        })
    );
    assert_eq!(
        created["message"],
        format!("{} created organisation Logged Org ({slug})", alice.email())
    );
    assert!(events[3]["message"]
        .as_str()
        .unwrap()
        .ends_with("changed organisationName, billingEmail"));
    assert_eq!(
        events[2]["message"],
        format!("{} added {} as developer", alice.email(), bob.email())
    );
    assert_eq!(
        events[1]["actor"]["subject"],
        bob.sub.as_str(),
        "the joiner is the actor"
    );
    assert_eq!(
        events[1]["message"],
        format!("{} joined as developer", bob.email())
    );
    assert_eq!(
        events[0]["message"],
        format!("{} removed {} (developer)", alice.email(), bob.email())
    );
    for event in events {
        assert_eq!(
            event.as_object().unwrap().len(),
            4,
            "actor, createdAt, message, type"
        );
        chrono::DateTime::parse_from_rfc3339(event["createdAt"].as_str().unwrap()).unwrap();
    }
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
}

#[tokio::test]
async fn pages_in_both_directions_with_spring_fields() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("pager");
    let slug = create_org(&env, &admin, "Paged Log").await;
    for i in 1..10 {
        let reply = send(
            &env.app,
            ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
                .by(&admin)
                .json(json!({"organisationName": format!("Paged Log {i}")})),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    // 10 events: 1 creation, 9 renames.
    let first = activity(&env, &slug, &admin, "?size=4").await.body;
    assert_eq!(first["totalElements"], 10);
    assert_eq!(first["totalPages"], 3);
    assert_eq!(first["number"], 0);
    assert_eq!(first["size"], 4);
    assert_eq!(first["numberOfElements"], 4);
    assert_eq!(
        (
            first["first"].as_bool(),
            first["last"].as_bool(),
            first["empty"].as_bool()
        ),
        (Some(true), Some(false), Some(false))
    );
    assert_eq!(
        first["pageable"],
        json!({"offset": 0, "pageNumber": 0, "pageSize": 4, "paged": true, "unpaged": false, "sort": {"empty": false, "sorted": true, "unsorted": false}})
    );
    assert_eq!(
        first["sort"],
        json!({"empty": false, "sorted": true, "unsorted": false})
    );
    assert!(messages(&first)[0].contains("changed organisationName"));

    let last = activity(&env, &slug, &admin, "?size=4&page=2").await.body;
    assert_eq!(last["numberOfElements"], 2);
    assert_eq!(last["last"], true);
    assert!(
        messages(&last)[1].contains("created organisation"),
        "the oldest event ends the last page"
    );

    let ascending = activity(&env, &slug, &admin, "?size=4&page=0&sort=createdAt,asc")
        .await
        .body;
    assert!(messages(&ascending)[0].contains("created organisation"));
    let asc_last = activity(&env, &slug, &admin, "?size=4&page=2&sort=createdAt,asc")
        .await
        .body;
    assert_eq!(asc_last["numberOfElements"], 2);

    // Every event exactly once, in either direction, at size 1.
    for direction in ["asc", "desc"] {
        let mut all = Vec::new();
        for page in 0..10 {
            let body = activity(
                &env,
                &slug,
                &admin,
                &format!("?size=1&page={page}&sort=createdAt,{direction}"),
            )
            .await
            .body;
            assert_eq!(body["numberOfElements"], 1);
            all.push(body["content"][0]["createdAt"].as_str().unwrap().to_owned());
        }
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }
    let full = activity(&env, &slug, &admin, "?size=100").await.body;
    assert_eq!(full["numberOfElements"], 10);
    assert_eq!(full["totalPages"], 1);
    assert_eq!(
        (full["first"].as_bool(), full["last"].as_bool()),
        (Some(true), Some(true))
    );

    let past = activity(&env, &slug, &admin, "?size=4&page=3").await.body;
    assert_eq!(past["empty"], true);
    assert_eq!(past["content"], json!([]));
    assert_eq!(past["totalElements"], 10);

    for query in [
        "?size=0",
        "?size=101",
        "?page=-2",
        "?sort=message,asc",
        "?sort=createdAt,up",
        "?size=ten",
    ] {
        let reply = activity(&env, &slug, &admin, query).await;
        assert_eq!(reply.status, 400, "{query}");
        assert!(!reply.details().is_empty(), "{query}");
    }
}

#[tokio::test]
async fn a_page_costs_the_same_at_any_page_number() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("cost");
    let slug = create_org(&env, &admin, "Cost Log").await;
    for i in 1..30 {
        let reply = send(
            &env.app,
            ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
                .by(&admin)
                .json(json!({"organisationName": format!("Cost Log {i}")})),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    for page in [0, 3, 5] {
        env.round_trips.reset();
        let body = activity(&env, &slug, &admin, &format!("?size=5&page={page}"))
            .await
            .body;
        assert_eq!(body["numberOfElements"], 5);
        assert_eq!(
            env.round_trips.get(),
            2,
            "page {page}: one BatchGet, one Query"
        );
    }
}

#[tokio::test]
async fn concurrent_writers_get_gap_free_sequences() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("burst");
    let slug = create_org(&env, &admin, "Burst Log").await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = env.app.clone();
        let request = if i % 2 == 0 {
            ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
                .json(json!({"email": format!("burst{i}@example.com"), "role": "viewer"}))
        } else {
            ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
                .json(json!({"organisationName": format!("Burst Log {i}")}))
        }
        .by(&admin);
        tasks.push(tokio::spawn(
            async move { send(&app, request).await.status },
        ));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let page = activity(&env, &slug, &admin, "?size=100&sort=createdAt,asc")
        .await
        .body;
    assert_eq!(page["totalElements"], 13);
    assert_eq!(
        page["numberOfElements"], 13,
        "no gaps: every sequence number up to the total holds an event"
    );
    let added = messages(&page)
        .iter()
        .filter(|m| m.contains(" added "))
        .count();
    assert_eq!(added, 6);
}

#[tokio::test]
async fn non_members_and_unknown_organisations() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("owner");
    let slug = create_org(&env, &admin, "Private Log").await;
    assert_eq!(
        activity(&env, &slug, &TestUser::new("stranger"), "")
            .await
            .status,
        403
    );
    assert_eq!(activity(&env, "no-such-org", &admin, "").await.status, 404);
    let anonymous = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/activity")),
    )
    .await;
    assert_eq!(anonymous.status, 401);
}
