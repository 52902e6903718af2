//! Outbound events (docs/events.md): real requests through the handlers on DynamoDB Local with
//! the table's stream enabled; the stream read as the local pump reads it and handed to the
//! `event-publisher` function in the Lambda DynamoDB-stream event shape; a fake EventBridge at
//! the network boundary.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use api_tests::outbound::eventbridge::{FakeEventBridge, PutEntry, TEST_BUS};
use api_tests::outbound::{schema, schema_errors, StreamTap};
use api_tests::vies::{FakeVies, Vies};
use api_tests::{send, ApiRequest, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::activity::DetailType;
use shared::publisher::{event_id, Publisher, ReceivedEvent, Sink, StreamEvent, DEFAULT_SOURCE};

const AGREEMENTS: &str =
    r#"[{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]"#;

fn agreements() -> Value {
    serde_json::from_str(AGREEMENTS).unwrap()
}

async fn ok(env: &TestEnv, request: ApiRequest) -> Value {
    let reply = send(&env.app, request).await;
    assert!(reply.status < 300, "{} {}", reply.status, reply.body);
    reply.body
}

async fn publish(publisher: &Publisher, batch: StreamEvent) -> Vec<String> {
    event_publisher::handle(publisher, batch)
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier.unwrap_or_default())
        .collect()
}

/// The common fields every event carries, checked; returns the event without them.
fn common(entry: &PutEntry, identity: &str, slug: &str) -> (u64, Value) {
    assert_eq!(entry.source, DEFAULT_SOURCE);
    assert_eq!(entry.bus, TEST_BUS);
    let mut detail = entry.detail.clone();
    let errors = schema_errors(&entry.detail_type, &detail);
    assert!(
        errors.is_empty(),
        "{}: {errors:?}\n{detail:#}",
        entry.detail_type
    );
    assert_eq!(detail["organisationIdentity"], identity);
    assert_eq!(detail["organisationSlug"], slug);
    let revision = detail["revision"].as_u64().expect("a revision");
    let occurred = detail["occurredAt"].as_str().expect("occurredAt");
    assert!(chrono::DateTime::parse_from_rfc3339(occurred).is_ok());
    let object = detail.as_object_mut().unwrap();
    for field in [
        "eventId",
        "organisationIdentity",
        "organisationSlug",
        "revision",
        "occurredAt",
    ] {
        object.remove(field);
    }
    (revision, detail)
}

