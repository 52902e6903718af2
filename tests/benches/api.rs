//! `make bench`: DynamoDB round trips per request and latency against DynamoDB Local, printed
//! as a table. Latency is reported as a ratio to one raw GetItem on the same DynamoDB Local,
//! because absolute times on a shared 2-core machine are noise; round trips are exact.
//!
//! `make bench` starts DynamoDB Local; `cargo bench -p api-tests --bench api -- <filter>` runs the
//! sections whose name contains the filter. The section `routes` (`latency/mod.rs`) is every
//! route through the delay proxy: `-- routes`, or `-- routes:<part of a route's name>`;
//! `--without-routes` leaves it out (scripts/bench.sh runs it on a DynamoDB Local of its own).

use std::time::{Duration, Instant};

use api_tests::events::Reply;
use api_tests::{ApiRequest, TestEnv, TestUser};
use serde_json::json;
use shared::domain::Slug;
use shared::storage::entities::ActivityEntry;
use shared::storage::keys::Key;

mod latency;

const SAMPLES: usize = 200;

#[derive(Clone, Copy)]
struct Figures {
    median: Duration,
    p95: Duration,
    round_trips: f64,
}

async fn measure<F, Fut>(env: &TestEnv, samples: usize, mut run: F) -> Figures
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Warm up connections and the JIT of DynamoDB Local.
    for i in 0..20 {
        run(samples + i).await;
    }
    let mut times = Vec::with_capacity(samples);
    env.round_trips.reset();
    for i in 0..samples {
        let start = Instant::now();
        run(i).await;
        times.push(start.elapsed());
    }
    let round_trips = env.round_trips.get() as f64 / samples as f64;
    times.sort();
    Figures {
        median: times[samples / 2],
        p95: times[samples * 95 / 100],
        round_trips,
    }
}

fn row(name: &str, figures: &Figures, baseline: &Figures) {
    println!(
        "| {name:<44} | {:>11.2} | {:>9.2?} | {:>9.2?} | {:>13.2}x |",
        figures.round_trips,
        figures.median,
        figures.p95,
        figures.median.as_secs_f64() / baseline.median.as_secs_f64()
    );
}

fn header(title: &str) {
    println!("\n### {title}\n");
    println!(
        "| {:<44} | round trips | median    | p95       | vs GetItem     |",
        "request"
    );
    println!(
        "|{:-<46}|{:-<13}|{:-<11}|{:-<11}|{:-<16}|",
        "", "", "", "", ""
    );
}

async fn call(env: &TestEnv, request: ApiRequest) -> Reply {
    Reply::from_response(organisations::handle(&env.app, request.build()).await)
}

fn create_body(name: &str) -> serde_json::Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": "ops@example.com",
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    })
}

async fn raw_get_item(env: &TestEnv) -> Figures {
    measure(env, SAMPLES, |_| async {
        env.store()
            .get(Key::profile(&Slug::parse("baseline").expect("slug")))
            .await
            .expect("GetItem");
    })
    .await
}

