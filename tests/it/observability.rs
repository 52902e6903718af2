//! What an operator who is paged finds in the logs: every line of an invocation carries the
//! invocation's ids.

use api_tests::{create_organisation, send, ApiRequest, TestEnv, TestUser};
use serde_json::{json, Value};

/// The lines whose current span has `field` = `value`.
fn lines_with(lines: &[Value], field: &str, value: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|line| line["span"][field].as_str() == Some(value))
        .cloned()
        .collect()
}

/// An API request's lines carry the Lambda request id, API Gateway's request id (the answer's
/// `x-request-id`), the route, the X-Ray trace id, the cold start flag, and the slug and `sub`
/// once known; another request's lines carry its own.
#[tokio::test]
async fn every_line_of_a_request_carries_its_ids() {
    let logs = api_tests::logs::captured();
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let slug = create_organisation(&env.app, &admin, "Traced Co", "BUSINESS").await;
    let route = "POST /api/v1/organisations/{organisationSlug}/members";
    let mut request_ids = Vec::new();
    for member in ["first", "second"] {
        let added = send(
            &env.app,
            ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
                .route_key(route)
                .by(&admin)
                .json(json!({"email": format!("{member}@traced.example"), "role": "developer"})),
        )
        .await;
        assert_eq!(added.status, 200, "{:?}", added.body);
        let request_id = added.headers["x-request-id"].to_str().unwrap().to_owned();
        request_ids.push(request_id);
    }
    assert_ne!(request_ids[0], request_ids[1]);
    let lines = logs.lines();
    let mut lambda_ids = Vec::new();
    for request_id in &request_ids {
        let of_request = lines_with(&lines, "request_id", request_id);
        assert!(
            of_request
                .iter()
                .any(|line| line["fields"]["message"] == "member added"),
            "the request's INFO line is captured: {of_request:?}"
        );
        for line in &of_request {
            let span = &line["span"];
            assert_eq!(span["name"], "request", "{line}");
            assert_eq!(span["route"], route, "{line}");
            assert_eq!(span["slug"], slug.as_str(), "{line}");
            assert_eq!(span["sub"], admin.sub.as_str(), "{line}");
            assert!(span["cold_start"].is_boolean(), "{line}");
            let lambda_id = span["lambda_request_id"].as_str().unwrap();
            assert!(uuid::Uuid::parse_str(lambda_id).is_ok(), "{line}");
            assert!(
                span["trace_id"].as_str().unwrap().starts_with("Root=1-"),
                "{line}"
            );
            lambda_ids.push(lambda_id.to_owned());
        }
    }
    lambda_ids.dedup();
    assert_eq!(lambda_ids.len(), 2, "one Lambda request id per request");
}

/// A function that API Gateway does not call (here the platform-events consumer) logs inside
/// its invocation's span: Lambda request id, X-Ray trace id, cold start flag.
#[tokio::test]
async fn every_line_of_a_queue_invocation_carries_its_ids() {
    let logs = api_tests::logs::captured();
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    create_organisation(&env.app, &admin, "Acme Cloud", "BUSINESS").await;
    let mut context = lambda_runtime::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.xray_trace_id = Some("Root=1-6740a3c0-0123456789abcdef01234567;Sampled=1".to_owned());
    let batch = api_tests::platform::fixture("cluster-created");
    let delivered = shared::app::in_invocation_span(
        "platform-events",
        &context,
        api_tests::platform::deliver(&env.app, batch),
    )
    .await;
    assert!(delivered.is_empty(), "{delivered:?}");
    let of_invocation = lines_with(&logs.lines(), "lambda_request_id", &context.request_id);
    assert!(
        of_invocation
            .iter()
            .any(|line| line["fields"]["message"] == "platform event"),
        "{of_invocation:?}"
    );
    for line in &of_invocation {
        let span = &line["span"];
        assert_eq!(span["name"], "invocation", "{line}");
        assert_eq!(span["function"], "platform-events", "{line}");
        assert_eq!(
            span["trace_id"],
            "Root=1-6740a3c0-0123456789abcdef01234567;Sampled=1"
        );
        assert!(span["cold_start"].is_boolean(), "{line}");
    }
}