/// Every write path, in one organisation's life: the events it publishes, with their fields.
#[tokio::test]
async fn every_write_path_publishes_its_events_with_their_fields() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let alice = TestUser::new("alice");
    let bob = TestUser::new("bob");

    // Create with a VAT number VIES confirms: OrganisationCreated, VatStatusChanged.
    let created = ok(
        &env,
        ApiRequest::post("/api/v1/organisations")
            .by(&alice)
            .json(json!({
                "organisationName": "Acme Events", "organisationType": "BUSINESS",
                "contactEmail": "ops@acme.example", "companyName": "Acme B.V.",
                "vatNumber": "NL004495445B01", "acceptedAgreements": agreements()
            })),
    )
    .await;
    let slug = created["slug"]["slugValue"].as_str().unwrap().to_owned();
    let identity = created["identity"].as_str().unwrap().to_owned();
    let org = format!("/api/v1/organisations/{slug}");

    // PATCH: name, billing e-mail and type; then a VAT number VIES refuses.
    ok(
        &env,
        ApiRequest::patch(&org).by(&alice).json(json!({
            "organisationName": "Acme Two", "billingEmail": "billing@acme.example",
            "organisationType": "INDIVIDUAL"
        })),
    )
    .await;
    vies.answer("DE136695976", Vies::Invalid);
    ok(
        &env,
        ApiRequest::patch(&org)
            .by(&alice)
            .json(json!({"vatNumber": "DE136695976"})),
    )
    .await;
    // A PATCH that changes nothing writes nothing, and publishes nothing.
    ok(
        &env,
        ApiRequest::patch(&org)
            .by(&alice)
            .json(json!({"organisationName": "Acme Two"})),
    )
    .await;

    // Members: bob invited, bob's first request claims the invitation, bob removed.
    ok(
        &env,
        ApiRequest::post(&format!("{org}/members"))
            .by(&alice)
            .json(json!({"email": bob.email(), "role": "developer", "kubernetesRole": "VIEW"})),
    )
    .await;
    let me = ok(&env, ApiRequest::get(&format!("{org}/me")).by(&bob)).await;
    let bob_identity = me["identity"].as_str().unwrap().to_owned();

    // The contact address verified (the first mail is its code).
    let code = env.mails()[0].code();
    ok(
        &env,
        ApiRequest::get(&format!("/api/v1/validations/verify-email/{code}")),
    )
    .await;

    // The scheduled re-validation: VIES now confirms the number.
    vies.answer(
        "DE136695976",
        Vies::Valid {
            name: "ACME GMBH",
            address: "BERLIN",
        },
    );
    env.store()
        .client()
        .update_item()
        .table_name(&env.table)
        .set_key(Some(
            shared::storage::keys::Key::profile(&shared::domain::Slug::parse(&slug).unwrap())
                .into_item(),
        ))
        .update_expression("SET gsi1sk = :due")
        .expression_attribute_values(
            ":due",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::storage::keys::vat_check_due(
                chrono::Utc::now() - chrono::Duration::minutes(1),
            )),
        )
        .send()
        .await
        .unwrap();
    let report = shared::vat_revalidation::run(
        &env.app,
        chrono::Utc::now(),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(report.status_changed, 1, "{report:?}");

    ok(
        &env,
        ApiRequest::delete(&format!("{org}/members/{bob_identity}")).by(&alice),
    )
    .await;
    ok(
        &env,
        ApiRequest::delete(&format!("/api/v1/organisations/{identity}")).by(&alice),
    )
    .await;

    let batch = tap.batch().await;
    assert!(publish(&publisher, batch).await.is_empty());
    let entries = bridge.accepted();

    // Revisions increase, positions within a change follow each other, eventIds derive from
    // both.
    let mut last: Option<(u64, usize)> = None;
    let mut positions: BTreeMap<u64, usize> = BTreeMap::new();
    for entry in &entries {
        let revision = entry.detail["revision"].as_u64().unwrap();
        let position = positions.entry(revision).or_default();
        let key = (revision, *position);
        assert!(last < Some(key), "{last:?} then {key:?}");
        assert_eq!(
            entry.event_id(),
            event_id(identity.parse().unwrap(), revision, *position).to_string()
        );
        *position += 1;
        last = Some(key);
    }

    let alice_actor = json!({"type": "user", "sub": alice.sub, "username": "alice"});
    let bob_actor = json!({"type": "user", "sub": bob.sub, "username": "bob"});
    let got: Vec<(String, u64, Value)> = entries
        .iter()
        .map(|e| {
            let (revision, detail) = common(e, &identity, &slug);
            (e.detail_type.clone(), revision, detail)
        })
        .collect();
    let expected = vec![
        (
            "OrganisationCreated",
            1,
            json!({"actor": alice_actor, "organisationName": "Acme Events",
                   "organisationType": "BUSINESS", "contactEmail": "ops@acme.example",
                   "billingEmail": null, "companyName": "Acme B.V.", "companyAddress": null,
                   "vatNumber": "NL004495445B01", "restrictedToAvailableCloudProviders": false,
                   "registration": false}),
        ),
        (
            "VatStatusChanged",
            1,
            json!({"actor": alice_actor, "vatNumber": "NL004495445B01", "vatStatus": "VERIFIED",
                   "previousVatStatus": null, "vatCodeValidated": true}),
        ),
        (
            "OrganisationUpdated",
            2,
            json!({"actor": alice_actor,
                   "changedFields": ["billingEmail", "organisationName", "organisationType"],
                   "changes": {"organisationName": "Acme Two", "organisationType": "INDIVIDUAL",
                               "billingEmail": "billing@acme.example"}}),
        ),
        (
            "OrganisationTypeChanged",
            2,
            json!({"actor": alice_actor, "organisationType": "INDIVIDUAL",
                   "previousOrganisationType": "BUSINESS"}),
        ),
        (
            "OrganisationUpdated",
            3,
            json!({"actor": alice_actor, "changedFields": ["vatNumber"],
                   "changes": {"vatNumber": "DE136695976"}}),
        ),
        (
            "VatStatusChanged",
            3,
            json!({"actor": alice_actor, "vatNumber": "DE136695976", "vatStatus": "UNVERIFIED",
                   "previousVatStatus": "VERIFIED", "vatCodeValidated": false}),
        ),
        (
            "MemberAdded",
            4,
            json!({"actor": alice_actor, "memberIdentity": bob_identity, "role": "developer",
                   "kubernetesRole": "VIEW"}),
        ),
        (
            "MemberJoined",
            5,
            json!({"actor": bob_actor, "memberIdentity": bob_identity, "role": "developer",
                   "kubernetesRole": "VIEW"}),
        ),
        (
            "EmailVerified",
            6,
            json!({"actor": {"type": "user", "sub": null, "username": null},
                   "emailKind": "CONTACT", "email": "ops@acme.example"}),
        ),
        (
            "VatStatusChanged",
            7,
            json!({"actor": {"type": "system", "sub": null, "username": null},
                   "vatNumber": "DE136695976", "vatStatus": "VERIFIED",
                   "previousVatStatus": "UNVERIFIED", "vatCodeValidated": true}),
        ),
        (
            "MemberRemoved",
            8,
            json!({"actor": alice_actor, "memberIdentity": bob_identity, "role": "developer",
                   "kubernetesRole": "VIEW"}),
        ),
        (
            "OrganisationDeleted",
            9,
            json!({"actor": alice_actor, "organisationName": "Acme Two"}),
        ),
    ];
    let expected: Vec<(String, u64, Value)> = expected
        .into_iter()
        .map(|(t, r, d)| (t.to_owned(), r, d))
        .collect();
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "event {i}");
    }
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    // No e-mail address of a person in any event (the organisation's own addresses only).
    for entry in &entries {
        let text = entry.detail.to_string();
        for person in [alice.email(), bob.email()] {
            assert!(!text.contains(person), "{text}");
        }
    }
}

