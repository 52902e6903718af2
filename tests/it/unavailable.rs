//! Dependency failures are 503, not 500: DynamoDB throttling (`ThrottlingException`,
//! `ProvisionedThroughputExceededException`, `RequestLimitExceeded`, injected at the network
//! boundary as DynamoDB answers them) and a DynamoDB that cannot be reached answer 503 with
//! `Retry-After` and the usual error body, as does one that accepts the connection and never
//! answers (the SDK's attempt and operation timeouts, `shared::aws`); and the write is all or
//! nothing.

use api_tests::faults::{
    FailAfter, PROVISIONED_THROUGHPUT_EXCEEDED, REQUEST_LIMIT_EXCEEDED, THROTTLING,
};
use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::json;
use shared::storage::Store;

fn create_body(name: &str) -> serde_json::Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": "ops@acme.example",
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]
    })
}

/// A 503 as the contract has every error: `Retry-After`, `{message, details, requestId}`.
fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.body);
    let retry_after = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s >= 1), "{what}: Retry-After");
    assert!(!reply.message().is_empty(), "{what}");
    assert!(reply.body["details"].is_array(), "{what}");
    assert!(reply.body["requestId"].is_string(), "{what}");
    assert!(
        !reply.body.to_string().contains("Exception"),
        "{what}: SDK text leaked"
    );
}

/// Every item of the table, as text (sorted): what a failed request must not have changed.
async fn table_contents(env: &TestEnv) -> Vec<String> {
    let mut items: Vec<String> = env
        .store()
        .client()
        .scan()
        .table_name(&env.table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|item| {
            // As JSON, whose maps are ordered: a HashMap's Debug order varies between reads.
            let item: serde_json::Value =
                serde_dynamo::from_item(item.expect("scan")).expect("an item as JSON");
            item.to_string()
        })
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn throttled_writes_answer_503_and_write_nothing() {
    let mut env = TestEnv::new().await;
    let admin = TestUser::new("throttled");
    let slug = create_organisation(&env.app, &admin, "Throttle Base", "BUSINESS").await;
    let healthy = env.app.store.clone();

    for (name, body) in [
        ("ThrottlingException", THROTTLING),
        (
            "ProvisionedThroughputExceededException",
            PROVISIONED_THROUGHPUT_EXCEEDED,
        ),
        ("RequestLimitExceeded", REQUEST_LIMIT_EXCEEDED),
    ] {
        // The reads pass; the transaction of the change is throttled (each SDK retry too).
        let fault = FailAfter::answering("TransactWriteItems", 0, 400, body).await;
        env.app.store = Store::new(fault.client(healthy.client()), healthy.table());
        let before = table_contents(&env).await;

        let key = format!("throttled-{name}");
        let create = || {
            ApiRequest::post("/api/v1/organisations")
                .by(&admin)
                .header("idempotency-key", &key)
                .json(create_body(&format!("Throttled {}", name.len())))
        };
        let reply = send(&env.app, create()).await;
        assert_unavailable(&reply, name);
        assert!(fault.failed() >= 1, "{name}: the fault was not reached");

        let patch = ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"organisationName": format!("Renamed {}", name.len())}));
        assert_unavailable(&send(&env.app, patch).await, name);

        assert_eq!(
            table_contents(&env).await,
            before,
            "{name}: a refused write left items behind"
        );

        // DynamoDB takes requests again: the same create (same key) is done, once.
        fault.disarm();
        let retried = send(&env.app, create()).await;
        assert_eq!(retried.status, 200, "{name}: {}", retried.body);
        assert!(retried.headers.get("idempotent-replayed").is_none());
        env.app.store = healthy.clone();
    }
}

#[tokio::test]
async fn an_unreachable_dynamodb_answers_503() {
    let mut env = TestEnv::new().await;
    let admin = TestUser::new("unreachable");
    let slug = create_organisation(&env.app, &admin, "Unreachable Base", "BUSINESS").await;

    // A port nothing listens on: DynamoDB Local stopped.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("address").port()
    };
    let stopped = api_tests::client(&format!("http://127.0.0.1:{port}"), None, None);
    env.app.store = Store::new(stopped, &env.table);

    let get = ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin);
    assert_unavailable(&send(&env.app, get).await, "GET");
    let create = ApiRequest::post("/api/v1/organisations")
        .by(&admin)
        .json(create_body("Never Written"));
    assert_unavailable(&send(&env.app, create).await, "POST");
}

#[tokio::test]
async fn a_dynamodb_that_never_answers_is_503_before_the_function_times_out() {
    let mut env = TestEnv::new().await;
    let admin = TestUser::new("silent");
    let slug = create_organisation(&env.app, &admin, "Silent Base", "BUSINESS").await;

    // Connections are accepted and held, and nothing is ever answered: a call hanging after it
    // connected, which the connect timeout alone never ends.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    // The functions' own SDK configuration (its timeouts), pointed at the silent server.
    let sdk = shared::aws::sdk_config().expect("the SDK configuration");
    let silent = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    env.app.store = Store::new(aws_sdk_dynamodb::Client::from_conf(silent), &env.table);

    let started = std::time::Instant::now();
    let get = ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin);
    // Without the SDK's operation timeouts the call would wait for ever: bounded here to fail.
    let reply = tokio::time::timeout(std::time::Duration::from_secs(30), send(&env.app, get))
        .await
        .expect("an answer, not a call hanging until the function times out");
    assert_unavailable(&reply, "GET");
    let took = started.elapsed();
    // The answer comes from the operation timeout, inside the API functions' 10 s.
    assert!(took >= shared::aws::ATTEMPT_TIMEOUT, "{took:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}
