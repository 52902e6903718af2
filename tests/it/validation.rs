//! Verification: e-mail codes through the file outbox, VAT numbers checked offline and with a
//! fake VIES over HTTP, the validation status, and the legal entity confirmation.

use std::time::Duration;

use api_tests::vies::{FakeVies, Vies, DEFAULT_ADDRESS, DEFAULT_NAME};
use api_tests::{send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::verification::code_hash;

fn body(name: &str, vat: Option<&str>) -> Value {
    let mut body = json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": {"email": "contact@acme.example"},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    });
    if let Some(vat) = vat {
        body["vatNumber"] = json!(vat);
    }
    body
}

async fn create(env: &TestEnv, admin: &TestUser, name: &str, vat: Option<&str>) -> Reply {
    send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(admin)
            .json(body(name, vat)),
    )
    .await
}

async fn status(env: &TestEnv, slug: &str, user: &TestUser) -> Value {
    let reply = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/validation-status")).by(user),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

async fn verify(env: &TestEnv, code: &str) -> Reply {
    // No token: the link is opened by whoever reads the mail.
    send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/validations/verify-email/{code}")),
    )
    .await
}

#[tokio::test]
async fn contact_email_is_verified_through_the_mailed_code() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("mailer");
    let org = create(&env, &admin, "Mail Org", None).await;
    assert_eq!(org.status, 200);
    let slug = org.body["slug"]["slugValue"].as_str().unwrap();

    let mails = env.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, "contact@acme.example");
    assert!(
        mail.subject.contains("contact e-mail address of Mail Org"),
        "{}",
        mail.subject
    );
    let code = mail.code();
    assert_eq!(code.len(), 43);
    assert!(mail.body.contains(&format!(
        "http://127.0.0.1:9000/api/v1/validations/verify-email/{code}"
    )));
    assert!(mail.body.contains(&format!("Verification code: {code}")));

    let before = status(&env, slug, &admin).await;
    assert_eq!(before["contactEmailVerifiedAt"], Value::Null);
    assert_eq!(before.as_object().unwrap().len(), 7);

    let verified = verify(&env, &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(
        verified.body,
        json!({"emailAddress": "contact@acme.example"})
    );
    let after = status(&env, slug, &admin).await;
    chrono::DateTime::parse_from_rfc3339(after["contactEmailVerifiedAt"].as_str().unwrap())
        .unwrap();
    assert_eq!(after["billingEmailVerifiedAt"], Value::Null);

    // Used once; opened again (mail scanners fetch links first) it answers success and
    // verifies nothing again (the activity log below has one EMAIL_VERIFIED).
    let again = verify(&env, &code).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, verified.body);
    let still = status(&env, slug, &admin).await;
    assert_eq!(
        still["contactEmailVerifiedAt"],
        after["contactEmailVerifiedAt"]
    );

    let log = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/activity")).by(&admin),
    )
    .await
    .body;
    assert_eq!(log["content"][0]["type"], "EMAIL_VERIFIED");
    assert_eq!(log["content"][0]["actor"]["email"], "contact@acme.example");
    assert_ne!(log["content"][1]["type"], "EMAIL_VERIFIED", "verified once");
}