/// The sweep after a delete removes the partition's items: removals pass no filter and, even
/// when handed over, publish nothing; the deletion is published exactly once.
#[tokio::test]
async fn a_deletion_is_published_once_and_its_sweep_publishes_nothing() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let alice = TestUser::new("alice");
    let slug = api_tests::create_organisation(&env.app, &alice, "Gone Soon", "BUSINESS").await;
    let org = ok(
        &env,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&alice),
    )
    .await;
    let identity = org["identity"].as_str().unwrap();
    ok(
        &env,
        ApiRequest::delete(&format!("/api/v1/organisations/{identity}")).by(&alice),
    )
    .await;
    assert!(
        env.partition(&slug, "").await.is_empty(),
        "the sweep emptied the partition"
    );
    let records = tap.records().await;
    let removals = records
        .iter()
        .filter(|r| r["eventName"] == "REMOVE")
        .count();
    assert!(
        removals >= 5,
        "profile, members, activity, purge marker: {removals}"
    );
    // Every record, unfiltered, as if the filter let everything through.
    let everything = devtools::stream::lambda_event(records.clone()).unwrap();
    assert!(publish(&publisher, everything).await.is_empty());
    let types: Vec<String> = bridge
        .accepted()
        .iter()
        .map(|e| e.detail_type.clone())
        .collect();
    assert_eq!(types, ["OrganisationCreated", "OrganisationDeleted"]);
    // The filter passes exactly the two insertions that publish.
    let passed: Vec<&Value> = records
        .iter()
        .filter(|r| devtools::stream::passes_filter(r))
        .collect();
    assert_eq!(passed.len(), 2, "{passed:#?}");
}

