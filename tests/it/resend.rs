//! `POST .../validation-status/email/resend`: a new code replaces the old one and is mailed,
//! at most once a minute per address and within the address's hourly share of verification
//! mails; admins only; idempotent with `Idempotency-Key`.

use api_tests::{send, ApiRequest, Reply, TestEnv, TestUser};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use shared::domain::activity::{ActivityEvent, ActivityType, Actor};
use shared::domain::budgets::SentMail;
use shared::domain::change::Change;
use shared::domain::organisation::OrganisationName;
use shared::domain::verification::address_hash;
use shared::domain::{Email, Slug};
use shared::storage::StoreError;

const CONTACT: &str = "contact@resend.example";

async fn create(env: &TestEnv, admin: &TestUser, name: &str) -> String {
    let reply = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(admin)
            .json(json!({
                "organisationName": name,
                "organisationType": "BUSINESS",
                "contactEmail": {"email": CONTACT},
                "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                                       {"agreementSlug": "privacy-policy"}]
            })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["slug"]["slugValue"].as_str().unwrap().to_owned()
}

fn resend_request(slug: &str, body: Value) -> ApiRequest {
    ApiRequest::post(&format!(
        "/api/v1/organisations/{slug}/validation-status/email/resend"
    ))
    .json(body)
}

async fn resend(env: &TestEnv, user: &TestUser, slug: &str, kind: &str) -> Reply {
    send(
        &env.app,
        resend_request(slug, json!({"emailType": kind})).by(user),
    )
    .await
}

async fn patch(env: &TestEnv, admin: &TestUser, slug: &str, body: Value) {
    let reply = send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(admin)
            .json(body),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn verify(env: &TestEnv, code: &str) -> Reply {
    send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/validations/verify-email/{code}")),
    )
    .await
}

/// Rewrites the organisation's record of its mails to `address` as if they went `sent` ago.
async fn mails_went(env: &TestEnv, slug: &str, address: &str, sent: &[Duration]) {
    let now = Utc::now();
    let hash = address_hash(&Email::parse("e", address).unwrap());
    let slug = Slug::parse(slug).unwrap();
    let mut organisation = env.store().organisation(&slug).await.unwrap().unwrap();
    organisation.mails_sent.0.retain(|m| !m.is_to(&hash));
    organisation
        .mails_sent
        .0
        .extend(sent.iter().map(|ago| SentMail {
            to: hash.clone(),
            at: now - *ago,
        }));
    env.store().seed(&organisation, &slug).await.unwrap();
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_resend_replaces_the_code_and_mails_the_new_one() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("resender");
    let slug = create(&env, &admin, "Resend Org").await;
    let old = env.mails()[0].code();
    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;

    let reply = resend(&env, &admin, &slug, "CONTACT").await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body, Value::Null, "no body");
    let mails = env.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, CONTACT);
    assert!(mails[1]
        .subject
        .contains("contact e-mail address of Resend Org"));
    let new = mails[1].code();
    assert_ne!(new, old);

    assert_eq!(
        verify(&env, &old).await.status,
        404,
        "the old code stops working"
    );
    let verified = verify(&env, &new).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["emailAddress"], CONTACT);

    // Verified now: nothing to resend.
    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;
    let again = resend(&env, &admin, &slug, "CONTACT").await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body["details"][0]
        .as_str()
        .unwrap()
        .starts_with("emailType: "));
    assert_eq!(env.mails().len(), 2);
}

#[tokio::test]
async fn the_billing_address_is_resent_and_a_missing_one_is_400() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("biller");
    let slug = create(&env, &admin, "Billing Resend Org").await;
    let none = resend(&env, &admin, &slug, "BILLING").await;
    assert_eq!(none.status, 400, "{}", none.body);

    patch(
        &env,
        &admin,
        &slug,
        json!({"billingEmail": "billing@resend.example"}),
    )
    .await;
    let first = env.mails()[1].code();
    mails_went(
        &env,
        &slug,
        "billing@resend.example",
        &[Duration::seconds(90)],
    )
    .await;
    let reply = resend(&env, &admin, &slug, "BILLING").await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let mails = env.mails();
    assert_eq!(mails.len(), 3);
    assert_eq!(mails[2].to, "billing@resend.example");
    assert_eq!(verify(&env, &first).await.status, 404);
    assert_eq!(verify(&env, &mails[2].code()).await.status, 200);
}

#[tokio::test]
async fn one_resend_a_minute_per_address() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("hurried");
    let slug = create(&env, &admin, "Hurried Org").await;
    // The create's mail went just now.
    let early = resend(&env, &admin, &slug, "CONTACT").await;
    assert_eq!(early.status, 429, "{}", early.body);
    assert!((1..=60).contains(&retry_after(&early)));

    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;
    assert_eq!(resend(&env, &admin, &slug, "CONTACT").await.status, 202);
    let second = resend(&env, &admin, &slug, "CONTACT").await;
    assert_eq!(second.status, 429, "{}", second.body);
    let wait = retry_after(&second);
    assert!((55..=60).contains(&wait), "{wait}");
    assert!(second.body["message"]
        .as_str()
        .unwrap()
        .contains("60 seconds"));
    assert_eq!(env.mails().len(), 2, "the create's mail and one resend");
}