async fn organisations_section() {
    let env = bench_env().await;
    let admin = TestUser::new("bench");
    let baseline = raw_get_item(&env).await;
    header("Organisations (`organisations` function)");
    row("raw GetItem (baseline)", &baseline, &baseline);

    let created = call(
        &env,
        ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(create_body("Bench Org")),
    )
    .await;
    let slug = created.body["slug"]["slugValue"]
        .as_str()
        .expect("slug")
        .to_owned();
    let path = format!("/api/v1/organisations/{slug}");

    let get = measure(&env, SAMPLES, |_| async {
        let reply = call(&env, ApiRequest::get(&path).by(&admin)).await;
        assert_eq!(reply.status, 200);
    })
    .await;
    row("GET /organisations/{slug}", &get, &baseline);

    let patch = measure(&env, SAMPLES, |i| {
        let body = json!({"organisationName": format!("Bench Org {i}")});
        let request = ApiRequest::patch(&path).by(&admin).json(body);
        let env = &env;
        async move {
            let reply = call(env, request).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    })
    .await;
    row("PATCH /organisations/{slug}", &patch, &baseline);

    let create = measure(&env, SAMPLES, |i| {
        let request = ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(create_body(&format!("Fresh Org {i}")));
        let env = &env;
        async move {
            assert_eq!(call(env, request).await.status, 200);
        }
    })
    .await;
    row("POST /organisations (free slug)", &create, &baseline);

    let collide = measure(&env, 40, |_| {
        let request = ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(create_body("Bench Org"));
        let env = &env;
        async move {
            assert_eq!(call(env, request).await.status, 200);
        }
    })
    .await;
    row(
        "POST /organisations (name taken many times)",
        &collide,
        &baseline,
    );
}

async fn members_section() {
    let env = bench_env().await;
    let admin = TestUser::new("bench");
    let baseline = raw_get_item(&env).await;
    header("Members (`members` function)");
    row("raw GetItem (baseline)", &baseline, &baseline);

    let mut list_of_10 = None;
    for (i, total) in [10usize, 100, 1000].into_iter().enumerate() {
        let created = api_tests::send(
            &env.app,
            ApiRequest::post("/api/v1/organisations")
                .by(&admin)
                .json(create_body(&format!("Members Org {i}"))),
        )
        .await;
        let slug = created.body["slug"]["slugValue"]
            .as_str()
            .expect("slug")
            .to_owned();
        let members = format!("/api/v1/organisations/{slug}/members");
        for m in 1..total {
            let reply = api_tests::send(
                &env.app,
                ApiRequest::post(&members)
                    .by(&admin)
                    .json(json!({"email": format!("m{m}@example.com"), "role": "viewer"})),
            )
            .await;
            assert_eq!(reply.status, 200);
        }
        let list = measure(&env, 100, |_| async {
            let reply = api_tests::send(&env.app, ApiRequest::get(&members).by(&admin)).await;
            assert_eq!(reply.body["totalElements"], total);
        })
        .await;
        let reference = *list_of_10.get_or_insert(list);
        row(
            &format!("GET .../members ({total} members, page of 50)"),
            &list,
            &baseline,
        );
        println!(
            "|   ratio to listing 10 members                |             |           |           | {:>13.2}x |",
            list.median.as_secs_f64() / reference.median.as_secs_f64()
        );
        if total == 10 {
            let me_path = format!("/api/v1/organisations/{slug}/me");
            let me = measure(&env, SAMPLES, |_| async {
                let reply = api_tests::send(&env.app, ApiRequest::get(&me_path).by(&admin)).await;
                assert_eq!(reply.status, 200);
            })
            .await;
            row("GET .../me", &me, &baseline);
            let add = measure(&env, SAMPLES, |n| {
                let request = ApiRequest::post(&members)
                    .by(&admin)
                    .json(json!({"email": format!("extra{n}@example.com"), "role": "viewer"}));
                let env = &env;
                async move {
                    assert_eq!(api_tests::send(&env.app, request).await.status, 200);
                }
            })
            .await;
            row("POST .../members", &add, &baseline);
            let page = api_tests::send(
                &env.app,
                ApiRequest::get(&format!("{members}?size=100&sort=email")).by(&admin),
            )
            .await;
            let identities: Vec<String> = page.body["content"]
                .as_array()
                .expect("content")
                .iter()
                .filter(|m| {
                    m["email"]["email"]
                        .as_str()
                        .is_some_and(|e| e.starts_with("extra"))
                })
                .map(|m| m["identity"].as_str().expect("identity").to_owned())
                .collect();
            let remove = measure(&env, identities.len() - 20, |n| {
                let request =
                    ApiRequest::delete(&format!("{members}/{}", identities[n])).by(&admin);
                let env = &env;
                async move {
                    assert_eq!(api_tests::send(&env.app, request).await.status, 204);
                }
            })
            .await;
            row("DELETE .../members/{identity}", &remove, &baseline);
        }
    }
}

async fn activity_section() {
    use aws_sdk_dynamodb::types::AttributeValue;
    const EVENTS: u64 = 100_000;
    let env = bench_env().await;
    let admin = TestUser::new("bench");
    let baseline = raw_get_item(&env).await;
    let created = api_tests::send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(create_body("Busy Log")),
    )
    .await;
    let slug = created.body["slug"]["slugValue"]
        .as_str()
        .expect("slug")
        .to_owned();
    // Seed 100,000 events directly (as 100,000 changes would have left them), then move the
    // revision to match.
    let event = shared::domain::activity::ActivityEvent::new(
        shared::domain::activity::ActivityType::OrganisationUpdated,
        shared::domain::activity::Actor::system(),
        "seeded".to_owned(),
        chrono::Utc::now(),
    );
    let started = Instant::now();
    let seqs: Vec<u64> = (2..=EVENTS).collect();
    let entries: Vec<ActivityEntry<'_>> = seqs
        .iter()
        .map(|seq| ActivityEntry {
            seq: *seq,
            event: &event,
        })
        .collect();
    let org_slug = Slug::parse(&slug).expect("slug");
    env.store()
        .seed_all(&entries, &org_slug)
        .await
        .expect("seed");
    env.store()
        .client()
        .update_item()
        .table_name(&env.table)
        .set_key(Some(Key::profile(&org_slug).into_item()))
        .update_expression("SET revision = :r")
        .expression_attribute_values(":r", AttributeValue::N(EVENTS.to_string()))
        .send()
        .await
        .expect("set revision");
    println!("\n(seeded {EVENTS} events in {:.1?})", started.elapsed());
    header("Activity (`activity` function), 100,000 events, pages of 50");
    row("raw GetItem (baseline)", &baseline, &baseline);
    let path = format!("/api/v1/organisations/{slug}/activity");
    let mut page0 = None;
    for (label, query) in [
        ("page 0 (newest)", "?page=0"),
        ("page 1000", "?page=1000"),
        ("last page (1999)", "?page=1999"),
        ("page 1000, ascending", "?page=1000&sort=createdAt,asc"),
    ] {
        let url = format!("{path}{query}");
        let figures = measure(&env, SAMPLES, |_| async {
            let reply = api_tests::send(&env.app, ApiRequest::get(&url).by(&admin)).await;
            assert_eq!(reply.body["numberOfElements"], 50);
        })
        .await;
        let reference = *page0.get_or_insert(figures);
        row(&format!("GET .../activity {label}"), &figures, &baseline);
        println!(
            "|   ratio to page 0                            |             |           |           | {:>13.2}x |",
            figures.median.as_secs_f64() / reference.median.as_secs_f64()
        );
    }
    println!("\nItems read per page: 2 (BatchGet: profile, membership) + 50 (Query BETWEEN two keys 50 apart).");
}