#[tokio::test]
async fn bad_codes_change_nothing() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("codes");
    let org = create(&env, &admin, "Code Org", None).await;
    let slug = org.body["slug"]["slugValue"].as_str().unwrap().to_owned();
    let code = env.mails()[0].code();

    let malformed = verify(&env, "not-a-code").await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.details(), ["code: is not a verification code"]);
    let unknown = verify(&env, &"A".repeat(43)).await;
    assert_eq!(unknown.status, 404);

    // The address is replaced: the old code verifies nothing, the new one does.
    let patched = send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"contactEmail": "new@acme.example"})),
    )
    .await;
    assert_eq!(patched.status, 200);
    let stale = verify(&env, &code).await;
    assert_eq!(stale.status, 400);
    assert!(
        stale.message().contains("no longer contact@acme.example"),
        "{}",
        stale.message()
    );
    assert_eq!(
        status(&env, &slug, &admin).await["contactEmailVerifiedAt"],
        Value::Null
    );
    let mails = env.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, "new@acme.example");
    assert_eq!(verify(&env, &mails[1].code()).await.status, 200);

    // An expired code (TTL deletion is lazy) is refused even while it is still stored.
    let expired = "B".repeat(43);
    let record = shared::domain::verification::EmailCode {
        code_hash: shared::domain::verification::code_hash(&expired),
        slug: shared::domain::Slug::parse(&slug).unwrap(),
        kind: shared::domain::verification::EmailKind::Contact,
        email: shared::domain::Email::parse("e", "new@acme.example").unwrap(),
        created_at: chrono::Utc::now() - chrono::Duration::hours(25),
        expires_at: (chrono::Utc::now() - chrono::Duration::hours(1)).timestamp(),
        used_at: None,
    };
    env.store().seed(&record, &record.slug).await.unwrap();
    let reply = verify(&env, &expired).await;
    assert_eq!(reply.status, 400);
    assert!(reply.message().contains("expired"));
}

#[tokio::test]
async fn changing_an_address_unverifies_it_and_mails_the_new_one() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("billing");
    let org = create(&env, &admin, "Billing Org", None).await;
    let slug = org.body["slug"]["slugValue"].as_str().unwrap().to_owned();
    assert_eq!(verify(&env, &env.mails()[0].code()).await.status, 200);

    let patch = send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"billingEmail": {"email": "invoices@acme.example"}})),
    )
    .await;
    assert_eq!(patch.status, 200);
    let mails = env.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, "invoices@acme.example");
    assert!(mails[1].subject.contains("billing"));
    assert_eq!(
        verify(&env, &mails[1].code()).await.body,
        json!({"emailAddress": "invoices@acme.example"})
    );
    let verified = status(&env, &slug, &admin).await;
    assert!(verified["billingEmailVerifiedAt"].is_string());
    assert!(verified["contactEmailVerifiedAt"].is_string());

    // A new contact address is unverified again; the billing address stays verified.
    send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"contactEmail": "other@acme.example"})),
    )
    .await;
    let after = status(&env, &slug, &admin).await;
    assert_eq!(after["contactEmailVerifiedAt"], Value::Null);
    assert!(after["billingEmailVerifiedAt"].is_string());
}

#[tokio::test]
async fn vat_numbers_are_normalised_and_checked_offline() {
    let env = TestEnv::new().await;
    let admin = TestUser::new("vat");
    let ok = create(&env, &admin, "Vat Org", Some("nl 0044.954.45 b01")).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["vatCode"], "NL004495445B01");
    let greek = create(&env, &admin, "Greek Org", Some("GR094259216")).await;
    assert_eq!(greek.body["vatCode"], "EL094259216");
    let slug = ok.body["slug"]["slugValue"].as_str().unwrap().to_owned();
    // No VIES configured: not asked yet.
    assert_eq!(
        status(&env, &slug, &admin).await["vatNumberVerificationStatus"],
        "PENDING"
    );

    for (vat, says) in [
        ("NL004495446B01", "check digit"),
        ("DE12345", "DE"),
        ("XX123456789", "XX"),
        ("123456789", ""),
    ] {
        let reply = create(&env, &admin, "Bad Vat", Some(vat)).await;
        assert_eq!(reply.status, 400, "{vat}");
        assert!(
            reply.details()[0].starts_with("vatNumber: "),
            "{:?}",
            reply.details()
        );
        assert!(reply.details()[0].contains(says), "{:?}", reply.details());
        let patch = send(
            &env.app,
            ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
                .by(&admin)
                .json(json!({"vatNumber": vat})),
        )
        .await;
        assert_eq!(patch.status, 400, "{vat}");
    }
    let unchanged = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin),
    )
    .await;
    assert_eq!(unchanged.body["vatCode"], "NL004495445B01");

    // Clearing the number clears its status.
    let cleared = send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{slug}"))
            .by(&admin)
            .json(json!({"vatNumber": null})),
    )
    .await;
    assert_eq!(cleared.body["vatCode"], Value::Null);
    assert_eq!(
        status(&env, &slug, &admin).await["vatNumberVerificationStatus"],
        Value::Null
    );
}

