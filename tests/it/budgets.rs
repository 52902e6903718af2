//! Abuse budgets and trust boundaries (docs/security.md, docs/plans.md "Budgets"): VIES is no
//! free amplifier, and what a token says is cleaned before it is recorded.

use std::time::Duration;

use api_tests::vies::{FakeVies, Vies};
use api_tests::{send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::App;

/// Numbers with valid checksums (VIES is asked only for those).
const NUMBERS: [&str; 8] = [
    "NL004495445B01",
    "NL814326584B01",
    "NL003376734B77",
    "NL000099998B57",
    "NL002455799B11",
    "DE136695976",
    "DE811363057",
    "BE0403170701",
];

fn create_body(name: &str, vat: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": "ops@example.com",
        "vatNumber": vat,
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]
    })
}

async fn create(app: &App, user: &TestUser, name: &str, vat: &str) -> Reply {
    send(
        app,
        ApiRequest::post("/api/v1/organisations")
            .by(user)
            .json(create_body(name, vat)),
    )
    .await
}

/// The cheap checks come first: at the daily creation limit, a create with a valid-checksum
/// VAT number is 429 and VIES receives nothing; nor does a create of a type customers may not
/// choose.
#[tokio::test]
async fn a_create_that_will_be_refused_never_calls_vies() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    let mut app = env.app.clone();
    app.max_organisations_per_user_per_day = 1;
    let user = TestUser::new("amplifier");
    let first = create(&app, &user, "Amp One", NUMBERS[0]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(vies.requests().len(), 1);

    let refused = create(&app, &user, "Amp Two", NUMBERS[1]).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(
        vies.requests().len(),
        1,
        "VIES was asked for a refused create"
    );

    let mut enterprise = create_body("Amp Three", NUMBERS[2]);
    enterprise["organisationType"] = json!("ENTERPRISE");
    let other = TestUser::new("amplifier-2");
    let refused = send(
        &app,
        ApiRequest::post("/api/v1/organisations")
            .by(&other)
            .json(enterprise),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(vies.requests().len(), 1);

    // A second registration is refused (400) before VIES too.
    let newcomer = TestUser::new("newcomer");
    let register = |body: Value| {
        send(
            &env.app,
            ApiRequest::post("/api/v1/registration")
                .by(&newcomer)
                .json(body),
        )
    };
    let mut without_vat = create_body("Signed Up", NUMBERS[3]);
    without_vat.as_object_mut().unwrap().remove("vatNumber");
    assert_eq!(register(without_vat).await.status, 200);
    let again = register(create_body("Signed Up Again", NUMBERS[3])).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(vies.requests().len(), 1);
}

/// Each function instance makes at most 4 VIES calls at once; the others wait for a slot.
#[tokio::test]
async fn an_instance_makes_at_most_four_vies_calls_at_once() {
    let vies = FakeVies::start().await;
    for vat in NUMBERS {
        vies.answer(vat, Vies::Slow(Duration::from_millis(300)));
    }
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(5));
    let user = TestUser::new("crowd");
    let replies: Vec<Reply> =
        futures_util::future::join_all(NUMBERS.iter().enumerate().map(|(i, vat)| {
            let (app, user) = (&env.app, &user);
            async move { create(app, user, &format!("Crowd {i}"), vat).await }
        }))
        .await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            reply.body["vatCodeValidated"],
            json!(true),
            "{}",
            reply.body
        );
    }
    assert_eq!(vies.requests().len(), NUMBERS.len());
    assert_eq!(
        vies.peak_total_concurrency(),
        shared::vies::MAX_CONCURRENT_CALLS,
        "at most 4 at once, and 4 when 8 wait"
    );
}

/// After 5 consecutive VIES failures the instance calls VIES for no one for a while: the
/// answer is "could not check" (UNAVAILABLE, for the scheduled re-validation to pick up), and
/// VIES receives nothing until the pause ends.
#[tokio::test]
async fn five_failures_in_a_row_pause_vies_for_everyone() {
    let vies = FakeVies::start().await;
    for vat in NUMBERS {
        vies.answer(vat, Vies::Status(503));
    }
    let mut env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    // The production pause is 30 s; the same breaker with a shorter one (long enough for a
    // create on a busy machine).
    let pause = Duration::from_secs(8);
    let client = env.app.vies.take().unwrap().with_limits(
        shared::vies::MAX_CONCURRENT_CALLS,
        shared::vies::FAILURES_BEFORE_PAUSE,
        pause,
    );
    env.app.vies = Some(client);
    let status = |reply: &Reply, user: &TestUser| {
        let slug = reply.body["slug"]["slugValue"].as_str().unwrap().to_owned();
        let (app, user) = (env.app.clone(), user.clone());
        async move {
            send(
                &app,
                ApiRequest::get(&format!("/api/v1/organisations/{slug}/validation-status"))
                    .by(&user),
            )
            .await
            .body["vatNumberVerificationStatus"]
                .clone()
        }
    };
    for (i, vat) in NUMBERS[..5].iter().enumerate() {
        let user = TestUser::new(&format!("fail-{i}"));
        let reply = create(&env.app, &user, &format!("Fail {i}"), vat).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(vies.requests().len(), 5);
    // Paused: another customer's create is not sent to VIES, and is UNAVAILABLE.
    let later = TestUser::new("later");
    let reply = create(&env.app, &later, "Later", NUMBERS[5]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(vies.requests().len(), 5, "VIES called while paused");
    assert_eq!(status(&reply, &later).await, "UNAVAILABLE");

    // After the pause VIES is asked again; a definite answer counts as success again.
    tokio::time::sleep(pause).await;
    vies.answer(
        NUMBERS[6],
        Vies::Valid {
            name: "ACME",
            address: "SOMEWHERE",
        },
    );
    let again = TestUser::new("again");
    let reply = create(&env.app, &again, "Again", NUMBERS[6]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(vies.requests().len(), 6);
    assert_eq!(status(&reply, &again).await, "VERIFIED");
}

/// The token's username is cleaned as an e-mail given as input is: invisible and bidirectional
/// format characters, or more than 255 characters, and it is not used (the `sub` stands in).
#[tokio::test]
async fn a_username_with_hidden_characters_is_not_recorded() {
    let env = TestEnv::new().await;
    for (username, recorded) in [
        ("alice", Some("alice")),
        ("\u{202E}nimda", None),
        ("ad\u{200B}min", None),
        (&"a".repeat(256) as &str, None),
    ] {
        let user = TestUser {
            username: username.to_owned(),
            ..TestUser::new("named")
        };
        let slug = api_tests::create_organisation(&env.app, &user, "Named Co", "BUSINESS").await;
        let me = send(
            &env.app,
            ApiRequest::get(&format!("/api/v1/organisations/{slug}/me")).by(&user),
        )
        .await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.body["username"].as_str(), recorded, "{username:?}");
    }
}