/// Writes `total` organisations with a VAT number, `due` of them due now, the others in a week.
async fn seed_vat_schedule(env: &TestEnv, total: usize, due: usize) {
    let now = chrono::Utc::now();
    api_tests::vies::seed_vat_schedule(env, "seeded", &["NL004495445B01"], total, |i| {
        if i < due {
            now - chrono::Duration::hours(1)
        } else {
            now + chrono::Duration::days(7)
        }
    })
    .await;
}

async fn vat_revalidation_section() {
    let vies = api_tests::vies::FakeVies::start().await;
    println!("\n### VAT re-validation (`vat-revalidation` function), fake VIES on loopback\n");
    println!(
        "| organisations | due | index items read | VIES requests | wall time | vs 100 of 100 |"
    );
    println!(
        "|---------------|-----|------------------|---------------|-----------|---------------|"
    );
    let mut reference = None;
    for (total, due) in [(100usize, 100usize), (10_000, 100)] {
        let env = TestEnv::new()
            .await
            .with_vies(&vies, std::time::Duration::from_secs(2));
        seed_vat_schedule(&env, total, due).await;
        let asked_before = vies.requests().len();
        let started = Instant::now();
        let report = shared::vat_revalidation::run(
            &env.app,
            chrono::Utc::now(),
            Instant::now() + Duration::from_secs(600),
        )
        .await
        .expect("run");
        let elapsed = started.elapsed();
        assert_eq!(report.checked, due);
        let reference = *reference.get_or_insert(elapsed);
        println!(
            "| {total:>13} | {due:>3} | {:>16} | {:>13} | {:>9.1?} | {:>12.2}x |",
            report.seen,
            vies.requests().len() - asked_before,
            elapsed,
            elapsed.as_secs_f64() / reference.as_secs_f64()
        );
    }
}

