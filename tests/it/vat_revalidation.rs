//! The scheduled VAT re-validation: only due organisations are read, answers are recorded with
//! their next due time, a transient fault never unverifies, runs are idempotent and stop before
//! their deadline.

use shared::domain::Slug;
use shared::storage::keys::Key;
use std::time::{Duration, Instant};

use api_tests::vies::{FakeVies, Vies};
use api_tests::{send, ApiRequest, TestEnv, TestUser};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::vat_revalidation;

async fn create(env: &TestEnv, admin: &TestUser, name: &str, vat: &str) -> String {
    let reply = send(&env.app, ApiRequest::post("/api/v1/organisations").by(admin).json(json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": "ops@example.com",
        "vatNumber": vat,
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    }))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["slug"]["slugValue"].as_str().unwrap().to_owned()
}

async fn profile(env: &TestEnv, slug: &str) -> std::collections::HashMap<String, AttributeValue> {
    env.store()
        .get(Key::profile(&Slug::parse(slug).unwrap()))
        .await
        .unwrap()
        .unwrap()
}

async fn status(env: &TestEnv, slug: &str, admin: &TestUser) -> Value {
    send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/validation-status")).by(admin),
    )
    .await
    .body
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

/// Moves an organisation's next check to `at`.
async fn make_due(env: &TestEnv, slug: &str, at: chrono::DateTime<chrono::Utc>) {
    env.store()
        .client()
        .update_item()
        .table_name(&env.table)
        .set_key(Some(Key::profile(&Slug::parse(slug).unwrap()).into_item()))
        .update_expression("SET gsi1sk = :due")
        .expression_attribute_values(
            ":due",
            AttributeValue::S(shared::storage::keys::vat_check_due(at)),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn only_due_numbers_are_read_and_rescheduled() {
    let vies = FakeVies::start().await;
    // Created without VIES: PENDING and due at once.
    let env = TestEnv::new().await;
    let admin = TestUser::new("sched");
    let due_a = create(&env, &admin, "Due A", "NL004495445B01").await;
    let due_b = create(&env, &admin, "Due B", "DE136695976").await;
    let later = create(&env, &admin, "Later", "BE0403170701").await;
    let no_vat = send(&env.app, ApiRequest::post("/api/v1/organisations").by(&admin).json(json!({
        "organisationName": "No Vat", "organisationType": "TRIAL", "contactEmail": "x@example.com",
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    }))).await;
    assert_eq!(no_vat.status, 200);
    assert!(
        !profile(&env, no_vat.body["slug"]["slugValue"].as_str().unwrap())
            .await
            .contains_key("gsi1pk"),
        "no VAT number, not in the index"
    );
    make_due(&env, &later, chrono::Utc::now() + chrono::Duration::days(3)).await;

    let env = env.with_vies(&vies, Duration::from_secs(2));
    vies.answer("DE136695976", Vies::Invalid);
    let started = chrono::Utc::now();
    let report = vat_revalidation::run(&env.app, chrono::Utc::now(), far_future())
        .await
        .unwrap();
    assert_eq!(report.due, 2, "{report:?}");
    assert_eq!(report.checked, 2);
    assert_eq!(report.status_changed, 2);
    assert_eq!(vies.requests().len(), 2);

    assert_eq!(
        status(&env, &due_a, &admin).await["vatNumberVerificationStatus"],
        "VERIFIED"
    );
    assert_eq!(
        status(&env, &due_b, &admin).await["vatNumberVerificationStatus"],
        "UNVERIFIED"
    );
    assert_eq!(
        status(&env, &later, &admin).await["vatNumberVerificationStatus"],
        "PENDING"
    );
    for slug in [&due_a, &due_b] {
        let item = profile(&env, slug).await;
        let next = item["gsi1sk"].as_s().unwrap();
        let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
        let days = (next.with_timezone(&chrono::Utc) - started).num_hours();
        assert!(
            (30 * 24 - 1..=30 * 24).contains(&days),
            "next check in 30 days, got {days} h"
        );
    }
    // Each change is in the log, by the platform.
    let log = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{due_a}/activity")).by(&admin),
    )
    .await
    .body;
    assert_eq!(log["content"][0]["type"], "VAT_STATUS_CHANGED");
    assert_eq!(log["content"][0]["actor"]["type"], "SYSTEM");
    assert!(log["content"][0]["message"]
        .as_str()
        .unwrap()
        .contains("VERIFIED (was PENDING)"));

    // A second run finds nothing due: idempotent.
    let again = vat_revalidation::run(&env.app, chrono::Utc::now(), far_future())
        .await
        .unwrap();
    assert_eq!(again.due, 0);
    assert_eq!(vies.requests().len(), 2);
}

#[tokio::test]
async fn a_transient_fault_never_unverifies_and_backs_off() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_millis(500));
    let admin = TestUser::new("fault");
    let slug = create(&env, &admin, "Verified Org", "NL004495445B01").await;
    assert_eq!(
        status(&env, &slug, &admin).await["vatNumberVerificationStatus"],
        "VERIFIED"
    );

    // A month later VIES cannot answer.
    let now = chrono::Utc::now() + chrono::Duration::days(31);
    vies.answer("NL004495445B01", Vies::Fault200("MS_UNAVAILABLE"));
    let report = vat_revalidation::run(&env.app, now, far_future())
        .await
        .unwrap();
    assert_eq!(
        (report.due, report.unavailable, report.status_changed),
        (1, 1, 1)
    );
    let org = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}")).by(&admin),
    )
    .await
    .body;
    assert_eq!(
        org["vatCodeValidated"], true,
        "the last definite answer stands"
    );
    assert_eq!(
        status(&env, &slug, &admin).await["vatNumberVerificationStatus"],
        "UNAVAILABLE"
    );
    let next = profile(&env, &slug).await["gsi1sk"].as_s().unwrap().clone();
    let wait = chrono::DateTime::parse_from_rfc3339(&next)
        .unwrap()
        .with_timezone(&chrono::Utc)
        - now;
    assert!(
        wait <= chrono::Duration::hours(1) && wait > chrono::Duration::minutes(58),
        "retry in an hour: {wait}"
    );

    // Still failing two hours later: the wait doubles, the status does not change again.
    let later = now + chrono::Duration::hours(2);
    let report = vat_revalidation::run(&env.app, later, far_future())
        .await
        .unwrap();
    assert_eq!((report.due, report.status_changed), (1, 0));
    let next = profile(&env, &slug).await["gsi1sk"].as_s().unwrap().clone();
    let wait = chrono::DateTime::parse_from_rfc3339(&next)
        .unwrap()
        .with_timezone(&chrono::Utc)
        - later;
    assert!(
        wait > chrono::Duration::minutes(118) && wait <= chrono::Duration::hours(2),
        "{wait}"
    );

    // VIES is back: verified again.
    vies.answer(
        "NL004495445B01",
        Vies::Valid {
            name: "ACME",
            address: "HERE",
        },
    );
    let back = later + chrono::Duration::hours(3);
    let report = vat_revalidation::run(&env.app, back, far_future())
        .await
        .unwrap();
    assert_eq!(report.status_changed, 1);
    assert_eq!(
        status(&env, &slug, &admin).await["vatNumberVerificationStatus"],
        "VERIFIED"
    );
}