/// A platform fact members see (a cluster) is in the activity log but publishes nothing; the
/// next change's event still has the next revision.
#[tokio::test]
async fn platform_facts_publish_nothing() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let admin = TestUser::new("admin");
    let slug = api_tests::create_organisation(&env.app, &admin, "Acme Cloud", "BUSINESS").await;
    assert_eq!(slug, "acme-cloud");
    let failures =
        api_tests::platform::deliver(&env.app, api_tests::platform::fixture("cluster-created"))
            .await;
    assert!(failures.is_empty(), "{failures:?}");
    ok(
        &env,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"organisationName": "Acme Cloud Two"})),
    )
    .await;
    assert!(publish(&publisher, tap.batch().await).await.is_empty());
    let published: Vec<(String, u64)> = bridge
        .accepted()
        .iter()
        .map(|e| {
            (
                e.detail_type.clone(),
                e.detail["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        published,
        [
            ("OrganisationCreated".to_owned(), 1),
            ("OrganisationUpdated".to_owned(), 3)
        ]
    );
}

/// A `QuotasOverridden` platform event that changes the overrides: an `ORGANISATION_UPDATED`
/// activity event by the platform, publishing `OrganisationUpdated` and `QuotasChanged`; the
/// same event again changes and publishes nothing.
#[tokio::test]
async fn a_quota_override_publishes_quotas_changed() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let admin = TestUser::new("admin");
    let slug = api_tests::create_organisation(&env.app, &admin, "Acme Cloud", "BUSINESS").await;
    for _ in 0..2 {
        let failures = api_tests::platform::deliver(
            &env.app,
            api_tests::platform::fixture("quotas-overridden"),
        )
        .await;
        assert!(failures.is_empty(), "{failures:?}");
    }
    assert!(publish(&publisher, tap.batch().await).await.is_empty());
    let identity = bridge.accepted()[0].detail["organisationIdentity"]
        .as_str()
        .unwrap()
        .to_owned();
    let got: Vec<(String, u64, Value)> = bridge
        .accepted()
        .iter()
        .skip(1)
        .map(|e| {
            let (revision, detail) = common(e, &identity, &slug);
            (e.detail_type.clone(), revision, detail)
        })
        .collect();
    let system = json!({"type": "system", "sub": null, "username": null});
    assert_eq!(
        got,
        [
            (
                "OrganisationUpdated".to_owned(),
                2,
                json!({"actor": system, "changedFields": ["quotaOverrides"],
                       "changes": {"quotaOverrides": {"clustersPerCustomer": 40,
                                                      "nodesPerCluster": 100}}})
            ),
            (
                "QuotasChanged".to_owned(),
                2,
                json!({"actor": system, "organisationType": "BUSINESS",
                       "quotas": {"clustersPerCustomer": 40, "clustersPerEnvironment": 10,
                                  "environmentsPerCustomer": 5, "nodePoolsPerCluster": 10,
                                  "nodesPerCluster": 100, "nodesPerNodePool": 20},
                       "quotaOverrides": {"clustersPerCustomer": 40,
                                          "clustersPerEnvironment": null,
                                          "environmentsPerCustomer": null,
                                          "nodePoolsPerCluster": null, "nodesPerCluster": 100,
                                          "nodesPerNodePool": null}})
            ),
        ]
    );
}

/// Several organisations' changes, for the delivery tests: (slug, identity) of each.
async fn changes(env: &TestEnv, count: usize) -> Vec<(String, String)> {
    let mut made = Vec::new();
    for i in 0..count {
        let alice = TestUser::new("alice");
        let slug = api_tests::create_organisation(
            &env.app,
            &alice,
            &format!("Replay {}", (b'A' + i as u8) as char),
            "BUSINESS",
        )
        .await;
        let body = ok(
            env,
            ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
                .by(&alice)
                .json(json!({"organisationType": "INDIVIDUAL"})),
        )
        .await;
        made.push((slug, body["identity"].as_str().unwrap().to_owned()));
    }
    made
}

#[tokio::test]
async fn a_replayed_batch_publishes_the_same_event_ids_and_nothing_new() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    changes(&env, 3).await;
    let batch = tap.batch().await;
    assert_eq!(batch.records.len(), 6, "a create and a PATCH each");
    assert!(publish(&publisher, batch.clone()).await.is_empty());
    let first: Vec<String> = bridge.accepted().iter().map(PutEntry::event_id).collect();
    assert_eq!(
        first.len(),
        9,
        "created, updated and type changed per organisation"
    );
    assert_eq!(first.iter().collect::<BTreeSet<_>>().len(), 9);
    bridge.reset();
    assert!(publish(&publisher, batch).await.is_empty());
    let again: Vec<String> = bridge.accepted().iter().map(PutEntry::event_id).collect();
    assert_eq!(again, first, "the same ids, in the same order");
    // The stream has nothing more: a replay added no record.
    assert!(tap.batch().await.records.is_empty());
}