/// `org`'s share of a platform events batch: 100 events of every kind, about 40 clusters.
fn platform_events_of(org: &str) -> Vec<String> {
    use api_tests::platform::event;
    use shared::domain::platform::EventKind;
    let at = |minute: usize| format!("2026-11-28T{:02}:{:02}:00Z", 8 + minute / 60, minute % 60);
    let mut bodies = Vec::with_capacity(100);
    for c in 0..40 {
        let size = json!({"clusterId": format!("c-{c}"), "cpuMillicores": 2000, "memoryMib": 4096});
        bodies.push(event(EventKind::ClusterCreated, org, &at(c), size));
    }
    for c in 0..20 {
        let size = json!({"clusterId": format!("c-{c}"), "cpuMillicores": 4000, "memoryMib": 8192});
        bodies.push(event(EventKind::ClusterResized, org, &at(100 + c), size));
    }
    for c in 20..30 {
        let id = json!({"clusterId": format!("c-{c}")});
        bodies.push(event(EventKind::ClusterDeleted, org, &at(200 + c), id));
    }
    for n in 0..10 {
        let account = json!({"cloudAccountId": format!("ca-{n}")});
        bodies.push(event(
            EventKind::CloudAccountConfigured,
            org,
            &at(n),
            account,
        ));
        let tenant = json!({"monitoringTenantId": format!("mt-{n}")});
        bodies.push(event(
            EventKind::MonitoringTenantActivated,
            org,
            &at(n),
            tenant,
        ));
    }
    for n in 0..5 {
        let method = json!({"paymentMethodId": format!("pm-{n}")});
        bodies.push(event(EventKind::PaymentMethodAttached, org, &at(n), method));
    }
    for n in 0..3 {
        let method = json!({"paymentMethodId": format!("pm-{n}")});
        bodies.push(event(
            EventKind::PaymentMethodDetached,
            org,
            &at(300 + n),
            method,
        ));
    }
    for n in 0..2 {
        let quotas = json!({"quotas": {"clustersPerCustomer": 50 + n, "clustersPerEnvironment": null,
            "environmentsPerCustomer": null, "nodePoolsPerCluster": null,
            "nodesPerCluster": 200, "nodesPerNodePool": null}});
        bodies.push(event(
            EventKind::QuotasOverridden,
            org,
            &at(400 + n),
            quotas,
        ));
    }
    bodies
}

async fn platform_events_section() {
    use api_tests::platform::{batch, deliver};
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let env = bench_env().await;
    let admin = TestUser::new("bench");
    let baseline = raw_get_item(&env).await;
    println!("\n### Platform events (`platform-events` function), one SQS batch of 1,000 events\n");
    println!("| batch                                        | events/s | time      | round trips | per event | vs GetItem per event |");
    println!(
        "|{:-<46}|{:-<10}|{:-<11}|{:-<13}|{:-<11}|{:-<22}|",
        "", "", "", "", "", ""
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000);
    for (label, organisations) in [
        ("1,000 events of 10 organisations", 10),
        ("1,000 events of 1 organisation", 1),
    ] {
        let mut bodies = Vec::new();
        let per_org = 1000 / organisations;
        for o in 0..organisations {
            let slug = api_tests::create_organisation(
                &env.app,
                &admin,
                &format!("Events {organisations} {o}"),
                "BUSINESS",
            )
            .await;
            let events = platform_events_of(&slug);
            bodies.extend(
                events
                    .iter()
                    .cycle()
                    .take(per_org)
                    .enumerate()
                    .map(|(i, body)| {
                        // One organisation gets its 100 kinds of events ten times over, as distinct
                        // resources of the same shape.
                        body.replace("\"c-", &format!("\"c{}-", i / 100))
                            .replace("\"ca-", &format!("\"ca{}-", i / 100))
                            .replace("\"mt-", &format!("\"mt{}-", i / 100))
                            .replace("\"pm-", &format!("\"pm{}-", i / 100))
                    }),
            );
        }
        bodies.shuffle(&mut rng);
        for (pass, bodies) in [("", bodies.clone()), (", redelivered", bodies)] {
            let (event, _) = batch(bodies);
            env.round_trips.reset();
            let started = Instant::now();
            let failures = deliver(&env.app, event).await;
            let elapsed = started.elapsed();
            assert!(failures.is_empty(), "{failures:?}");
            let round_trips = env.round_trips.get();
            println!(
                "| {:<44} | {:>8.0} | {:>9.2?} | {:>11} | {:>9.3} | {:>19.2}x |",
                format!("{label}{pass}"),
                1000.0 / elapsed.as_secs_f64(),
                elapsed,
                round_trips,
                round_trips as f64 / 1000.0,
                elapsed.as_secs_f64() / 1000.0 / baseline.median.as_secs_f64()
            );
        }
    }
    println!(
        "\nraw GetItem (baseline): median {:.2?}. A redelivered batch is all duplicates: read, never written.",
        baseline.median
    );
}

