//! The abuse budgets (docs/plans.md, "Budgets"): mails per organisation per day, per address per
//! organisation per hour and per address per hour across organisations; VAT number changes per
//! organisation per day. A refused request changes nothing and calls no outside service; one
//! organisation cannot spend another's share of an address.

use std::time::Duration;

use api_tests::vies::FakeVies;
use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};

fn create_body(name: &str, contact: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": {"email": contact},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}],
    })
}

async fn patch(app: &shared::App, slug: &str, user: &TestUser, body: Value) -> Reply {
    send(
        app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(user)
            .json(body),
    )
    .await
}

fn mails_to(env: &TestEnv, address: &str) -> usize {
    env.mails().iter().filter(|m| m.to == address).count()
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_organisation_mails_at_most_its_daily_budget_and_a_refused_patch_changes_nothing() {
    let env = TestEnv::new().await;
    let mut app = env.app.clone();
    app.budgets.mails_per_organisation_per_day = 3;
    let admin = TestUser::new("budget");
    // The create's verification mail is the first of three.
    let slug = create_organisation(&app, &admin, "Budget Org", "BUSINESS").await;
    for i in 0..2 {
        let moved = patch(
            &app,
            &slug,
            &admin,
            json!({"billingEmail": format!("b{i}@budget.example")}),
        )
        .await;
        assert_eq!(moved.status, 200, "{}", moved.body);
    }
    let refused = patch(
        &app,
        &slug,
        &admin,
        json!({"billingEmail": "b9@budget.example", "organisationName": "Renamed"}),
    )
    .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.message().contains("24 hours"),
        "{}",
        refused.message()
    );
    assert!(retry_after(&refused) > 86_000, "{}", retry_after(&refused));
    let read = send(
        &app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin),
    )
    .await;
    assert_eq!(
        read.body["billingEmail"], "b1@budget.example",
        "nothing changed: {}",
        read.body
    );
    assert_eq!(read.body["name"], "Budget Org");
    assert_eq!(mails_to(&env, "b9@budget.example"), 0);
    // A change that sends no mail is not held back.
    let renamed = patch(&app, &slug, &admin, json!({"organisationName": "Renamed"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    // Resends count too.
    let resent = send(
        &app,
        ApiRequest::post(&format!(
            "/api/v1/organisations/{slug}/validation-status/email/resend"
        ))
        .by(&admin)
        .json(json!({"emailType": "BILLING"})),
    )
    .await;
    assert_eq!(resent.status, 429, "{}", resent.body);
}

#[tokio::test]
async fn one_organisation_cannot_silence_anothers_mail_to_an_address() {
    let env = TestEnv::new().await;
    let victim = format!("victim-{}@corp.example", uuid::Uuid::new_v4().simple());
    let attacker = TestUser::new("attacker");
    let slug = create_organisation(&env.app, &attacker, "Attacker Org", "BUSINESS").await;
    // The attacker's organisation mails the victim seven times: five go, two are suppressed
    // (the PATCHes themselves succeed).
    for i in 0..7 {
        let other = format!("other{i}@attacker.example");
        for address in [victim.as_str(), other.as_str()] {
            let moved = patch(&env.app, &slug, &attacker, json!({"billingEmail": address})).await;
            assert_eq!(moved.status, 200, "{}", moved.body);
        }
    }
    assert_eq!(mails_to(&env, &victim), 5);
    // The victim's own organisation still reaches them.
    let owner = TestUser::new("victim-owner");
    let created = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&owner)
            .json(create_body("Victim Corp", &victim)),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        mails_to(&env, &victim),
        6,
        "another organisation's mail is not suppressed"
    );
}