#[tokio::test]
async fn vies_answers_decide_the_vat_status() {
    let vies = FakeVies::start().await;
    let mut env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_millis(500));
    // Seven faults in a row, each of which must reach VIES: no pause after five here
    // (tests/it/budgets.rs tests the pause).
    let client = env.app.vies.take().unwrap().with_limits(
        shared::vies::MAX_CONCURRENT_CALLS,
        u32::MAX,
        shared::vies::PAUSE,
    );
    env.app.vies = Some(client);
    let admin = TestUser::new("vies");
    let cases = [
        ("NL004495445B01", None, "VERIFIED", true),
        ("DE136695976", Some(Vies::Invalid), "UNVERIFIED", false),
        (
            "BE0403170701",
            Some(Vies::Fault200("MS_UNAVAILABLE")),
            "UNAVAILABLE",
            false,
        ),
        (
            "FI20774740",
            Some(Vies::Fault200("TIMEOUT")),
            "UNAVAILABLE",
            false,
        ),
        (
            "DK13585628",
            Some(Vies::Fault200("MS_MAX_CONCURRENT_REQ")),
            "UNAVAILABLE",
            false,
        ),
        (
            "ATU13585627",
            Some(Vies::Fault200("GLOBAL_MAX_CONCURRENT_REQ")),
            "UNAVAILABLE",
            false,
        ),
        (
            "IE6388047V",
            Some(Vies::Fault200("SERVICE_UNAVAILABLE")),
            "UNAVAILABLE",
            false,
        ),
        (
            "PL8567346215",
            Some(Vies::FaultStatus(500, "MS_UNAVAILABLE")),
            "UNAVAILABLE",
            false,
        ),
        (
            "SE556188840401",
            Some(Vies::Status(503)),
            "UNAVAILABLE",
            false,
        ),
        (
            "PT501964843",
            Some(Vies::Slow(Duration::from_secs(3))),
            "UNAVAILABLE",
            false,
        ),
    ];
    for (i, (vat, answer, expected, validated)) in cases.into_iter().enumerate() {
        if let Some(answer) = answer {
            vies.answer(vat, answer);
        }
        let reply = create(&env, &admin, &format!("Vies Org {i}"), Some(vat)).await;
        assert_eq!(reply.status, 200, "{vat}: {}", reply.body);
        assert_eq!(reply.body["vatCodeValidated"], validated, "{vat}");
        let slug = reply.body["slug"]["slugValue"].as_str().unwrap();
        let status = status(&env, slug, &admin).await;
        assert_eq!(status["vatNumberVerificationStatus"], expected, "{vat}");
        assert!(status["vatNumberVerificationUpdatedAt"].is_string());
        if expected != "UNAVAILABLE" {
            assert!(
                reply.body["vatCodeValidatedAt"].is_string(),
                "a definite answer is dated"
            );
        }
    }
    let asked: Vec<String> = vies
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{}{}",
                r["countryCode"].as_str().unwrap(),
                r["vatNumber"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(asked.len(), 10);
    assert!(asked.contains(&"NL004495445B01".to_owned()));
}

