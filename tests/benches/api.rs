//! `make bench`: DynamoDB round trips per request and latency against DynamoDB Local, printed
//! as a table. Latency is reported as a ratio to one raw GetItem on the same DynamoDB Local,
//! because absolute times on a shared 2-core machine are noise; round trips are exact.
//!
//! `make bench` starts DynamoDB Local; `cargo bench -p api-tests --bench api -- <filter>` runs the
//! sections whose name contains the filter.

use std::time::{Duration, Instant};

use api_tests::events::Reply;
use api_tests::{ApiRequest, TestEnv, TestUser};
use serde_json::json;
use shared::storage::key;

const SAMPLES: usize = 200;

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
            .get(key("ORG#baseline", "PROFILE"))
            .await
            .expect("GetItem");
    })
    .await
}

async fn organisations_section() {
    let env = TestEnv::new().await;
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

#[tokio::main]
async fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    println!("DynamoDB Local at {}", api_tests::dynamodb::endpoint());
    if wanted("organisations") {
        organisations_section().await;
    }
}