#[tokio::test]
async fn vies_is_asked_with_bounded_concurrency_per_member_state() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new().await;
    let admin = TestUser::new("crowd");
    let numbers = [
        "NL004495445B01",
        "NL814326584B01",
        "NL003376734B77",
        "NL000099998B57",
        "NL002455799B11",
        "DE136695976",
        "DE811363057",
        "DE113866163",
        "BE0403170701",
        "BE0462423150",
    ];
    for (i, vat) in numbers.iter().enumerate() {
        create(&env, &admin, &format!("Crowd {i}"), vat).await;
        vies.answer(vat, Vies::Slow(Duration::from_millis(150)));
    }
    let env = env.with_vies(&vies, Duration::from_secs(2));
    let report = vat_revalidation::run(&env.app, chrono::Utc::now(), far_future())
        .await
        .unwrap();
    assert_eq!(report.checked, numbers.len());
    for country in ["NL", "DE", "BE"] {
        let peak = vies.peak_concurrency(country);
        assert!(
            (1..=vat_revalidation::MAX_CONCURRENT_PER_STATE).contains(&peak),
            "{country}: {peak}"
        );
    }
    assert_eq!(
        vies.peak_concurrency("NL"),
        vat_revalidation::MAX_CONCURRENT_PER_STATE,
        "NL's five ran two at a time"
    );
    assert!(
        vies.peak_total_concurrency() > vat_revalidation::MAX_CONCURRENT_PER_STATE,
        "states run side by side"
    );
}

#[tokio::test]
async fn a_run_stops_at_its_deadline_and_leaves_the_rest_due() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new().await;
    let admin = TestUser::new("deadline");
    let slug = create(&env, &admin, "Late Org", "NL004495445B01").await;
    let env = env.with_vies(&vies, Duration::from_secs(2));
    let report = vat_revalidation::run(&env.app, chrono::Utc::now(), Instant::now())
        .await
        .unwrap();
    assert_eq!(
        (report.due, report.checked, report.left_for_next_run),
        (1, 0, 1)
    );
    assert!(vies.requests().is_empty());
    assert_eq!(
        status(&env, &slug, &admin).await["vatNumberVerificationStatus"],
        "PENDING"
    );
    let next = vat_revalidation::run(&env.app, chrono::Utc::now(), far_future())
        .await
        .unwrap();
    assert_eq!(next.checked, 1);
}

#[tokio::test]
async fn the_function_runs_from_the_schedule_event_fixture() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new().await;
    let admin = TestUser::new("fixture");
    create(&env, &admin, "Fixture Org", "NL004495445B01").await;
    let env = env.with_vies(&vies, Duration::from_secs(2));
    let fixture = std::fs::read_to_string(
        api_tests::dynamodb::repo_root().join("tests/events/vat-revalidation-schedule.json"),
    )
    .unwrap();
    let payload: Value = serde_json::from_str(&fixture).unwrap();
    let mut context = lambda_runtime::Context::default();
    context.deadline =
        u64::try_from((chrono::Utc::now() + chrono::Duration::minutes(5)).timestamp_millis())
            .unwrap();
    let report =
        ::vat_revalidation::handle(&env.app, lambda_runtime::LambdaEvent::new(payload, context))
            .await
            .unwrap();
    assert_eq!((report.due, report.checked), (1, 1));
}
