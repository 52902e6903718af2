//! The organisations lifecycle through the `organisations` function's handler, with real API
//! Gateway v2 events and DynamoDB Local.

use api_tests::events::Reply;
use api_tests::faults::TransactionConflicts;
use api_tests::{ApiRequest, TestEnv, TestUser};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::domain::ledger::ResourceLedger;
use shared::domain::member::{KubernetesRole, Member, Role};
use shared::domain::{Email, Slug, Subject};
use shared::storage::keys::Key;

const MEMBER_PREFIX: &str = "MEMBER#";
const ACTIVITY_PREFIX: &str = "ACTIVITY#";

async fn call(env: &TestEnv, request: ApiRequest) -> Reply {
    Reply::from_response(organisations::handle(&env.app, request.build()).await)
}

fn create_body(name: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": {"email": "ops@example.com"},
        "companyName": "Acme B.V.",
        "companyAddress": "Keizersgracht 1, Amsterdam",
        "vatNumber": "NL004495445B01",
        "acceptedAgreements": [
            {"agreementSlug": "terms-of-service"},
            {"agreementSlug": "privacy-policy"}
        ]
    })
}

async fn create(env: &TestEnv, user: &TestUser, name: &str) -> Value {
    let reply = call(
        env,
        ApiRequest::post("/api/v1/organisations")
            .by(user)
            .json(create_body(name)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn slug_of(org: &Value) -> String {
    org["slug"]["slugValue"]
        .as_str()
        .expect("slug.slugValue")
        .to_owned()
}

/// Partition items whose sort key starts with `prefix`.
async fn items(env: &TestEnv, slug: &str, prefix: &str) -> Vec<shared::storage::Item> {
    env.partition(slug, prefix).await
}

/// Adds `user` to the organisation with `role`, straight into the table (the members endpoint
/// has its own tests).
async fn add_member(env: &TestEnv, slug: &str, user: &TestUser, role: Role) {
    let member = Member {
        identity: uuid::Uuid::new_v4(),
        email: Some(Email::parse("email", user.email()).unwrap()),
        username: Some(user.username.clone()),
        role,
        kubernetes_role: KubernetesRole::View,
        subject: Subject::parse(&user.sub),
        joined_at: chrono::Utc::now(),
        invitation: None,
    };
    env.seed_member(slug, &member).await;
}

#[tokio::test]
async fn create_returns_every_field_and_makes_the_caller_admin() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("alice");
    let org = create(&env, &alice, "Acme Cloud").await;

    assert_eq!(slug_of(&org), "acme-cloud");
    assert_eq!(org["name"], "Acme Cloud");
    assert_eq!(org["type"], "BUSINESS");
    assert_eq!(org["contactEmail"], "ops@example.com");
    assert_eq!(org["billingEmail"], Value::Null);
    assert_eq!(org["companyName"], "Acme B.V.");
    assert_eq!(org["companyAddress"], "Keizersgracht 1, Amsterdam");
    assert_eq!(org["vatCode"], "NL004495445B01");
    assert_eq!(org["vatCodeValidated"], false);
    assert_eq!(org["vatCodeValidatedAt"], Value::Null);
    assert_eq!(org["phoneNumber"], Value::Null);
    assert_eq!(org["acceptedTerms"], true);
    assert_eq!(org["restrictedToAvailableCloudProviders"], false);
    assert_eq!(org["id"], org["identity"]);
    uuid::Uuid::parse_str(org["identity"].as_str().unwrap()).unwrap();
    for at in ["acceptedTermsAt", "createdAt"] {
        chrono::DateTime::parse_from_rfc3339(org[at].as_str().unwrap()).unwrap();
    }
    let fields: Vec<&String> = org.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 17, "the spec's 17 fields: {fields:?}");

    // The creator is the first admin, bound to their token subject.
    let members = items(&env, "acme-cloud", MEMBER_PREFIX).await;
    assert_eq!(members.len(), 1);
    let member: Member = shared::storage::entities::from_item(members[0].clone()).unwrap();
    assert_eq!(member.role, Role::Admin);
    assert_eq!(member.subject.unwrap().as_str(), alice.sub);
    assert_eq!(member.email.unwrap().as_str(), alice.email());

    // Its activity event was written with it.
    let events = items(&env, "acme-cloud", ACTIVITY_PREFIX).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["sk"],
        AttributeValue::S("ACTIVITY#000000000001".into())
    );
    assert_eq!(
        events[0]["type"],
        AttributeValue::S("ORGANISATION_CREATED".into())
    );

    let got = call(
        &env,
        ApiRequest::get("/api/v1/organisations/acme-cloud").by(&alice),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, org);
}

