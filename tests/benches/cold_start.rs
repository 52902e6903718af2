//! Cold start of each function's release `bootstrap` against a local Lambda runtime API: the
//! time from exec to the first `GET /runtime/invocation/next` (ready: tracing, configuration and
//! the SDK clients built), and to the first response, with the process's peak memory.
//!
//! `scripts/cold-start.sh` builds the release binaries (size-optimised, as deployed; x86_64 here,
//! arm64 in AWS) and runs this.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::fake_http::{serve_async, FakeResponse};
use api_tests::ApiRequest;

const RUNS: usize = 7;

#[derive(Default)]
struct Timeline {
    ready: Option<Instant>,
    responded: Option<Instant>,
}

fn event_for(function: &str) -> String {
    match function {
        // A scheduled run: it fails at once on an unreachable DynamoDB, which is a response too.
        "vat-revalidation" | "platform-events" => "{}".to_owned(),
        // No token: the function answers 401 without touching DynamoDB.
        _ => ApiRequest::get("/api/v1/organisations/acme-cloud")
            .event()
            .to_string(),
    }
}

async fn one_run(binary: &PathBuf, function: &str) -> Option<(Duration, Duration, u64)> {
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let event = event_for(function);
    let arn = format!("arn:aws:lambda:eu-west-1:123456789012:function:{function}");
    let t = timeline.clone();
    let api = serve_async(move |request| {
        let t = t.clone();
        let event = event.clone();
        let arn = arn.clone();
        async move {
            let now = Instant::now();
            if request.method == "GET" && request.path.ends_with("/runtime/invocation/next") {
                let first = {
                    let mut t = t.lock().expect("timeline");
                    let first = t.ready.is_none();
                    t.ready.get_or_insert(now);
                    first
                };
                if !first {
                    // The second poll waits until the process is stopped.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let mut response = FakeResponse::json(200, event);
                response.headers = vec![
                    (
                        "lambda-runtime-aws-request-id".into(),
                        "cold-start-1".into(),
                    ),
                    (
                        "lambda-runtime-deadline-ms".into(),
                        (chrono::Utc::now().timestamp_millis() + 30_000).to_string(),
                    ),
                    ("lambda-runtime-invoked-function-arn".into(), arn),
                    (
                        "lambda-runtime-trace-id".into(),
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                ];
                return response;
            }
            t.lock().expect("timeline").responded.get_or_insert(now);
            FakeResponse::json(202, "{}")
        }
    })
    .await;
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.trim_start_matches("http://"))
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cold-start")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "cold")
        .env("AWS_SECRET_ACCESS_KEY", "start")
        .env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
        .env("TABLE_NAME", "cold-start")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak_kib = kib
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(peak_kib);
            }
        }
        let done = timeline.lock().expect("timeline").responded.is_some();
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let t = timeline.lock().expect("timeline");
    Some((t.ready? - start, t.responded? - start, peak_kib))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let release = api_tests::dynamodb::repo_root().join("target/release");
    println!(
        "| function | bootstrap size | ready (median of {RUNS}) | first response | peak memory |"
    );
    println!("|----------|----------------|------------------|----------------|-------------|");
    for function in [
        "organisations",
        "members",
        "activity",
        "validation",
        "resources",
        "vat-revalidation",
        "platform-events",
    ] {
        let binary = release.join(function);
        let Ok(meta) = std::fs::metadata(&binary) else {
            continue;
        };
        let mut ready = Vec::new();
        let mut responded = Vec::new();
        let mut peak = 0;
        for _ in 0..RUNS {
            if let Some((r, first, kib)) = one_run(&binary, function).await {
                ready.push(r);
                responded.push(first);
                peak = peak.max(kib);
            }
        }
        if ready.is_empty() {
            println!("| {function} | | did not start | | |");
            continue;
        }
        println!(
            "| {function} | {:.1} MiB | {:.1?} | {:.1?} | {:.1} MiB |",
            meta.len() as f64 / 1_048_576.0,
            median(ready),
            median(responded),
            peak as f64 / 1024.0
        );
    }
}
