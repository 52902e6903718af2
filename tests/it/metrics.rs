//! Metrics (docs/observability.md): real requests, platform event batches and stream batches
//! through the functions' handlers, with VIES, mail and EventBridge at their network
//! boundaries; the embedded metric format lines each emitted are captured
//! (`shared::metrics::capture`), parsed and checked: the EMF document's shape, the namespace,
//! each metric's dimension sets and dimension values, and its values.

use std::future::Future;
use std::time::Duration;

use api_tests::outbound::eventbridge::{FakeEventBridge, PutEntry};
use api_tests::outbound::StreamTap;
use api_tests::platform::{deliver_bodies, event};
use api_tests::vies::{FakeVies, Vies};
use api_tests::{create_organisation, faults, send, ApiRequest, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::platform::EventKind;
use shared::metrics::{capture, DEFAULT_NAMESPACE};
use shared::publisher::event_id;

/// The lines `future` emitted, each parsed and checked against the EMF specification: one
/// directive in the namespace, every dimension a string member and every metric a number
/// member of the document, in `Count`.
async fn emitted<F: Future>(future: F) -> (F::Output, Vec<Value>) {
    // Boxed: a handler's future is large in a debug build, and the capture would copy it.
    let (output, lines) = capture(Box::pin(future)).await;
    let documents = lines
        .iter()
        .map(|line| {
            assert!(!line.contains('\n'), "one line per document: {line}");
            let document: Value = serde_json::from_str(line).expect("a JSON document");
            let aws = &document["_aws"];
            assert!(
                aws["Timestamp"].as_i64().unwrap() > 1_700_000_000_000,
                "{line}"
            );
            let directives = aws["CloudWatchMetrics"].as_array().unwrap();
            assert_eq!(directives.len(), 1, "{line}");
            let directive = &directives[0];
            assert_eq!(directive["Namespace"], DEFAULT_NAMESPACE, "{line}");
            for set in directive["Dimensions"].as_array().unwrap() {
                for name in set.as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    assert!(document[name].is_string(), "dimension {name}: {line}");
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                assert_eq!(metric["Unit"], "Count", "{line}");
                let name = metric["Name"].as_str().unwrap();
                assert!(document[name].is_u64(), "metric {name}: {line}");
            }
            assert_eq!(document["level"], "INFO", "{line}");
            document
        })
        .collect();
    (output, documents)
}

/// The documents that carry `metric`.
fn of<'a>(documents: &'a [Value], metric: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Name"] == metric)
        })
        .collect()
}

/// The dimension sets of a document.
fn dimension_sets(document: &Value) -> Value {
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone()
}

/// The sum of `metric` over the documents whose dimensions have the values `dimensions`.
fn total(documents: &[Value], metric: &str, dimensions: &[(&str, &str)]) -> u64 {
    of(documents, metric)
        .into_iter()
        .filter(|d| dimensions.iter().all(|(name, value)| d[*name] == *value))
        .map(|d| d[metric].as_u64().unwrap())
        .sum()
}

fn create_body(name: &str, contact: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": contact,
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]
    })
}

const CREATE: &str = "POST /api/v1/organisations";
const GET: &str = "GET /api/v1/organisations/{organisationSlug}";
const PATCH: &str = "PATCH /api/v1/organisations/{organisationSlug}";