#[tokio::test]
async fn trial_organisations_are_restricted_to_available_cloud_providers() {
    let env = TestEnv::new().await;
    let mut body = create_body("Tiny Trial");
    body["organisationType"] = json!("TRIAL");
    body["contactEmail"] = json!("bare@example.com");
    let reply = call(
        &env,
        ApiRequest::post("/api/v1/organisations")
            .by(&TestUser::new("t"))
            .json(body),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["restrictedToAvailableCloudProviders"], true);
    assert_eq!(
        reply.body["contactEmail"], "bare@example.com",
        "a bare string e-mail is accepted"
    );
}

#[tokio::test]
async fn registration_creates_once_per_user() {
    let env = TestEnv::new().await;
    let bob = TestUser::new("bob");
    let first = call(
        &env,
        ApiRequest::post("/api/v1/registration")
            .by(&bob)
            .json(create_body("Bob Works")),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(slug_of(&first.body), "bob-works");

    let second = call(
        &env,
        ApiRequest::post("/api/v1/registration")
            .by(&bob)
            .json(create_body("Bob Again")),
    )
    .await;
    assert_eq!(second.status, 400);
    assert!(
        second.message().contains("already registered"),
        "{}",
        second.body
    );
    // Nothing of the refused registration was written.
    assert!(items(&env, "bob-again", "").await.is_empty());

    // Further organisations go through POST /organisations.
    create(&env, &bob, "Bob Again").await;
    // Another user may register.
    let carol = TestUser::new("carol");
    let reply = call(
        &env,
        ApiRequest::post("/api/v1/registration")
            .by(&carol)
            .json(create_body("Carol Co")),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn create_validation_errors_name_each_field() {
    let env = TestEnv::new().await;
    let user = TestUser::new("val");
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "organisationName: is required"),
        (
            json!({"organisationType": null}),
            "organisationType: is required",
        ),
        (json!({}), "contactEmail: is required"),
        (json!({}), "acceptedAgreements: is required"),
        (
            json!({"organisationName": "ab"}),
            "organisationName: must be 3 to 30 characters long",
        ),
        (
            json!({"organisationName": "x".repeat(31)}),
            "organisationName: must be 3 to 30 characters long",
        ),
        (
            json!({"organisationName": "Acme!"}),
            "organisationName: may contain only letters",
        ),
        (
            json!({"organisationName": 42}),
            "organisationName: must be a string",
        ),
        (
            json!({"organisationType": "HUGE"}),
            "organisationType: must be one of BUSINESS, ENTERPRISE, INDIVIDUAL, TRIAL",
        ),
        (
            json!({"contactEmail": {"email": "not-an-address"}}),
            "contactEmail: is not a valid e-mail address",
        ),
        (
            json!({"contactEmail": 7}),
            "contactEmail: must be an e-mail address or an object",
        ),
        (
            json!({"companyName": "c".repeat(256)}),
            "companyName: must be at most 255 characters",
        ),
        (
            json!({"companyAddress": "a".repeat(256)}),
            "companyAddress: must be at most 255 characters",
        ),
        (
            json!({"vatNumber": "v".repeat(256)}),
            "vatNumber: must be at most 255 characters",
        ),
        (
            json!({"acceptedAgreements": [{"agreementSlug": "terms-of-service"}]}),
            "acceptedAgreements: must accept privacy-policy",
        ),
        (
            json!({"acceptedAgreements": "yes"}),
            "acceptedAgreements: must be an array",
        ),
        (
            json!({"acceptedAgreements": [{"agreementSlug": 1}]}),
            "acceptedAgreements[0].agreementSlug: must be a non-empty string",
        ),
        (
            json!({"vatCodeValidated": true}),
            "vatCodeValidated: is read-only",
        ),
        (json!({"slug": {"slugValue": "mine"}}), "slug: is read-only"),
        (
            json!({"favouriteColour": "blue"}),
            "favouriteColour: is not a field of this request",
        ),
    ];
    for (overrides, expected) in cases {
        let mut body = create_body("Valid Name");
        let is_required_case = expected.ends_with("is required");
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        if is_required_case {
            let field = expected.split(':').next().unwrap();
            body.as_object_mut().unwrap().remove(field);
        }
        let reply = call(
            &env,
            ApiRequest::post("/api/v1/organisations")
                .by(&user)
                .json(body.clone()),
        )
        .await;
        assert_eq!(reply.status, 400, "{body} -> {}", reply.body);
        assert!(
            reply.details().iter().any(|d| d.starts_with(expected)),
            "expected a detail starting {expected:?}, got {:?}",
            reply.details()
        );
    }
    // No organisation was created by any of them.
    let scan = env
        .store()
        .client()
        .scan()
        .table_name(&env.table)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count(), 0);
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_message() {
    let env = TestEnv::new().await;
    let user = TestUser::new("body");
    let cases = [
        ("", "A JSON request body is required."),
        ("{not json", "The request body is not valid JSON."),
        ("[1,2]", "The request body must be a JSON object."),
        ("\"text\"", "The request body must be a JSON object."),
    ];
    for (body, message) in cases {
        let reply = call(
            &env,
            ApiRequest::post("/api/v1/organisations")
                .by(&user)
                .raw_body(body),
        )
        .await;
        assert_eq!(reply.status, 400, "{body:?}");
        assert_eq!(reply.message(), message);
        assert!(reply.body["details"].is_array());
        assert_eq!(reply.headers["content-type"], "application/json");
    }
    let huge = json!({"organisationName": "x".repeat(70 * 1024)}).to_string();
    let reply = call(
        &env,
        ApiRequest::post("/api/v1/organisations")
            .by(&user)
            .raw_body(&huge),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.message().contains("larger than 65536 bytes"));
}

#[tokio::test]
async fn authentication_failures_are_401() {
    let env = TestEnv::new().await;
    let user = TestUser::new("auth");
    let org = create(&env, &user, "Auth Test").await;
    let path = format!("/api/v1/organisations/{}", slug_of(&org));

    // No authorizer claims and no token.
    let reply = call(&env, ApiRequest::get(&path)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");

    // The local bearer path (what `cargo lambda watch` delivers): valid, expired, forged, alg none.
    let valid = call(&env, ApiRequest::get(&path).bearer(&user.token(300))).await;
    assert_eq!(valid.status, 200, "{}", valid.body);
    let expired = call(&env, ApiRequest::get(&path).bearer(&user.token(-120))).await;
    assert_eq!(expired.status, 401);
    let mut forged = user.token(300);
    forged.push('x');
    assert_eq!(
        call(&env, ApiRequest::get(&path).bearer(&forged))
            .await
            .status,
        401
    );
    let unsigned = {
        use base64_helpers::b64;
        let header = b64(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64(&format!(
            r#"{{"sub":"{}","exp":{}}}"#,
            user.sub,
            chrono::Utc::now().timestamp() + 300
        ));
        format!("{header}.{claims}.")
    };
    assert_eq!(
        call(&env, ApiRequest::get(&path).bearer(&unsigned))
            .await
            .status,
        401
    );
    assert_eq!(
        call(
            &env,
            ApiRequest::get(&path).header("authorization", "Basic abc")
        )
        .await
        .status,
        401
    );

    // Without a configured local verifier, a token is not even looked at.
    let no_verifier = shared::App::new(env.app.store.clone(), None);
    let response = organisations::handle(
        &no_verifier,
        ApiRequest::get(&path).bearer(&user.token(300)).build(),
    )
    .await;
    assert_eq!(response.status(), 401);
}

mod base64_helpers {
    /// URL-safe base64 without padding (JWT segments).
    pub fn b64(text: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[tokio::test]
async fn members_read_admins_write_others_are_refused() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("admin");
    let org = create(&env, &admin, "Roles Inc").await;
    let slug = slug_of(&org);
    let path = format!("/api/v1/organisations/{slug}");
    let delete_path = format!(
        "/api/v1/organisations/{}",
        org["identity"].as_str().unwrap()
    );

    let outsider = TestUser::new("outsider");
    for request in [
        ApiRequest::get(&path),
        ApiRequest::patch(&path).json(json!({"organisationName": "Taken Over"})),
        ApiRequest::delete(&delete_path),
    ] {
        let reply = call(&env, request.by(&outsider)).await;
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(reply.message().contains("not a member"));
    }

    for role in [Role::Developer, Role::BillingAdmin, Role::Viewer] {
        let user = TestUser::new(role.as_str());
        add_member(&env, &slug, &user, role).await;
        assert_eq!(
            call(&env, ApiRequest::get(&path).by(&user)).await.status,
            200
        );
        let patch = call(
            &env,
            ApiRequest::patch(&path)
                .by(&user)
                .json(json!({"organisationName": "Mine Now"})),
        )
        .await;
        assert_eq!(patch.status, 403, "{role:?}");
        assert!(patch.message().contains("Only admins"));
        assert_eq!(
            call(&env, ApiRequest::delete(&delete_path).by(&user))
                .await
                .status,
            403
        );
    }
    // Nothing changed.
    let got = call(&env, ApiRequest::get(&path).by(&admin)).await;
    assert_eq!(got.body["name"], "Roles Inc");
}

#[tokio::test]
async fn unknown_is_404_and_malformed_is_400() {
    let env = TestEnv::new().await;
    let user = TestUser::new("nf");
    let missing = call(
        &env,
        ApiRequest::get("/api/v1/organisations/no-such-org").by(&user),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert!(missing.message().contains("no-such-org"));
    let patch = call(
        &env,
        ApiRequest::patch("/api/v1/organisations/no-such-org")
            .by(&user)
            .json(json!({"organisationName": "Whatever"})),
    )
    .await;
    assert_eq!(patch.status, 404);
    let delete = call(
        &env,
        ApiRequest::delete(&format!("/api/v1/organisations/{}", uuid::Uuid::new_v4())).by(&user),
    )
    .await;
    assert_eq!(delete.status, 404);

    let bad_slug = call(
        &env,
        ApiRequest::get("/api/v1/organisations/Not_A_Slug").by(&user),
    )
    .await;
    assert_eq!(bad_slug.status, 400);
    assert!(bad_slug.details()[0].starts_with("organisationSlug:"));
    let bad_identity = call(
        &env,
        ApiRequest::delete("/api/v1/organisations/not-a-uuid").by(&user),
    )
    .await;
    assert_eq!(bad_identity.status, 400);
    assert_eq!(
        bad_identity.details(),
        ["organisationIdentity: must be a UUID"]
    );
    let no_route = call(&env, ApiRequest::get("/api/v1/nothing-here").by(&user)).await;
    assert_eq!(no_route.status, 404);
}

#[tokio::test]
async fn patch_changes_listed_fields_and_refuses_the_rest() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("patcher");
    let org = create(&env, &admin, "Patch Me").await;
    let path = format!("/api/v1/organisations/{}", slug_of(&org));

    let reply = call(
        &env,
        ApiRequest::patch(&path).by(&admin).json(json!({
            "organisationName": "Patched & Co",
            "organisationType": "INDIVIDUAL",
            "contactEmail": "new-contact@example.com",
            "billingEmail": {"email": "billing@example.com"},
            "vatNumber": "DE136695976"
        })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["name"], "Patched & Co");
    assert_eq!(reply.body["type"], "INDIVIDUAL");
    assert_eq!(reply.body["contactEmail"], "new-contact@example.com");
    assert_eq!(reply.body["billingEmail"], "billing@example.com");
    assert_eq!(reply.body["vatCode"], "DE136695976");
    assert_eq!(
        reply.body["slug"]["slugValue"], "patch-me",
        "slugs are immutable"
    );

    let cleared = call(
        &env,
        ApiRequest::patch(&path)
            .by(&admin)
            .json(json!({"billingEmail": null})),
    )
    .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.body["billingEmail"], Value::Null);

    for (body, detail) in [
        (
            json!({"vatCodeValidated": true}),
            "vatCodeValidated: is read-only",
        ),
        (
            json!({"acceptedTerms": false}),
            "acceptedTerms: is read-only",
        ),
        (json!({"slug": "other"}), "slug: is read-only"),
        (json!({"identity": "x"}), "identity: is read-only"),
        (
            json!({"colour": "red"}),
            "colour: is not a field of this request",
        ),
        (
            json!({"contactEmail": null}),
            "contactEmail: must not be null",
        ),
        (
            json!({"organisationName": null}),
            "organisationName: must not be null",
        ),
        (
            json!({"organisationName": "!!"}),
            "organisationName: must be 3 to 30",
        ),
        (
            json!({"organisationType": "GIANT"}),
            "organisationType: must be one of",
        ),
        (
            json!({"billingEmail": "nope"}),
            "billingEmail: is not a valid e-mail address",
        ),
        (json!({"vatNumber": 12}), "vatNumber: must be a string"),
    ] {
        let reply = call(&env, ApiRequest::patch(&path).by(&admin).json(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.details().iter().any(|d| d.starts_with(detail)),
            "{body}: {:?}",
            reply.details()
        );
    }
    // Refused fields were never applied; two changes made two events (plus creation).
    let got = call(&env, ApiRequest::get(&path).by(&admin)).await;
    assert_eq!(got.body["vatCodeValidated"], false);
    assert_eq!(got.body["acceptedTerms"], true);
    let events = items(&env, "patch-me", ACTIVITY_PREFIX).await;
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[1]["type"],
        AttributeValue::S("ORGANISATION_UPDATED".into())
    );
    let AttributeValue::S(message) = &events[1]["message"] else {
        panic!("message")
    };
    assert!(
        message.contains("organisationName") && message.contains("vatNumber"),
        "{message}"
    );

    // A PATCH that changes nothing writes nothing.
    let same = call(
        &env,
        ApiRequest::patch(&path)
            .by(&admin)
            .json(json!({"organisationType": "INDIVIDUAL"})),
    )
    .await;
    assert_eq!(same.status, 200);
    assert_eq!(items(&env, "patch-me", ACTIVITY_PREFIX).await.len(), 3);
}

#[tokio::test]
async fn concurrent_creates_of_one_name_get_distinct_slugs() {
    let env = TestEnv::new().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app = env.app.clone();
        let user = TestUser::new(&format!("racer{i}"));
        tasks.push(tokio::spawn(async move {
            let request = ApiRequest::post("/api/v1/organisations")
                .by(&user)
                .json(create_body("Same Name"));
            Reply::from_response(organisations::handle(&app, request.build()).await)
        }));
    }
    let mut slugs = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        slugs.push(slug_of(&reply.body));
    }
    slugs.sort();
    let count = slugs.len();
    slugs.dedup();
    assert_eq!(slugs.len(), count, "slugs are unique: {slugs:?}");
    assert!(slugs.contains(&"same-name".to_owned()));
    assert!(slugs.contains(&"same-name-2".to_owned()));
}

#[tokio::test]
async fn concurrent_patches_lose_no_update() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("concurrent");
    let org = create(&env, &admin, "Busy Org").await;
    let path = format!("/api/v1/organisations/{}", slug_of(&org));
    let bodies = [
        json!({"organisationName": "Busy Org Renamed"}),
        json!({"organisationType": "INDIVIDUAL"}),
        json!({"contactEmail": "c@example.com"}),
        json!({"billingEmail": "b@example.com"}),
        json!({"vatNumber": "BE0403170701"}),
    ];
    let mut tasks = Vec::new();
    for body in bodies {
        let app = env.app.clone();
        let request = ApiRequest::patch(&path).by(&admin).json(body);
        tasks.push(tokio::spawn(async move {
            Reply::from_response(organisations::handle(&app, request.build()).await)
        }));
    }
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let got = call(&env, ApiRequest::get(&path).by(&admin)).await.body;
    assert_eq!(got["name"], "Busy Org Renamed");
    assert_eq!(got["type"], "INDIVIDUAL");
    assert_eq!(got["contactEmail"], "c@example.com");
    assert_eq!(got["billingEmail"], "b@example.com");
    assert_eq!(got["vatCode"], "BE0403170701");
    // One gap-free event per change.
    let events = items(&env, "busy-org", ACTIVITY_PREFIX).await;
    let sks: Vec<String> = events
        .iter()
        .map(|e| e["sk"].as_s().unwrap().clone())
        .collect();
    let busy = Slug::parse("busy-org").unwrap();
    let expected: Vec<String> = (1..=6).map(|seq| Key::activity(&busy, seq).sk).collect();
    assert_eq!(sks, expected);
}

#[tokio::test]
async fn transaction_conflicts_from_dynamodb_are_retried() {
    let faults = TransactionConflicts::start(3).await;
    let env = TestEnv::with_faults(Some(faults.clone())).await;
    let admin = TestUser::new("conflicted");
    // Creation's transaction meets three conflicts first, then commits.
    let org = create(&env, &admin, "Conflicted").await;
    assert_eq!(faults.served(), 3);
    let got = call(
        &env,
        ApiRequest::get(&format!("/api/v1/organisations/{}", slug_of(&org))).by(&admin),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        slug_of(&got.body),
        "conflicted",
        "a conflict is not a slug collision"
    );
}

#[tokio::test]
async fn persistent_transaction_conflicts_end_in_a_500_not_a_hang() {
    let faults = TransactionConflicts::start(usize::MAX).await;
    let env = TestEnv::with_faults(Some(faults.clone())).await;
    let reply = call(
        &env,
        ApiRequest::post("/api/v1/organisations")
            .by(&TestUser::new("x"))
            .json(create_body("Never")),
    )
    .await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.message(), "An internal error occurred on the server.");
    assert_eq!(
        faults.served(),
        shared::storage::retry::MAX_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn delete_is_guarded_by_the_ledger_and_removes_everything() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("deleter");
    let org = create(&env, &admin, "Short Lived").await;
    let slug = slug_of(&org);
    let identity = org["identity"].as_str().unwrap().to_owned();
    add_member(&env, &slug, &TestUser::new("dev"), Role::Developer).await;
    let delete_path = format!("/api/v1/organisations/{identity}");

    // Active resources block the delete, with a message that says which.
    let ledger = |clusters: u64, accounts: u64, tenants: u64| ResourceLedger {
        active_clusters: clusters,
        cloud_accounts: accounts,
        monitoring_tenants: tenants,
        ..ResourceLedger::default()
    };
    let org_slug = Slug::parse(&slug).unwrap();
    for (clusters, accounts, tenants, says) in [
        (2, 0, 0, "2 active clusters"),
        (0, 1, 0, "1 configured cloud account"),
        (0, 0, 1, "1 active monitoring tenant"),
    ] {
        env.store()
            .seed(&ledger(clusters, accounts, tenants), &org_slug)
            .await
            .unwrap();
        let reply = call(&env, ApiRequest::delete(&delete_path).by(&admin)).await;
        assert_eq!(reply.status, 400);
        assert!(reply.message().contains(says), "{}", reply.message());
    }
    env.store().seed(&ledger(0, 0, 0), &org_slug).await.unwrap();

    let reply = call(&env, ApiRequest::delete(&delete_path).by(&admin)).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(reply.body, Value::Null);

    assert_eq!(
        call(
            &env,
            ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin)
        )
        .await
        .status,
        404
    );
    assert!(
        items(&env, &slug, "").await.is_empty(),
        "the partition is swept"
    );
    assert!(env
        .store()
        .slug_by_identity(identity.parse().unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        call(&env, ApiRequest::delete(&delete_path).by(&admin))
            .await
            .status,
        404
    );
    // The deletion is on record.
    let record = env
        .store()
        .get(Key::deletion(identity.parse().unwrap()))
        .await
        .unwrap();
    assert!(record.is_some());
    // The slug is free again once nothing of the old organisation is left.
    let again = create(&env, &admin, "Short Lived").await;
    assert_eq!(slug_of(&again), slug);
    assert_ne!(again["identity"].as_str().unwrap(), identity);
}

#[tokio::test]
async fn a_slug_is_not_reused_while_its_partition_is_being_swept() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("sweeper");
    env.store()
        .seed(
            &shared::storage::entities::PurgeMarker {
                slug: Slug::parse("sweeping").unwrap(),
                deleted_at: chrono::Utc::now(),
            },
            &Slug::parse("sweeping").unwrap(),
        )
        .await
        .unwrap();
    let org = create(&env, &admin, "Sweeping").await;
    assert_eq!(slug_of(&org), "sweeping-2");
}

