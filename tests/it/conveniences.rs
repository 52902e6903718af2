//! What API clients expect: idempotent retries, conditional requests, request ids, and a
//! verification link that works in a browser.

use api_tests::{create_organisation, dispatch, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};

fn create_body(name: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": {"email": "ops@retry.example"},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    })
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_retried_create_with_the_same_key_is_replayed_not_repeated() {
    let env = TestEnv::new().await;
    let user = TestUser::new("retrier");
    let create = |body: Value, key: &str| {
        ApiRequest::post("/api/v1/organisations")
            .by(&user)
            .header("Idempotency-Key", key)
            .json(body)
    };
    let first = send(&env.app, create(create_body("Retry Co"), "key-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let again = send(&env.app, create(create_body("Retry Co"), "key-1")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body, "the first answer, not retry-co-2");
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(env.mails().len(), 1, "no second mail");

    let other = send(&env.app, create(create_body("Other Co"), "key-1")).await;
    assert_eq!(other.status, 422);
    assert!(
        other.message().contains("other parameters"),
        "{}",
        other.body
    );
    assert!(other.body["requestId"].is_string());

    for bad in ["", &"k".repeat(256), "tab\there"] {
        let reply = send(&env.app, create(create_body("Bad Key"), bad)).await;
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.body);
        assert!(reply.details()[0].starts_with("Idempotency-Key: "));
    }
    // Another caller's key is another key.
    let stranger = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&TestUser::new("stranger"))
            .header("Idempotency-Key", "key-1")
            .json(create_body("Retry Co")),
    )
    .await;
    assert_eq!(stranger.status, 200);
    assert_ne!(stranger.body["identity"], first.body["identity"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_change_once() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let slug = create_organisation(&env.app, &admin, "Race Keys", "BUSINESS").await;
    let add = ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
        .by(&admin)
        .header("Idempotency-Key", "add-bob")
        .json(json!({"email": "bob@race.example", "role": "viewer"}));
    let replies: Vec<Reply> =
        futures_util::future::join_all((0..5).map(|_| send(&env.app, add.clone()))).await;
    for reply in &replies {
        assert!(
            reply.status == 200 || reply.status == 409,
            "{} {}",
            reply.status,
            reply.body
        );
    }
    assert!(replies
        .iter()
        .any(|r| r.status == 200 && header(r, "idempotent-replayed").is_none()));
    let members = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/members")).by(&admin),
    )
    .await;
    assert_eq!(
        members.body["totalElements"], 2,
        "one change: admin and bob"
    );
}

#[tokio::test]
async fn get_answers_an_etag_and_patch_and_delete_honour_if_match() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("etag");
    let slug = create_organisation(&env.app, &admin, "Tagged Co", "BUSINESS").await;
    let path = format!("/api/v1/organisations/{slug}");
    let got = send(&env.app, ApiRequest::get(&path).by(&admin)).await;
    let tag = header(&got, "etag").unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");

    let cached = send(
        &env.app,
        ApiRequest::get(&path)
            .by(&admin)
            .header("If-None-Match", &tag),
    )
    .await;
    assert_eq!(cached.status, 304);
    assert_eq!(cached.body, Value::Null);

    let stale = send(
        &env.app,
        ApiRequest::patch(&path)
            .by(&admin)
            .header("If-Match", "\"stale.1\"")
            .json(json!({"organisationName": "Never Applied"})),
    )
    .await;
    assert_eq!(stale.status, 412);
    assert!(stale.body["message"].is_string() && stale.body["details"].is_array());
    let patched = send(
        &env.app,
        ApiRequest::patch(&path)
            .by(&admin)
            .header("If-Match", &tag)
            .json(json!({"organisationName": "Tagged Two"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let new_tag = header(&patched, "etag").unwrap().to_owned();
    assert_ne!(new_tag, tag, "a change changes the tag");
    let old_tag_get = send(
        &env.app,
        ApiRequest::get(&path)
            .by(&admin)
            .header("If-None-Match", &tag),
    )
    .await;
    assert_eq!(old_tag_get.status, 200);
    assert_eq!(old_tag_get.body["name"], "Tagged Two");

    let identity = got.body["identity"].as_str().unwrap();
    let delete = |tag: &str| {
        ApiRequest::delete(&format!("/api/v1/organisations/{identity}"))
            .by(&admin)
            .header("If-Match", tag)
    };
    assert_eq!(
        send(&env.app, delete(&tag)).await.status,
        412,
        "the old tag"
    );
    assert_eq!(send(&env.app, delete("*")).await.status, 204);
}

#[tokio::test]
async fn every_answer_carries_the_request_id() {
    let env = TestEnv::new().await;
    let user = TestUser::new("traced");
    let mut event = ApiRequest::get("/api/v1/organisations/no-such-org")
        .by(&user)
        .event();
    event["requestContext"]["requestId"] = json!("req-4711");
    let reply = dispatch(
        &env.app,
        lambda_http::request::from_str(&event.to_string()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(header(&reply, "x-request-id"), Some("req-4711"));
    assert_eq!(reply.body["requestId"], "req-4711");
    let slug = create_organisation(&env.app, &user, "Traced Co", "BUSINESS").await;
    let ok = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&user),
    )
    .await;
    assert!(header(&ok, "x-request-id").is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn the_verification_link_speaks_html_to_browsers_and_stays_valid_when_reopened() {
    let env = TestEnv::new().await;
    let user = TestUser::new("browser");
    let slug = create_organisation(&env.app, &user, "Browser Co", "BUSINESS").await;
    let code = env.mails()[0].code();
    let path = format!("/api/v1/validations/verify-email/{code}");
    let open = |accept: &str| ApiRequest::get(&path).header("accept", accept);
    let confirm = |accept: &str| ApiRequest::post(&path).header("accept", accept);
    let verified_at = || async {
        let status = send(
            &env.app,
            ApiRequest::get(&format!("/api/v1/organisations/{slug}/validation-status")).by(&user),
        )
        .await;
        assert_eq!(status.status, 200, "{}", status.body);
        status.body["contactEmailVerifiedAt"].clone()
    };
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    // Mail scanners open links: a browser's GET shows a button and verifies nothing.
    for _ in 0..3 {
        let page = send(&env.app, open(browser)).await;
        assert_eq!(page.status, 200);
        assert_eq!(
            header(&page, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(&page, "cache-control"), Some("no-store"));
        assert_eq!(
            header(&page, "content-security-policy"),
            Some("default-src 'none'; form-action 'self'")
        );
        let html = page.body.as_str().unwrap();
        assert!(
            html.contains("<form method=\"post\">")
                && !html.contains("action=")
                && html.contains("<button type=\"submit\">")
                && !html.contains("<script"),
            "{html}"
        );
        assert!(verified_at().await.is_null(), "a GET verified the address");
    }

    // The button's POST verifies and answers the success page.
    let page = send(&env.app, confirm(browser)).await;
    assert_eq!(page.status, 200);
    assert_eq!(header(&page, "cache-control"), Some("no-store"));
    assert_eq!(
        header(&page, "content-security-policy"),
        Some("default-src 'none'; form-action 'self'")
    );
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("Address verified") && !html.contains("<script"),
        "{html}"
    );
    assert!(verified_at().await.is_string());

    // Posted again (a double click): the person still sees success.
    let again = send(&env.app, confirm(browser)).await;
    assert_eq!(again.status, 200);
    assert!(again.body.as_str().unwrap().contains("Already verified"));
    // A POST asking for JSON, and a GET asking for JSON (as the seed answered it).
    let json_again = send(&env.app, confirm("application/json")).await;
    assert_eq!(json_again.status, 200);
    assert_eq!(
        json_again.body["emailAddress"], "ops@example.com",
        "{}",
        json_again.body
    );
    assert_eq!(header(&json_again, "cache-control"), Some("no-store"));
    let json_get = send(&env.app, open("*/*")).await;
    assert_eq!(json_get.status, 200);
    assert!(json_get.body["emailAddress"].is_string());
    assert_eq!(header(&json_get, "cache-control"), Some("no-store"));

    // An unknown code: the browser's GET reads nothing (its page only offers the button); the
    // POST says the link is not valid. A malformed one is refused at once.
    let unknown_path = format!("/api/v1/validations/verify-email/{}", "U".repeat(43));
    env.round_trips.reset();
    let offered = send(
        &env.app,
        ApiRequest::get(&unknown_path).header("accept", browser),
    )
    .await;
    assert_eq!(offered.status, 200);
    assert_eq!(env.round_trips.get(), 0, "a browser's GET reads nothing");
    let unknown = send(
        &env.app,
        ApiRequest::post(&unknown_path).header("accept", browser),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.as_str().unwrap().contains("Link not valid"));
    assert_eq!(header(&unknown, "cache-control"), Some("no-store"));
    let malformed = send(
        &env.app,
        ApiRequest::get("/api/v1/validations/verify-email/not-a-code").header("accept", browser),
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.body.as_str().unwrap().contains("Link not valid"));
    let unknown_json = send(
        &env.app,
        ApiRequest::get(&format!(
            "/api/v1/validations/verify-email/{}",
            "U".repeat(43)
        )),
    )
    .await;
    assert_eq!(unknown_json.status, 404);
    assert!(unknown_json.body["message"].is_string());
    assert_eq!(header(&unknown_json, "cache-control"), Some("no-store"));
}

/// A GET asking for JSON keeps verifying, as the seed's link did (API clients, curl).
#[tokio::test]
async fn a_json_get_of_the_link_still_verifies() {
    let env = TestEnv::new().await;
    let user = TestUser::new("api-client");
    let slug = create_organisation(&env.app, &user, "Json Link Co", "BUSINESS").await;
    let code = env.mails()[0].code();
    let reply = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/validations/verify-email/{code}"))
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let status = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/validation-status")).by(&user),
    )
    .await;
    assert!(
        status.body["contactEmailVerifiedAt"].is_string(),
        "{}",
        status.body
    );
}

/// `Idempotency-Key` handling never parses (or looks up) a body larger than the body limit:
/// the 64 KiB check comes first, so a request with a key and a huge body costs no parse and no
/// DynamoDB round trip before its 400.
#[tokio::test]
async fn an_idempotency_key_never_parses_a_body_over_the_limit() {
    let env = TestEnv::new().await;
    let user = TestUser::new("huge");
    let mut body = create_body("Huge Co");
    body["padding"] = json!("x".repeat(shared::http::MAX_BODY_BYTES));
    env.round_trips.reset();
    let reply = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&user)
            .header("Idempotency-Key", "huge-1")
            .json(body),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.message().contains("larger than"), "{}", reply.body);
    assert_eq!(
        env.round_trips.get(),
        0,
        "nothing read for an oversized body"
    );
}