/// `user` a member of `count` more organisations, seeded straight into the table (profile and
/// member item, as a create writes them): the list's cost does not depend on how they came.
async fn seed_memberships(env: &TestEnv, user: &TestUser, from: usize, count: usize) {
    use shared::domain::member::{KubernetesRole, Member, Role};
    use shared::domain::organisation::{Organisation, OrganisationName, OrganisationType};
    use shared::domain::{Email, Subject};
    let now = chrono::Utc::now();
    for n in from..from + count {
        let slug = Slug::parse(&format!("member-of-{n}")).expect("slug");
        let organisation = Organisation {
            identity: uuid::Uuid::new_v4(),
            slug: slug.clone(),
            name: OrganisationName::parse("n", &format!("Member Of {n}")).expect("name"),
            organisation_type: OrganisationType::Business,
            contact_email: Email::parse("e", "ops@example.com").expect("e-mail"),
            billing_email: None,
            company_name: None,
            company_address: None,
            phone_number: None,
            vat_code: None,
            vat_code_validated: false,
            vat_code_validated_at: None,
            accepted_terms: true,
            accepted_terms_at: Some(now),
            accepted_agreements: vec!["privacy-policy".into(), "terms-of-service".into()],
            restricted_to_available_cloud_providers: false,
            restricted_override: None,
            created_at: now,
            revision: 1,
            admin_count: 1,
            verification: Default::default(),
            vat_next_check_at: None,
            profile_writes: 0,
            mails_sent: Default::default(),
            vat_changes: Vec::new(),
        };
        let member = Member {
            identity: uuid::Uuid::new_v4(),
            email: Some(Email::parse("e", user.email()).expect("e-mail")),
            username: Some(user.username.clone()),
            role: Role::Admin,
            kubernetes_role: KubernetesRole::ClusterAdmin,
            subject: Subject::parse(&user.sub),
            joined_at: now + chrono::Duration::milliseconds(n as i64),
            invitation: None,
        };
        env.store()
            .seed(&organisation, &slug)
            .await
            .expect("profile");
        env.store().seed(&member, &slug).await.expect("member");
    }
}

async fn memberships_section() {
    let env = bench_env().await;
    let user = TestUser::new("bench");
    let baseline = raw_get_item(&env).await;
    header("The caller's organisations (`GET /api/v1/memberships`, `members` function)");
    row("raw GetItem (baseline)", &baseline, &baseline);
    let mut seeded = 0;
    for total in [1usize, 100, 1000] {
        seed_memberships(&env, &user, seeded, total - seeded).await;
        seeded = total;
        let last_page = (total - 1) / 50;
        for (label, page) in [("first page", 0), ("last page", last_page)] {
            if label == "last page" && last_page == 0 {
                continue;
            }
            let path = format!("/api/v1/memberships?page={page}");
            let figures = measure(&env, 50, |_| async {
                let reply = api_tests::send(&env.app, ApiRequest::get(&path).by(&user)).await;
                assert_eq!(reply.status, 200);
                assert_eq!(reply.body["totalElements"], total);
            })
            .await;
            row(
                &format!("{total} memberships, {label} (50)"),
                &figures,
                &baseline,
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    println!("DynamoDB Local at {}", api_tests::dynamodb::endpoint());
    if wanted("organisations") {
        organisations_section().await;
    }
    if wanted("members") {
        members_section().await;
    }
    if wanted("memberships") {
        memberships_section().await;
    }
    if wanted("activity") {
        activity_section().await;
    }
    if wanted("vat_revalidation") {
        vat_revalidation_section().await;
    }
    if wanted("platform_events") {
        platform_events_section().await;
    }
    // Every route through the delay proxy; `-- routes` alone, `-- routes:<part of a name>` for
    // some of them.
    let without_routes = std::env::args().any(|a| a == "--without-routes");
    let routes = filter.as_deref().map_or(Some(None), |f| {
        f.strip_prefix("routes").map(|rest| rest.strip_prefix(':'))
    });
    if let (Some(routes), false) = (routes, without_routes) {
        latency::section(routes).await;
    }
}

/// A test environment without the per-user limit on creates: the benches create hundreds of
/// organisations as one user (the limit has its own tests in tests/it/plans.rs).
async fn bench_env() -> TestEnv {
    let mut env = TestEnv::new().await;
    env.app.max_organisations_per_user_per_day = usize::MAX;
    // The members section invites 1,000 people to one organisation.
    env.app.max_pending_invitations = u32::MAX;
    env
}