#[tokio::test]
async fn failed_entries_come_back_as_batch_item_failures_and_a_second_delivery_publishes_them() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let made = changes(&env, 4).await;
    let batch = tap.batch().await;
    let records = batch.records.clone();
    // The PATCH of the 2nd organisation (its OrganisationTypeChanged, position 1) and the create
    // of the 4th fail on every put; the create of the 1st fails once only (put again within
    // the invocation).
    let identity = |i: usize| made[i].1.parse::<uuid::Uuid>().unwrap();
    let always = [
        event_id(identity(1), 2, 1).to_string(),
        event_id(identity(3), 1, 0).to_string(),
    ];
    for id in &always {
        bridge.fail(id, u32::MAX);
    }
    bridge.fail(&event_id(identity(0), 1, 0).to_string(), 1);
    let failed = publish(&publisher, batch).await;
    let sequence = |slug: &str, revision: u64| {
        records
            .iter()
            .find(|r| {
                r.change.keys["pk"] == serde_dynamo::AttributeValue::S(format!("ORG#{slug}"))
                    && r.change.keys["sk"]
                        == serde_dynamo::AttributeValue::S(format!("ACTIVITY#{revision:012}"))
            })
            .and_then(|r| r.change.sequence_number.clone())
            .unwrap()
    };
    let expected = BTreeSet::from([sequence(&made[1].0, 2), sequence(&made[3].0, 1)]);
    assert_eq!(failed.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let published: BTreeSet<String> = bridge.accepted().iter().map(PutEntry::event_id).collect();
    assert_eq!(published.len(), 12 - 2, "all but the two failing entries");
    assert!(always.iter().all(|id| !published.contains(id)));
    assert!(published.contains(&event_id(identity(0), 1, 0).to_string()));

    // The stream delivers again from the first failed record (as Lambda does); now EventBridge
    // takes everything.
    bridge.heal();
    let first_failed = records
        .iter()
        .position(|r| failed.contains(r.change.sequence_number.as_ref().unwrap()))
        .unwrap();
    let mut again = StreamEvent::default();
    again.records = records[first_failed..].to_vec();
    assert!(publish(&publisher, again).await.is_empty());
    let published: BTreeSet<String> = bridge.accepted().iter().map(PutEntry::event_id).collect();
    assert_eq!(published.len(), 12, "every event, each id once");
}

