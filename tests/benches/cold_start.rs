//! Cold start of each function's release `bootstrap` against a local Lambda runtime API: the
//! time from exec to the first `GET /runtime/invocation/next` (ready: tracing, configuration and
//! the SDK clients built), and to the first response, with the process's peak memory.
//!
//! The floor is measured in the same run: `hello-lambda` (devtools), a hello-world
//! `lambda_runtime` function built with the same release profile. Runs are interleaved (one start
//! of every binary per round), so that the machine's load falls on all of them alike, and each
//! function's ready time is reported as a ratio to the floor's.
//!
//! `scripts/cold-start.sh` builds the release binaries (size-optimised, as deployed; x86_64 here,
//! arm64 in AWS) and runs this. The arm64 size is that of `target/lambda/<function>/bootstrap`
//! when `make package` has built it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::fake_http::{serve_async, FakeResponse};
use api_tests::ApiRequest;

const RUNS: usize = 15;

/// The floor: a hello-world `lambda_runtime` binary (devtools/src/bin/hello-lambda.rs).
const FLOOR: &str = "hello-lambda";

#[derive(Default)]
struct Timeline {
    ready: Option<Instant>,
    responded: Option<Instant>,
}

fn event_for(function: &str) -> String {
    match function {
        // A scheduled run: it fails at once on an unreachable DynamoDB, which is a response too.
        "vat-revalidation" | "platform-events" | FLOOR => "{}".to_owned(),
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

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1_048_576.0)
}

#[derive(Default)]
struct Samples {
    ready: Vec<Duration>,
    responded: Vec<Duration>,
    peak_kib: u64,
}

#[tokio::main]
async fn main() {
    let root = api_tests::dynamodb::repo_root();
    let release = root.join("target/release");
    let binaries: Vec<&str> = [
        FLOOR,
        "organisations",
        "members",
        "activity",
        "validation",
        "resources",
        "vat-revalidation",
        "platform-events",
    ]
    .into_iter()
    .filter(|name| release.join(name).is_file())
    .collect();
    if binaries.first() != Some(&FLOOR) {
        println!("target/release/{FLOOR} is missing: scripts/cold-start.sh builds it");
        return;
    }
    let mut samples: Vec<Samples> = binaries.iter().map(|_| Samples::default()).collect();
    for _ in 0..RUNS {
        for (name, s) in binaries.iter().zip(samples.iter_mut()) {
            if let Some((r, first, kib)) = one_run(&release.join(name), name).await {
                s.ready.push(r);
                s.responded.push(first);
                s.peak_kib = s.peak_kib.max(kib);
            }
        }
    }
    println!(
        "| function | bootstrap (x86_64) | bootstrap (arm64) | ready (median of {RUNS}) | vs floor | first response | peak memory |"
    );
    println!(
        "|----------|--------------------|-------------------|--------------------|----------|----------------|-------------|"
    );
    let floor = median(samples[0].ready.clone());
    for (name, s) in binaries.iter().zip(samples) {
        let x86 = std::fs::metadata(release.join(name)).map_or(0, |m| m.len());
        let arm = std::fs::metadata(root.join("target/lambda").join(name).join("bootstrap"))
            .map_or("-".to_owned(), |m| mib(m.len()));
        if s.ready.is_empty() {
            println!("| {name} | {} | {arm} | did not start | | | |", mib(x86));
            continue;
        }
        let ready = median(s.ready);
        println!(
            "| {name} | {} | {arm} | {ready:.1?} | {:.2}x | {:.1?} | {:.1} MiB |",
            mib(x86),
            ready.as_secs_f64() / floor.as_secs_f64(),
            median(s.responded),
            s.peak_kib as f64 / 1024.0
        );
    }
}