#[tokio::test]
async fn every_answer_is_counted_by_route_as_4xx_or_5xx() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("routes");
    let stranger = TestUser::new("stranger");
    let (slug, documents) = emitted(create_organisation(
        &env.app,
        &admin,
        "Metric Routes",
        "BUSINESS",
    ))
    .await;
    let answers = of(&documents, "4xx");
    assert_eq!(answers.len(), 1, "one answer, one document: {documents:?}");
    assert_eq!(dimension_sets(answers[0]), json!([["Route"]]));
    assert_eq!(answers[0]["Route"], CREATE);
    assert_eq!(
        (answers[0]["4xx"].as_u64(), answers[0]["5xx"].as_u64()),
        (Some(0), Some(0))
    );

    let path = format!("/api/v1/organisations/{slug}");
    let (statuses, documents) = emitted(async {
        let mut statuses = Vec::new();
        for request in [
            ApiRequest::get(&path).by(&admin),
            ApiRequest::get(&path).by(&stranger),
            ApiRequest::get(&path),
            ApiRequest::patch(&path)
                .by(&admin)
                .json(json!({"organisationName": ""})),
        ] {
            statuses.push(send(&env.app, request).await.status);
        }
        statuses
    })
    .await;
    assert_eq!(statuses[0], 200);
    assert!(
        statuses[1..].iter().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
    assert_eq!(of(&documents, "4xx").len(), 4);
    assert_eq!(total(&documents, "4xx", &[("Route", GET)]), 2);
    assert_eq!(total(&documents, "4xx", &[("Route", PATCH)]), 1);
    assert_eq!(total(&documents, "5xx", &[]), 0);
    // No slug, no subject: the route's template.
    assert!(documents.iter().all(|d| !d.to_string().contains(&slug)));
    assert!(documents
        .iter()
        .all(|d| !d.to_string().contains(&admin.sub)));
}

#[tokio::test]
async fn a_5xx_is_counted_for_its_route() {
    let faults = faults::TransactionConflicts::start(usize::MAX).await;
    let env = TestEnv::with_faults(Some(faults)).await;
    let (reply, documents) = emitted(send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&TestUser::new("unlucky"))
            .json(create_body("Never Written", "ops@example.com")),
    ))
    .await;
    assert_eq!(reply.status, 500);
    assert_eq!(total(&documents, "5xx", &[("Route", CREATE)]), 1);
    assert_eq!(total(&documents, "4xx", &[("Route", CREATE)]), 0);
    // The write loop read and decided again until it gave up: 29 retries of 30 attempts.
    let retries = of(&documents, "ConflictRetries");
    assert_eq!(retries.len(), 1);
    assert_eq!(dimension_sets(retries[0]), json!([[]]));
    assert_eq!(retries[0]["ConflictRetries"], 29);
}

#[tokio::test]
async fn conflict_retries_are_counted_once_per_write() {
    let conflicts = faults::TransactionConflicts::start(0).await;
    let env = TestEnv::with_faults(Some(conflicts.clone())).await;
    let admin = TestUser::new("conflicted");
    let slug = create_organisation(&env.app, &admin, "Metric Conflicts", "BUSINESS").await;
    conflicts.arm(2);
    let (reply, documents) = emitted(send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"organisationName": "Metric Conflicts Renamed"})),
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(conflicts.served(), 2);
    assert_eq!(of(&documents, "ConflictRetries").len(), 1);
    assert_eq!(total(&documents, "ConflictRetries", &[]), 2);
    // A write without a conflict writes no such line.
    let (_, documents) = emitted(send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"organisationName": "Metric Conflicts Again"})),
    ))
    .await;
    assert!(of(&documents, "ConflictRetries").is_empty());
}

#[tokio::test]
async fn an_idempotent_replay_is_counted_by_route() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("replayer");
    let request = ApiRequest::post("/api/v1/organisations")
        .by(&admin)
        .header("Idempotency-Key", "metrics-replay-1")
        .json(create_body("Metric Replay", "ops@example.com"));
    let (first, documents) = emitted(send(&env.app, request.clone())).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(of(&documents, "IdempotentReplays").is_empty());
    let (again, documents) = emitted(send(&env.app, request)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let replays = of(&documents, "IdempotentReplays");
    assert_eq!(replays.len(), 1);
    assert_eq!(dimension_sets(replays[0]), json!([["Route"]]));
    assert_eq!(replays[0]["Route"], CREATE);
    assert_eq!(replays[0]["IdempotentReplays"], 1);
    assert_eq!(total(&documents, "4xx", &[("Route", CREATE)]), 0);
}