#[tokio::test]
async fn round_trips_per_request() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("rt");
    env.round_trips.reset();
    let org = create(&env, &admin, "Round Trips").await;
    assert_eq!(
        env.round_trips.get(),
        2,
        "create: the creation log and one transaction (the mail counted in it)"
    );
    let path = format!("/api/v1/organisations/{}", slug_of(&org));

    env.round_trips.reset();
    call(&env, ApiRequest::get(&path).by(&admin)).await;
    assert_eq!(env.round_trips.get(), 1, "get: one BatchGet");

    env.round_trips.reset();
    call(
        &env,
        ApiRequest::patch(&path)
            .by(&admin)
            .json(json!({"organisationName": "Round Trips Two"})),
    )
    .await;
    assert_eq!(env.round_trips.get(), 2, "patch: one read, one transaction");

    env.round_trips.reset();
    create(&env, &admin, "Round Trips").await;
    assert_eq!(
        env.round_trips.get(),
        4,
        "create with one slug collision: two reads and transactions"
    );
}

#[tokio::test]
async fn binary_bodies_are_400() {
    // API Gateway passes a body that is not UTF-8 base64-encoded with isBase64Encoded: true.
    let env = TestEnv::new().await;
    let user = TestUser::new("binary");
    let mut event = ApiRequest::post("/api/v1/organisations")
        .by(&user)
        .raw_body("")
        .event();
    event["body"] = json!("//79AGJpbmFyeQ==");
    event["isBase64Encoded"] = json!(true);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let reply = Reply::from_response(organisations::handle(&env.app, request).await);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.message(), "The request body is not valid JSON.");
}
