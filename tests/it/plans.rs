//! Plan rules for customers and the limits on abuse (docs/plans.md).

use api_tests::platform::{deliver_bodies, event};
use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::platform::EventKind;

fn body(name: &str, organisation_type: &str, contact: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": organisation_type,
        "contactEmail": {"email": contact},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    })
}

async fn create(app: &shared::App, user: &TestUser, name: &str, kind: &str) -> Reply {
    send(
        app,
        ApiRequest::post("/api/v1/organisations")
            .by(user)
            .json(body(name, kind, "ops@plans.example")),
    )
    .await
}

async fn patch(env: &TestEnv, slug: &str, user: &TestUser, body: Value) -> Reply {
    send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(user)
            .json(body),
    )
    .await
}

#[tokio::test]
async fn customers_cannot_choose_enterprise() {
    let env = TestEnv::new().await;
    let user = TestUser::new("chooser");
    let created = create(&env.app, &user, "Big Co", "ENTERPRISE").await;
    assert_eq!(created.status, 403);
    assert!(
        created.message().contains("platform operators"),
        "{}",
        created.body
    );
    let registered = send(
        &env.app,
        ApiRequest::post("/api/v1/registration")
            .by(&user)
            .json(body("Big Co", "ENTERPRISE", "ops@plans.example")),
    )
    .await;
    assert_eq!(registered.status, 403);

    let slug = create_organisation(&env.app, &user, "Small Co", "BUSINESS").await;
    let raised = patch(
        &env,
        &slug,
        &user,
        json!({"organisationType": "ENTERPRISE"}),
    )
    .await;
    assert_eq!(raised.status, 403);
    assert!(raised.message().contains("platform operators"));
    // INDIVIDUAL <-> BUSINESS is the customer's choice.
    let individual = patch(
        &env,
        &slug,
        &user,
        json!({"organisationType": "INDIVIDUAL"}),
    )
    .await;
    assert_eq!(individual.status, 200, "{}", individual.body);
    let business = patch(&env, &slug, &user, json!({"organisationType": "BUSINESS"})).await;
    assert_eq!(business.status, 200);
    let trial = patch(&env, &slug, &user, json!({"organisationType": "TRIAL"})).await;
    assert_eq!(trial.status, 400);
    assert!(
        trial.details()[0].starts_with("organisationType: "),
        "{}",
        trial.body
    );
}

#[tokio::test]
async fn leaving_trial_needs_a_payment_method_and_lifts_the_restriction() {
    let env = TestEnv::new().await;
    let user = TestUser::new("trialist");
    let slug = create_organisation(&env.app, &user, "Trial Co", "TRIAL").await;
    let got = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&user),
    )
    .await;
    assert_eq!(got.body["restrictedToAvailableCloudProviders"], true);

    let refused = patch(&env, &slug, &user, json!({"organisationType": "BUSINESS"})).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.details()[0].starts_with("organisationType: ")
            && refused.details()[0].contains("payment method"),
        "{}",
        refused.body
    );

    let attached = event(
        EventKind::PaymentMethodAttached,
        &slug,
        "2026-11-28T12:00:00Z",
        json!({"paymentMethodId": "pm-1"}),
    );
    let (failures, _) = deliver_bodies(&env.app, [attached]).await;
    assert!(failures.is_empty());
    let moved = patch(&env, &slug, &user, json!({"organisationType": "BUSINESS"})).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["type"], "BUSINESS");
    assert_eq!(moved.body["restrictedToAvailableCloudProviders"], false);
}