#[tokio::test]
async fn the_local_outbox_holds_each_event_as_a_rule_target_receives_it() {
    let env = TestEnv::new().await;
    let dir = std::env::temp_dir().join(format!("orgs-events-{}", env.table));
    let publisher = Publisher::new(Sink::Outbox { dir: dir.clone() }, "platform.test");
    let mut tap = StreamTap::new(&env).await;
    let made = changes(&env, 1).await;
    assert!(publish(&publisher, tap.batch().await).await.is_empty());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    let identity: uuid::Uuid = made[0].1.parse().unwrap();
    for (revision, position, detail_type) in [
        (1, 0, "OrganisationCreated"),
        (2, 0, "OrganisationUpdated"),
        (2, 1, "OrganisationTypeChanged"),
    ] {
        let id = event_id(identity, revision, position).to_string();
        let text = std::fs::read_to_string(dir.join(format!("{id}.json"))).unwrap();
        let event: ReceivedEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(event.id, id);
        assert_eq!(event.source, "platform.test");
        assert_eq!(event.detail_type, detail_type);
        assert_eq!(event.detail["eventId"], id);
        assert!(schema_errors(detail_type, &event.detail).is_empty());
        assert!(chrono::DateTime::parse_from_rfc3339(&event.time).is_ok());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The local pipeline of `make dev` (the stream pump's reader and the outbox): an event is a
/// file well within 5 seconds of its change.
#[tokio::test]
async fn an_event_reaches_the_local_outbox_within_5_seconds() {
    let env = TestEnv::new().await;
    let dir = std::env::temp_dir().join(format!("orgs-events-{}", env.table));
    let publisher = Publisher::new(Sink::Outbox { dir: dir.clone() }, DEFAULT_SOURCE);
    let mut tap = StreamTap::new(&env).await;
    let alice = TestUser::new("alice");
    let mut delays = Vec::new();
    for i in 0..5 {
        let before = std::fs::read_dir(&dir).map_or(0, Iterator::count);
        api_tests::create_organisation(&env.app, &alice, &format!("Pump {i}"), "BUSINESS").await;
        // Committed when the request answered: the delay is the stream's and the pump's.
        let written = Instant::now();
        // The pump's loop: poll every 250 ms, publish what passed the filter.
        loop {
            let records = tap.records().await;
            for batch in devtools::stream::batches(&records) {
                let event = devtools::stream::lambda_event(batch).unwrap();
                assert!(publish(&publisher, event).await.is_empty());
            }
            if std::fs::read_dir(&dir).map_or(0, Iterator::count) > before {
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(5),
                "no event after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        delays.push(written.elapsed());
    }
    let worst = delays.iter().max().unwrap();
    println!("change → outbox file: {delays:?} (worst {worst:?})");
    assert!(*worst < Duration::from_secs(5));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `docs/benchmarks.md`: PutEvents calls per published event at full batches (100 records of
/// one event each) and the publisher's time per record, against the fake EventBridge on
/// loopback.
#[tokio::test]
async fn full_batches_take_one_put_events_call_per_10_events() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let alice = TestUser::new("alice");
    let slug = api_tests::create_organisation(&env.app, &alice, "Busy Org", "BUSINESS").await;
    let org = format!("/api/v1/organisations/{slug}");
    tap.batch().await;
    for i in 0..100 {
        let name = format!("Busy Org {i}");
        ok(
            &env,
            ApiRequest::patch(&org)
                .by(&alice)
                .json(json!({"organisationName": name})),
        )
        .await;
    }
    let batch = tap.batch().await;
    assert_eq!(batch.records.len(), 100);
    let started = Instant::now();
    let (done, response) = publisher.publish_counted(batch).await;
    let elapsed = started.elapsed();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(done.events, 100);
    assert_eq!(bridge.calls(), 10);
    let per_event = bridge.calls() as f64 / done.events as f64;
    println!(
        "PutEvents calls per event: {per_event:.2}; publisher time per record: {:.2} ms ({} records in {elapsed:?})",
        elapsed.as_secs_f64() * 1000.0 / 100.0,
        done.records
    );
    assert!(per_event <= 0.1);
}

/// Every detail type has its schema under docs/events/, each schema's examples validate
/// against it, and there is no schema of a type that is not published.
#[test]
fn every_detail_type_has_a_schema_whose_examples_validate() {
    let dir = api_tests::dynamodb::repo_root().join("docs/events");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    let types: BTreeSet<String> = DetailType::ALL
        .iter()
        .map(|t| format!("{}.json", t.as_str()))
        .collect();
    assert_eq!(files, types);
    for detail_type in DetailType::ALL {
        let schema = schema(detail_type.as_str());
        let examples = schema["examples"].as_array().expect("examples");
        assert!(!examples.is_empty());
        for example in examples {
            let errors = schema_errors(detail_type.as_str(), example);
            assert!(errors.is_empty(), "{detail_type:?}: {errors:?}");
        }
        // What a schema refuses: a missing common field.
        let mut broken = examples[0].clone();
        broken.as_object_mut().unwrap().remove("eventId");
        assert!(!schema_errors(detail_type.as_str(), &broken).is_empty());
    }
}

/// A platform operator's PATCH (the operator plane): `OrganisationUpdated`,
/// `OrganisationTypeChanged` and `QuotasChanged` of one change, by an `operator` actor.
#[tokio::test]
async fn an_operators_change_publishes_its_type_and_quotas() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let alice = TestUser::new("alice");
    let olga = TestUser::operator("olga");
    let slug = api_tests::create_organisation(&env.app, &alice, "Acme Ops", "BUSINESS").await;
    let org = ok(
        &env,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&alice),
    )
    .await;
    let identity = org["identity"].as_str().unwrap().to_owned();
    ok(
        &env,
        ApiRequest::patch(&format!("/admin/v1/orgs/{identity}"))
            .by(&olga)
            .json(json!({"organisationType": "ENTERPRISE",
                         "quotaOverrides": {"nodesPerCluster": 1000}})),
    )
    .await;
    assert!(publish(&publisher, tap.batch().await).await.is_empty());
    let entries = bridge.accepted();
    let got: Vec<(String, u64, Value)> = entries
        .iter()
        .skip(1)
        .map(|e| {
            let (revision, detail) = common(e, &identity, &slug);
            (e.detail_type.clone(), revision, detail)
        })
        .collect();
    let olga_actor = json!({"type": "operator", "sub": olga.sub, "username": "olga"});
    let overrides = json!({"clustersPerCustomer": null, "clustersPerEnvironment": null,
                           "environmentsPerCustomer": null, "nodePoolsPerCluster": null,
                           "nodesPerCluster": 1000, "nodesPerNodePool": null});
    assert_eq!(
        got,
        [
            (
                "OrganisationUpdated".to_owned(),
                2,
                json!({"actor": olga_actor,
                       "changedFields": ["organisationType", "quotaOverrides"],
                       "changes": {"organisationType": "ENTERPRISE",
                                   "quotaOverrides": {"nodesPerCluster": 1000}}})
            ),
            (
                "OrganisationTypeChanged".to_owned(),
                2,
                json!({"actor": olga_actor, "organisationType": "ENTERPRISE",
                       "previousOrganisationType": "BUSINESS"})
            ),
            (
                "QuotasChanged".to_owned(),
                2,
                json!({"actor": olga_actor, "organisationType": "ENTERPRISE",
                       "quotas": {"clustersPerCustomer": 100, "clustersPerEnvironment": 50,
                                  "environmentsPerCustomer": 20, "nodePoolsPerCluster": 25,
                                  "nodesPerCluster": 1000, "nodesPerNodePool": 100},
                       "quotaOverrides": overrides})
            ),
        ]
    );
}