#[tokio::test]
async fn the_legal_entity_is_confirmed_against_the_registry() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    let admin = TestUser::new("entity");
    let reply = create(&env, &admin, "Entity Org", Some("NL004495445B01")).await;
    let slug = reply.body["slug"]["slugValue"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/organisations/{slug}/validation-status/vat");

    let entity = send(&env.app, ApiRequest::get(&path).by(&admin)).await;
    assert_eq!(entity.status, 200);
    assert_eq!(
        entity.body,
        json!({"vatLegalEntityName": DEFAULT_NAME, "vatLegalEntityAddress": DEFAULT_ADDRESS})
    );

    let mismatch = send(&env.app, ApiRequest::post(&path).by(&admin).json(json!({"vatLegalEntityName": "Acme Cloud B.V.", "vatLegalEntityAddress": "Somewhere Else 2"}))).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(
        mismatch.details(),
        ["vatLegalEntityAddress: does not match what VIES holds for this VAT number"]
    );
    assert_eq!(
        status(&env, &slug, &admin).await["vatLegalEntityNameVerifiedAt"],
        Value::Null,
        "nothing applied"
    );

    let developer = TestUser::new("dev");
    send(
        &env.app,
        ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
            .by(&admin)
            .json(json!({"email": developer.email(), "role": "developer"})),
    )
    .await;
    let refused = send(
        &env.app,
        ApiRequest::post(&path)
            .by(&developer)
            .json(json!({"vatLegalEntityName": DEFAULT_NAME})),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        send(&env.app, ApiRequest::get(&path).by(&developer))
            .await
            .status,
        200
    );

    let empty = send(&env.app, ApiRequest::post(&path).by(&admin).json(json!({}))).await;
    assert_eq!(empty.status, 400);

    let confirmed = send(
        &env.app,
        ApiRequest::post(&path).by(&admin).json(json!({
            "vatLegalEntityName": "  acme cloud   b.v. ",
            "vatLegalEntityAddress": "Keizersgracht 1 1015 CJ Amsterdam"
        })),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body["vatLegalEntityNameVerifiedAt"].is_string());
    assert!(confirmed.body["vatLegalEntityAddressVerifiedAt"].is_string());
    assert_eq!(confirmed.body["vatNumberVerificationStatus"], "VERIFIED");

    // Without a confirmed VAT number there is nothing to confirm.
    vies.answer("DE136695976", Vies::Invalid);
    let invalid = create(&env, &admin, "Invalid Vat Org", Some("DE136695976")).await;
    let other = invalid.body["slug"]["slugValue"].as_str().unwrap();
    let nothing = send(
        &env.app,
        ApiRequest::post(&format!(
            "/api/v1/organisations/{other}/validation-status/vat"
        ))
        .by(&admin)
        .json(json!({"vatLegalEntityName": DEFAULT_NAME})),
    )
    .await;
    assert_eq!(nothing.status, 400);
    assert!(nothing.message().contains("has not confirmed"));
}

/// Verification codes live outside the organisation's partition (until they expire, 24 hours):
/// the deletion removes the ones the profile names, and no code of a deleted organisation
/// verifies the address of a new organisation that took its slug (a code the deletion did not
/// know of, e.g. one a racing resend wrote, is refused by `decisions::verify_email`, unit-tested).
#[tokio::test]
async fn a_deleted_organisations_code_verifies_nothing_of_the_next_one_with_its_slug() {
    let env = TestEnv::new().await;
    let first = TestUser::new("first-owner");
    let created = create(&env, &first, "Phoenix Org", None).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let slug = created.body["slug"]["slugValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = created.body["identity"].as_str().unwrap().to_owned();
    let old_code = env.mails()[0].code();
    let deleted = send(
        &env.app,
        ApiRequest::delete(&format!("/api/v1/organisations/{identity}")).by(&first),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let stored = env.store().email_code(&code_hash(&old_code)).await.unwrap();
    assert!(
        stored.is_none(),
        "removed with the organisation: {stored:?}"
    );

    let second = TestUser::new("second-owner");
    let again = create(&env, &second, "Phoenix Org", None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.body["slug"]["slugValue"],
        slug.as_str(),
        "the slug is free again"
    );

    let reply = verify(&env, &old_code).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(
        status(&env, &slug, &second).await["contactEmailVerifiedAt"],
        Value::Null
    );
    let new_code = env.mails()[1].code();
    assert_eq!(verify(&env, &new_code).await.status, 200);
}
