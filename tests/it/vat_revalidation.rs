//! The scheduled VAT re-validation: only due organisations are read, answers are recorded with
//! their next due time, a transient fault never unverifies, runs are idempotent and stop before
//! their deadline.

use shared::domain::Slug;
use shared::storage::keys::Key;
use std::time::{Duration, Instant};

use api_tests::vies::{seed_vat_schedule, FakeVies, Vies};
use api_tests::{send, ApiRequest, TestEnv, TestUser};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::domain::verification::VatStatus;
use shared::vat_revalidation::{self, RunOptions};

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
    assert_eq!(report.seen, 2, "{report:?}");
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
    assert_eq!(again.seen, 0);
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
        (report.seen, report.unavailable, report.status_changed),
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
    assert_eq!((report.seen, report.status_changed), (1, 0));
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
        (report.seen, report.checked, report.stopped_at_deadline),
        (0, 0, true),
        "nothing is read after the deadline"
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
    assert_eq!((report.seen, report.checked), (1, 1));
}

/// `count` organisations with a VAT number (NL, DE and BE in turn), the `i`th due `count - i`
/// minutes ago: the most overdue first.
async fn seed_due(env: &TestEnv, prefix: &str, count: usize) -> Vec<Slug> {
    let now = chrono::Utc::now();
    let numbers = ["NL004495445B01", "DE136695976", "BE0403170701"];
    seed_vat_schedule(env, prefix, &numbers, count, |i| {
        now - chrono::Duration::minutes((count - i) as i64)
    })
    .await
}

async fn verified(env: &TestEnv, slug: &Slug) -> bool {
    let organisation = env.store().organisation(slug).await.unwrap().unwrap();
    organisation.verification.vat_status == Some(VatStatus::Verified)
}

#[tokio::test]
async fn the_index_is_read_a_page_per_shard_most_overdue_first() {
    let env = TestEnv::new().await;
    let slugs = seed_due(&env, "paged", 30).await;
    // Held at most 4 read and not taken, or one per shard (8) if that is more.
    let mut due = env.store().vat_checks_due(chrono::Utc::now(), 4);
    let mut taken = Vec::new();
    while let Some(organisation) = due.next().await.unwrap() {
        assert!(
            due.held() < 8,
            "one page of one item per shard: {}",
            due.held()
        );
        taken.push(organisation.slug);
    }
    assert_eq!(
        taken, slugs,
        "all of them, most overdue first, across the shards"
    );
    assert_eq!(due.read(), 30);
    // Pages of one: every item is its own Query, so the shards' pages were merged.
    let shards: std::collections::HashSet<u32> = slugs
        .iter()
        .map(shared::storage::keys::vat_check_shard)
        .collect();
    assert!(
        shards.len() > 4,
        "the copies fall into most shards: {shards:?}"
    );
}