#[tokio::test]
async fn mails_are_counted_as_sent_suppressed_and_failed() {
    let mut env = TestEnv::new().await;
    let address = format!("metrics-{}@mail.example", uuid::Uuid::new_v4().simple());
    // One organisation mails the address six times in the hour (its create, then PATCHes of the
    // billing address back to it, each after one to another address): five go, the sixth is
    // suppressed; the five to the other addresses go.
    let admin = TestUser::new("mailer");
    let ((), documents) = emitted(async {
        let reply = send(
            &env.app,
            ApiRequest::post("/api/v1/organisations")
                .by(&admin)
                .json(create_body("Metric Mailer", &address)),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let slug = reply.body["slug"]["slugValue"].as_str().unwrap().to_owned();
        for i in 0..5 {
            for billing in [format!("other{i}@mail.example"), address.clone()] {
                let patched = send(
                    &env.app,
                    ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
                        .by(&admin)
                        .json(json!({"billingEmail": billing})),
                )
                .await;
                assert_eq!(patched.status, 200, "{}", patched.body);
            }
        }
    })
    .await;
    let mails = of(&documents, "Mails");
    assert!(mails
        .iter()
        .all(|d| dimension_sets(d) == json!([["Outcome"]])));
    assert_eq!(total(&documents, "Mails", &[("Outcome", "sent")]), 10);
    assert_eq!(total(&documents, "Mails", &[("Outcome", "suppressed")]), 1);
    assert_eq!(total(&documents, "Mails", &[("Outcome", "failed")]), 0);
    assert_eq!(env.mails().iter().filter(|m| m.to == address).count(), 5);
    assert!(documents.iter().all(|d| !d.to_string().contains(&address)));

    // An outbox that cannot be written (its directory is a file): the mail fails, the create
    // succeeds.
    let blocked = std::env::temp_dir().join(format!("orgs-blocked-{}", env.table));
    std::fs::write(&blocked, "not a directory").unwrap();
    env.app.mailer = shared::mail::Mailer::Outbox {
        dir: blocked.join("outbox"),
    };
    let (reply, documents) = emitted(send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&TestUser::new("blocked"))
            .json(create_body("Metric Mail Failure", "ops@example.com")),
    ))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(total(&documents, "Mails", &[("Outcome", "failed")]), 1);
    assert_eq!(total(&documents, "Mails", &[("Outcome", "sent")]), 0);
    let _ = std::fs::remove_file(&blocked);
}

#[tokio::test]
async fn platform_events_are_counted_as_applied_duplicate_stale_and_refused() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("platform");
    let slug = create_organisation(&env.app, &admin, "Metric Platform", "BUSINESS").await;
    let cluster = |kind, at: &str| {
        event(
            kind,
            &slug,
            at,
            json!({"clusterId": "c-metrics", "cpuMillicores": 2000, "memoryMib": 4096}),
        )
    };
    let resized = cluster(EventKind::ClusterResized, "2026-11-28T12:05:00Z");
    let ((failed, ids), documents) = emitted(deliver_bodies(
        &env.app,
        [
            cluster(EventKind::ClusterCreated, "2026-11-28T12:00:00Z"),
            resized.clone(),
            "not an event".to_owned(),
        ],
    ))
    .await;
    assert_eq!(failed, [ids[2].clone()], "the malformed message");
    let events = of(&documents, "PlatformEvents");
    assert_eq!(events.len(), 3);
    assert!(events
        .iter()
        .all(|d| dimension_sets(d) == json!([["Outcome"]])));
    assert_eq!(
        total(&documents, "PlatformEvents", &[("Outcome", "applied")]),
        2
    );
    assert_eq!(
        total(&documents, "PlatformEvents", &[("Outcome", "refused")]),
        1
    );

    // The resize delivered again; an older resize; an organisation that does not exist.
    let ((failed, ids), documents) = emitted(deliver_bodies(
        &env.app,
        [
            resized,
            cluster(EventKind::ClusterResized, "2026-11-28T12:01:00Z"),
            event(
                EventKind::ClusterCreated,
                "nobody-here",
                "2026-11-28T12:00:00Z",
                json!({"clusterId": "c-1", "cpuMillicores": 1, "memoryMib": 1}),
            ),
        ],
    ))
    .await;
    assert_eq!(failed, [ids[2].clone()], "the unknown organisation");
    for (outcome, count) in [
        ("applied", 0),
        ("duplicate", 1),
        ("stale", 1),
        ("refused", 1),
        ("failed", 0),
    ] {
        assert_eq!(
            total(&documents, "PlatformEvents", &[("Outcome", outcome)]),
            count,
            "{outcome}"
        );
    }
}