#[tokio::test]
async fn creates_per_user_stop_at_the_limit_even_when_concurrent() {
    let env = TestEnv::new().await;
    let mut app = env.app.clone();
    app.max_organisations_per_user_per_day = 4;
    let user = TestUser::new("eager");
    // Four at once, all below the limit: none fails for the others.
    let first: Vec<Reply> = futures_util::future::join_all((0..4).map(|i| {
        let (app, user) = (app.clone(), user.clone());
        async move { create(&app, &user, &format!("Eager {i}"), "BUSINESS").await }
    }))
    .await;
    assert!(
        first.iter().all(|r| r.status == 200),
        "{:?}",
        first.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let fifth = create(&app, &user, "Eager Five", "BUSINESS").await;
    assert_eq!(fifth.status, 429, "{}", fifth.body);
    assert!(fifth.message().contains("24 hours"));
    let retry_after: u64 = fifth.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");
    // Another user is not affected; registrations count too.
    assert_eq!(
        create(&app, &TestUser::new("other"), "Other", "TRIAL")
            .await
            .status,
        200
    );

    // Six at once for a fresh user with a limit of four: exactly four pass.
    let racer = TestUser::new("racer");
    let raced: Vec<Reply> = futures_util::future::join_all((0..6).map(|i| {
        let (app, user) = (app.clone(), racer.clone());
        async move { create(&app, &user, &format!("Race {i}"), "BUSINESS").await }
    }))
    .await;
    let mut statuses: Vec<u16> = raced.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn the_last_joined_admin_stays_whatever_admin_invitations_exist() {
    let env = TestEnv::new().await;
    let owner = TestUser::new("owner");
    let slug = create_organisation(&env.app, &owner, "Lonely Admin", "BUSINESS").await;
    let invitee = TestUser::new("invitee");
    let added = send(
        &env.app,
        ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
            .by(&owner)
            .json(json!({"email": invitee.email(), "role": "admin"})),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let me = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/me")).by(&owner),
    )
    .await;
    let owner_identity = me.body["identity"].as_str().unwrap().to_owned();
    let remove_owner = ApiRequest::delete(&format!(
        "/api/v1/organisations/{slug}/members/{owner_identity}"
    ))
    .by(&owner);
    let refused = send(&env.app, remove_owner.clone()).await;
    assert_eq!(
        refused.status, 400,
        "an unclaimed invitation is no admin: {}",
        refused.body
    );
    assert!(refused.message().contains("last admin"));

    // Once the invitee has joined, the owner may go.
    let claimed = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/me")).by(&invitee),
    )
    .await;
    assert_eq!(claimed.status, 200);
    assert_eq!(send(&env.app, remove_owner).await.status, 204);
}

#[tokio::test]
async fn an_unverified_email_is_not_an_identity() {
    let env = TestEnv::new().await;
    let mut user = TestUser::new("unverified");
    user.email_verified = false;
    let slug = create_organisation(&env.app, &user, "Unverified Co", "BUSINESS").await;
    let me = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/me")).by(&user),
    )
    .await;
    assert_eq!(me.body["email"], Value::Null, "{}", me.body);
    assert_eq!(me.body["username"], "unverified");
    let activity = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/activity")).by(&user),
    )
    .await;
    let first = &activity.body["content"][0];
    assert_eq!(first["actor"]["email"], Value::Null);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .starts_with("unverified created"),
        "{first}"
    );
    assert!(!activity.body.to_string().contains(user.email()));
}

#[tokio::test]
async fn no_personal_data_is_logged_at_info_or_above() {
    let logs = api_tests::logs::captured();
    let env = TestEnv::new().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let admin = TestUser::new(&format!("pii{}", &tag[..6]));
    let contact = format!("contact-{tag}@pii.example");
    let member = format!("member-{tag}@pii.example");
    let created = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations").by(&admin).json(json!({
            "organisationName": "Private Co",
            "organisationType": "BUSINESS",
            "contactEmail": contact,
            "companyName": format!("Secret Company {tag}"),
            "companyAddress": format!("1 Hidden Street {tag}"),
            "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
        })),
    )
    .await;
    assert_eq!(created.status, 200);
    let slug = created.body["slug"]["slugValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = format!("/api/v1/organisations/{slug}/members");
    let add = json!({"email": member, "role": "developer"});
    for request in [
        ApiRequest::post(&members).by(&admin).json(add.clone()),
        // Refused: the address is a member already (its message names it).
        ApiRequest::post(&members).by(&admin).json(add),
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"billingEmail": format!("billing-{tag}@pii.example")})),
        ApiRequest::get(&members).by(&admin),
    ] {
        send(&env.app, request).await;
    }
    let text = logs.text();
    assert!(
        text.contains(&slug),
        "the slug is logged: the capture works"
    );
    let billing = format!("billing-{tag}");
    for secret in [contact.as_str(), &member, admin.email(), &billing, &tag] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
}