#[tokio::test]
async fn an_address_gets_at_most_twenty_mails_an_hour_from_all_organisations() {
    let env = TestEnv::new().await;
    let address = format!("popular-{}@corp.example", uuid::Uuid::new_v4().simple());
    let hour = || chrono::Utc::now().timestamp() / 3600;
    let started = hour();
    for i in 0..22 {
        let created = send(
            &env.app,
            ApiRequest::post("/api/v1/organisations")
                .by(&TestUser::new(&format!("sender{i}")))
                .json(create_body(&format!("Sender {i}"), &address)),
        )
        .await;
        assert_eq!(
            created.status, 200,
            "creates still succeed: {}",
            created.body
        );
    }
    let sent = mails_to(&env, &address);
    if hour() == started {
        assert_eq!(sent, 20, "the rest suppressed");
    } else {
        // Counted per clock hour: a run across the hour may start a fresh counter.
        assert!((20..=22).contains(&sent), "{sent}");
    }
}

#[tokio::test]
async fn vat_number_changes_per_day_are_limited_before_vies_is_asked() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_millis(500));
    let mut app = env.app.clone();
    app.budgets.vat_changes_per_organisation_per_day = 2;
    let admin = TestUser::new("vat-changer");
    let slug = create_organisation(&app, &admin, "Vat Changer", "BUSINESS").await;
    for vat in ["NL004495445B01", "DE136695976"] {
        env.round_trips.reset();
        let moved = patch(&app, &slug, &admin, json!({"vatNumber": vat})).await;
        assert_eq!(moved.status, 200, "{}", moved.body);
        assert_eq!(
            env.round_trips.get(),
            2,
            "one read, VIES, the decision on the same read, one transaction"
        );
    }
    let asked = vies.requests().len();
    assert_eq!(asked, 2);
    let refused = patch(&app, &slug, &admin, json!({"vatNumber": "BE0403170701"})).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(retry_after(&refused) > 86_000);
    assert_eq!(
        vies.requests().len(),
        asked,
        "a refused change asks VIES nothing"
    );
    let read = send(
        &app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin),
    )
    .await;
    assert_eq!(read.body["vatCode"], "DE136695976");
}

#[tokio::test]
async fn writes_that_mail_cost_one_read_and_one_transaction() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("frugal");
    let contact = format!("frugal-{}@corp.example", uuid::Uuid::new_v4().simple());
    env.round_trips.reset();
    let created = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(create_body("Frugal Org", &contact)),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        env.round_trips.get(),
        2,
        "create: the creation log, one transaction"
    );
    let slug = created.body["slug"]["slugValue"]
        .as_str()
        .unwrap()
        .to_owned();

    env.round_trips.reset();
    let moved = patch(
        &env.app,
        &slug,
        &admin,
        json!({"billingEmail": "billing@frugal.example"}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(
        env.round_trips.get(),
        2,
        "PATCH of an address: one BatchGet, one transaction"
    );

    env.round_trips.reset();
    let resent = send(
        &env.app,
        ApiRequest::post(&format!(
            "/api/v1/organisations/{slug}/validation-status/email/resend"
        ))
        .by(&admin)
        .json(json!({"emailType": "CONTACT"})),
    )
    .await;
    // The create mailed the contact address less than a minute ago.
    assert_eq!(resent.status, 429, "{}", resent.body);
    assert_eq!(env.round_trips.get(), 1, "a refused resend: the read only");
    env.round_trips.reset();
    let resent = send(
        &env.app,
        ApiRequest::post(&format!(
            "/api/v1/organisations/{slug}/validation-status/email/resend"
        ))
        .by(&admin)
        .json(json!({"emailType": "BILLING"})),
    )
    .await;
    assert_eq!(
        resent.status, 429,
        "the PATCH mailed billing just now: {}",
        resent.body
    );

    env.round_trips.reset();
    let added = send(
        &env.app,
        ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
            .by(&admin)
            .json(json!({"email": "new@frugal.example", "role": "viewer"})),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(
        env.round_trips.get(),
        3,
        "member add: the BatchGet and the members' Query at once (the pending-invitation \
         cap), one transaction"
    );
}