#[tokio::test]
async fn vies_answers_are_counted_by_outcome_and_country() {
    let vies = FakeVies::start().await;
    vies.answer("DE136695976", Vies::Fault200("MS_UNAVAILABLE"));
    vies.answer("BE0403170701", Vies::Invalid);
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    let admin = TestUser::new("vat");
    let ((), documents) = emitted(async {
        for (i, vat) in ["NL004495445B01", "DE136695976", "BE0403170701"]
            .into_iter()
            .enumerate()
        {
            let mut body = create_body(&format!("Metric Vat {i}"), "ops@example.com");
            body["vatNumber"] = json!(vat);
            let reply = send(
                &env.app,
                ApiRequest::post("/api/v1/organisations")
                    .by(&admin)
                    .json(body),
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    })
    .await;
    let answers = of(&documents, "ViesAnswers");
    assert_eq!(answers.len(), 3, "{documents:?}");
    for answer in &answers {
        assert_eq!(
            dimension_sets(answer),
            json!([["Outcome", "Country"], ["Outcome"]])
        );
    }
    for (country, outcome) in [("NL", "valid"), ("DE", "unavailable"), ("BE", "invalid")] {
        assert_eq!(
            total(
                &documents,
                "ViesAnswers",
                &[("Outcome", outcome), ("Country", country)]
            ),
            1,
            "{country} {outcome}"
        );
    }
}

#[tokio::test]
async fn outbound_events_are_counted_as_published_and_failed() {
    let env = TestEnv::new().await;
    let bridge = FakeEventBridge::start().await;
    let publisher = bridge.publisher();
    let mut tap = StreamTap::new(&env).await;
    let admin = TestUser::new("publisher");
    let slug = create_organisation(&env.app, &admin, "Metric Outbound", "BUSINESS").await;
    let reply = send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"organisationType": "INDIVIDUAL"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let identity: uuid::Uuid = reply.body["identity"].as_str().unwrap().parse().unwrap();
    let batch = tap.batch().await;
    // The PATCH's OrganisationTypeChanged (its second event) fails on every put.
    bridge.fail(&event_id(identity, 2, 1).to_string(), u32::MAX);
    let (response, documents) = emitted(event_publisher::handle(&publisher, batch)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let published = bridge.accepted().iter().map(PutEntry::event_id).count() as u64;
    assert_eq!(published, 2, "created and updated");
    let outbound = of(&documents, "OutboundEvents");
    assert_eq!(outbound.len(), 2);
    assert!(outbound
        .iter()
        .all(|d| dimension_sets(d) == json!([["Outcome"]])));
    assert_eq!(
        total(&documents, "OutboundEvents", &[("Outcome", "published")]),
        published
    );
    assert_eq!(
        total(&documents, "OutboundEvents", &[("Outcome", "failed")]),
        1
    );
}

/// `!Ref name` in template.yaml (serde_yaml reads the short form as a tagged value).
fn is_ref_to(value: &serde_yaml::Value, name: &str) -> bool {
    match value {
        serde_yaml::Value::Tagged(tagged) => tagged.tag == "Ref" && tagged.value == name,
        _ => value["Ref"] == name,
    }
}

/// The template passes its namespace to every function, defaults to the one the code falls back
/// to, and its alarms read, in that namespace, metrics and dimension values the code writes.
#[test]
fn the_template_names_the_namespace_and_alarms_on_metrics_the_functions_write() {
    let text = std::fs::read_to_string(api_tests::dynamodb::repo_root().join("template.yaml"))
        .expect("template.yaml");
    let template: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    assert_eq!(
        template["Parameters"]["MetricsNamespace"]["Default"],
        DEFAULT_NAMESPACE
    );
    assert!(is_ref_to(
        &template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"],
        "MetricsNamespace"
    ));
    let written = [
        (
            "ViesAnswers",
            "Outcome",
            vec!["valid", "invalid", "unavailable"],
        ),
        ("Mails", "Outcome", vec!["sent", "failed", "suppressed"]),
    ];
    let mut read = Vec::new();
    for alarm in ["ViesUnavailableAlarm", "MailFailuresAlarm"] {
        let properties = &template["Resources"][alarm]["Properties"];
        assert!(properties.is_mapping(), "{alarm}");
        for query in properties["Metrics"].as_sequence().unwrap() {
            let metric = &query["MetricStat"]["Metric"];
            if metric.is_null() {
                continue;
            }
            assert!(
                is_ref_to(&metric["Namespace"], "MetricsNamespace"),
                "{alarm}"
            );
            let name = metric["MetricName"].as_str().unwrap();
            let dimensions = metric["Dimensions"].as_sequence().unwrap();
            assert_eq!(
                dimensions.len(),
                1,
                "{alarm}: one of the metric's dimension sets"
            );
            let (dimension, value) = (
                dimensions[0]["Name"].as_str().unwrap(),
                dimensions[0]["Value"].as_str().unwrap(),
            );
            assert!(
                written
                    .iter()
                    .any(|(n, d, values)| *n == name && *d == dimension && values.contains(&value)),
                "{alarm} reads {name} {dimension}={value}, which no function writes"
            );
            read.push((name, value));
        }
    }
    assert!(read.contains(&("ViesAnswers", "unavailable")));
    assert!(read.contains(&("Mails", "failed")));
}

/// An event whose `account` is not one of `PLATFORM_EVENT_PRODUCER_ACCOUNTS` is refused unread:
/// reported as failed (so it ends in the dead-letter queue), counted as `foreign-account`,
/// logged at WARN with no personal data, and nothing of it is applied; the producers' events
/// of the same batch are.
#[tokio::test]
async fn platform_events_from_other_accounts_are_refused() {
    let logs = api_tests::logs::captured();
    let mut env = TestEnv::new().await;
    let admin = TestUser::new("accounts");
    let slug = create_organisation(&env.app, &admin, "Foreign Account", "BUSINESS").await;
    env.app.platform_event_producer_accounts = Some(vec!["123456789012".to_owned()]);
    let attach = |id: &str| {
        event(
            EventKind::PaymentMethodAttached,
            &slug,
            "2026-11-28T12:00:00Z",
            json!({"paymentMethodId": id}),
        )
    };
    let mut foreign: Value = serde_json::from_str(&attach("pm-foreign")).unwrap();
    foreign["account"] = json!("999988887777");
    let mut unnamed: Value = serde_json::from_str(&attach("pm-unnamed")).unwrap();
    unnamed.as_object_mut().unwrap().remove("account");
    let ((failed, ids), documents) = emitted(deliver_bodies(
        &env.app,
        [
            foreign.to_string(),
            unnamed.to_string(),
            attach("pm-producer"),
        ],
    ))
    .await;
    assert_eq!(failed, [ids[0].clone(), ids[1].clone()]);
    assert_eq!(
        total(
            &documents,
            "PlatformEvents",
            &[("Outcome", "foreign-account")]
        ),
        2
    );
    assert_eq!(
        total(&documents, "PlatformEvents", &[("Outcome", "applied")]),
        1
    );
    let ledger = api_tests::platform::ledger(&env, &slug).await;
    assert_eq!(
        ledger.payment_methods.keys().collect::<Vec<_>>(),
        ["pm-producer"],
        "nothing of the refused events is applied"
    );
    let warned: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["fields"]["message_id"] == ids[0].as_str())
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["level"], "WARN");
    assert_eq!(warned[0]["fields"]["account"], "999988887777");
    let line = warned[0].to_string();
    assert!(
        !line.contains(&slug) && !line.contains("pm-foreign"),
        "{line}"
    );
}