#[tokio::test]
async fn more_due_than_a_chunk_are_all_checked_and_a_deadline_leaves_the_rest_due() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new().await;
    let slugs = seed_due(&env, "chunked", 40).await;
    let options = RunOptions { chunk: 4 };
    // Bounded: 4 read ahead at most (one per shard: 8, if more) and 4 started.
    let bound = options.chunk + options.chunk.max(8);
    // The deadline leaves room for reading the first pages on this machine as loaded as it is
    // now; each VIES answer takes longer than that, so the first 4 started are the last.
    let span = {
        let reading = Instant::now();
        let mut due = env
            .store()
            .vat_checks_due(chrono::Utc::now(), options.chunk);
        assert!(due.next().await.unwrap().is_some());
        reading.elapsed() * 3 + Duration::from_secs(2)
    };
    let numbers = ["NL004495445B01", "DE136695976", "BE0403170701"];
    for vat in numbers {
        vies.answer(vat, Vies::Slow(span + Duration::from_secs(1)));
    }
    let env = env.with_vies(&vies, span + Duration::from_secs(30));

    let first =
        vat_revalidation::run_with(&env.app, chrono::Utc::now(), Instant::now() + span, options)
            .await
            .unwrap();
    assert!(first.stopped_at_deadline, "{first:?}");
    assert!(
        (1..=options.chunk).contains(&first.checked),
        "the first chunk before the deadline: {first:?}"
    );
    assert!(first.held_at_most <= bound, "{first:?}");
    assert_eq!(first.checked, vies.requests().len());
    assert_eq!(
        first.seen,
        first.checked + first.left_for_next_run,
        "{first:?}"
    );
    let mut done = Vec::new();
    for slug in &slugs {
        done.push(verified(&env, slug).await);
    }
    assert_eq!(
        done.iter().filter(|v| **v).count(),
        first.checked,
        "the others are still PENDING"
    );
    assert!(
        done.iter().take(first.checked).all(|v| *v),
        "the most overdue were started first: {done:?}"
    );

    // The next run takes the rest, chunk after chunk (VIES answers at once now).
    for vat in numbers {
        vies.answer(
            vat,
            Vies::Valid {
                name: "ACME",
                address: "HERE",
            },
        );
    }
    let second = vat_revalidation::run_with(&env.app, chrono::Utc::now(), far_future(), options)
        .await
        .unwrap();
    assert_eq!(
        (second.seen, second.checked, second.left_for_next_run),
        (40 - first.checked, 40 - first.checked, 0),
        "{second:?}"
    );
    assert!(!second.stopped_at_deadline);
    assert!(second.held_at_most <= bound, "{second:?}");
    assert_eq!(vies.requests().len(), 40, "each asked once");
    for slug in &slugs {
        assert!(verified(&env, slug).await, "{slug:?}");
    }
    let third = vat_revalidation::run_with(&env.app, chrono::Utc::now(), far_future(), options)
        .await
        .unwrap();
    assert_eq!((third.seen, third.checked), (0, 0));
}

/// The ETag changes whenever any field of the organisation body does: a re-validation that
/// finds the number valid again keeps the revision but rewrites `vatCodeValidatedAt`, and a
/// client holding the old tag gets the new body (200), never a stale 304.
#[tokio::test]
async fn a_revalidation_that_rewrites_the_body_changes_the_etag() {
    let vies = FakeVies::start().await;
    let env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    let admin = TestUser::new("etag-vat");
    let slug = create(&env, &admin, "Etag Vat", "NL004495445B01").await;
    let path = format!("/api/v1/organisations/{slug}");
    let first = send(&env.app, ApiRequest::get(&path).by(&admin)).await;
    assert_eq!(first.status, 200);
    let tag = first.headers["etag"].to_str().unwrap().to_owned();
    let validated_at = first.body["vatCodeValidatedAt"].clone();
    assert!(validated_at.is_string(), "{}", first.body);
    let unchanged = send(
        &env.app,
        ApiRequest::get(&path)
            .by(&admin)
            .header("if-none-match", &tag),
    )
    .await;
    assert_eq!(unchanged.status, 304);

    tokio::time::sleep(Duration::from_millis(20)).await;
    make_due(
        &env,
        &slug,
        chrono::Utc::now() - chrono::Duration::minutes(1),
    )
    .await;
    let report = vat_revalidation::run(&env.app, chrono::Utc::now(), far_future())
        .await
        .unwrap();
    assert_eq!(report.checked, 1, "{report:?}");
    let again = send(
        &env.app,
        ApiRequest::get(&path)
            .by(&admin)
            .header("if-none-match", &tag),
    )
    .await;
    assert_eq!(again.status, 200, "a stale copy was served as current");
    assert_ne!(again.body["vatCodeValidatedAt"], validated_at);
    let new_tag = again.headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    // A PATCH under the old tag is refused: the body changed since it was read.
    let stale = send(
        &env.app,
        ApiRequest::patch(&path)
            .by(&admin)
            .header("if-match", &tag)
            .json(json!({"organisationName": "Etag Vat Two"})),
    )
    .await;
    assert_eq!(stale.status, 412, "{}", stale.body);
}