#[tokio::test]
async fn a_resend_counts_towards_the_hourly_cap() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("capped");
    let slug = create(&env, &admin, "Capped Org").await;
    // Five mails in the last hour, the oldest 50 minutes ago, the newest 2 minutes ago.
    let minutes = [50, 40, 30, 10, 2].map(Duration::minutes);
    mails_went(&env, &slug, CONTACT, &minutes).await;
    let capped = resend(&env, &admin, &slug, "CONTACT").await;
    assert_eq!(capped.status, 429, "{}", capped.body);
    let wait = retry_after(&capped);
    assert!((9 * 60..=10 * 60).contains(&wait), "{wait}");
    assert_eq!(env.mails().len(), 1, "nothing sent");

    // Four in the hour: the resend takes the fifth place, and counts.
    mails_went(&env, &slug, CONTACT, &minutes[1..]).await;
    assert_eq!(resend(&env, &admin, &slug, "CONTACT").await.status, 202);
    let hash = address_hash(&Email::parse("e", CONTACT).unwrap());
    let organisation = env
        .store()
        .organisation(&Slug::parse(&slug).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(organisation.mails_sent.to_address(&hash, Utc::now()).0, 5);
}

#[tokio::test]
async fn only_admins_resend() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("owner");
    let slug = create(&env, &admin, "Admins Only Org").await;
    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;
    let developer = TestUser::new("dev");
    let added = send(
        &env.app,
        ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
            .by(&admin)
            .json(json!({"email": developer.email(), "role": "developer"})),
    )
    .await;
    assert!(added.status < 300, "{}", added.body);
    for user in [&developer, &TestUser::new("stranger")] {
        let reply = resend(&env, user, &slug, "CONTACT").await;
        assert_eq!(reply.status, 403, "{}", reply.body);
    }
    let anonymous = send(
        &env.app,
        resend_request(&slug, json!({"emailType": "CONTACT"})),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    let missing = resend(&env, &admin, "no-such-org", "CONTACT").await;
    assert_eq!(missing.status, 404);
    // The create's verification mail only (the developer's invitation went to them).
    let to_contact = env.mails().iter().filter(|m| m.to == CONTACT).count();
    assert_eq!(to_contact, 1);
}

#[tokio::test]
async fn a_bad_body_is_400_naming_the_field() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("sloppy");
    let slug = create(&env, &admin, "Sloppy Org").await;
    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;
    for (body, detail) in [
        (
            json!({"emailType": "PERSONAL"}),
            "emailType: must be CONTACT or BILLING",
        ),
        (
            json!({"emailType": "contact"}),
            "emailType: must be CONTACT or BILLING",
        ),
        (
            json!({"emailType": 3}),
            "emailType: must be CONTACT or BILLING",
        ),
        (json!({}), "emailType: is required"),
        (json!({"emailType": null}), "emailType: is required"),
    ] {
        let reply = send(&env.app, resend_request(&slug, body.clone()).by(&admin)).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["details"][0], detail, "{body}");
    }
    let unknown = send(
        &env.app,
        resend_request(
            &slug,
            json!({"emailType": "CONTACT", "email": "x@y.example"}),
        )
        .by(&admin),
    )
    .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(env.mails().len(), 1);
}

#[tokio::test]
async fn a_retried_resend_with_its_idempotency_key_is_replayed_and_mails_once() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("retrier");
    let slug = create(&env, &admin, "Retry Resend Org").await;
    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;
    let request = || {
        resend_request(&slug, json!({"emailType": "CONTACT"}))
            .by(&admin)
            .header("Idempotency-Key", "resend-7f3a")
    };
    let first = send(&env.app, request()).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let retried = send(&env.app, request()).await;
    assert_eq!(retried.status, 202, "{}", retried.body);
    assert_eq!(retried.body, Value::Null);
    assert_eq!(
        retried.headers.get("idempotent-replayed").unwrap(),
        "true",
        "replayed, not refused by the one-a-minute rule"
    );
    assert_eq!(env.mails().len(), 2, "the create's mail and one resend");

    let other = send(
        &env.app,
        resend_request(&slug, json!({"emailType": "BILLING"}))
            .by(&admin)
            .header("Idempotency-Key", "resend-7f3a"),
    )
    .await;
    assert_eq!(other.status, 422, "{}", other.body);
}

/// A resend writes the profile (its code hashes) at the same revision, so a change decided on a
/// read from before it must not write the old hashes back: it reads again.
#[tokio::test]
async fn a_change_decided_before_a_resend_reads_again_and_the_resent_code_works() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("raced-resender");
    let slug = create(&env, &admin, "Raced Resend Org").await;
    let stale = env
        .store()
        .organisation(&Slug::parse(&slug).unwrap())
        .await
        .unwrap()
        .unwrap();
    mails_went(&env, &slug, CONTACT, &[Duration::seconds(61)]).await;
    let resent = resend(&env, &admin, &slug, "CONTACT").await;
    assert_eq!(resent.status, 202, "{}", resent.body);
    let new = env.mails()[1].code();

    // A PATCH that read the profile before the resend, writing only now.
    let mut renamed = stale.clone();
    renamed.name = OrganisationName::parse("n", "Renamed Org").unwrap();
    let event = ActivityEvent::new(
        ActivityType::OrganisationUpdated,
        Actor::system(),
        "renamed".into(),
        Utc::now(),
    );
    let written = env
        .store()
        .write(&Change::update(&stale, renamed, event))
        .await;
    assert!(matches!(written, Err(StoreError::Conflict)), "{written:?}");

    // Through the API the PATCH reads again, and the resent code still verifies the address.
    patch(
        &env,
        &admin,
        &slug,
        json!({"organisationName": "Renamed Org"}),
    )
    .await;
    let verified = verify(&env, &new).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
}
