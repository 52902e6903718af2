//! Cold start of each function's release `bootstrap` against a local Lambda runtime API: the
//! time from exec to the first `GET /runtime/invocation/next` (ready: tracing, configuration and
//! the SDK clients built), and to the first response, with the process's peak memory.
//!
//! The floor is measured in the same run: `hello-lambda` (tests/floor), a hello-world
//! `lambda_runtime` function built with the same release profile. Runs are interleaved (one start
//! of every binary per round), so that the machine's load falls on all of them alike, and each
//! function's ready time is reported as a ratio to the floor's.
//!
//! `scripts/cold-start.sh` builds the release binaries (size-optimised, as deployed; x86_64 here,
//! arm64 in AWS) and runs this. The binaries are read from `$CARGO_TARGET_DIR/release` (default
//! `target/release`); every function of `functions/` found there is started. The arm64 size is
//! that of `<target dir>/lambda/<function>/bootstrap` when `make package` has built it.
//!
//! `COLD_START_SETS=before=/some/dir,after=/other/dir` compares sets of binaries (each with its
//! own `hello-lambda`, built with that set's profile) in one run, interleaved; each set's ready
//! times are given as a ratio to its own floor.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::fake_http::{serve_async, FakeResponse};
use api_tests::ApiRequest;

const RUNS: usize = 15;

/// The floor: a hello-world `lambda_runtime` binary (tests/floor).
const FLOOR: &str = "hello-lambda";

#[derive(Default)]
struct Timeline {
    ready: Option<Instant>,
    responded: Option<Instant>,
}

fn event_for(function: &str) -> String {
    match function {
        // A scheduled run: it fails at once on an unreachable DynamoDB, which is a response too.
        "vat-revalidation" | "platform-events" | "event-publisher" | "purge-sweeper" | FLOOR => {
            "{}".to_owned()
        }
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
        .env("EVENT_BUS_NAME", "cold-start")
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

/// The binaries of one set: a label, its directory, the arm64 directory (`lambda/`), and the
/// names found there, the floor first.
struct Set {
    label: String,
    dir: PathBuf,
    arm64: PathBuf,
    names: Vec<String>,
}

fn sets() -> Vec<Set> {
    let root = api_tests::dynamodb::repo_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |dir| root.join(dir));
    let mut functions: Vec<String> = std::fs::read_dir(root.join("functions"))
        .map(|entries| {
            entries
                .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    functions.sort();
    let wanted: Vec<(String, PathBuf)> = match std::env::var("COLD_START_SETS") {
        Ok(spec) if !spec.is_empty() => spec
            .split(',')
            .filter_map(|s| s.split_once('='))
            .map(|(label, dir)| (label.to_owned(), root.join(dir)))
            .collect(),
        _ => vec![(String::new(), target.join("release"))],
    };
    wanted
        .into_iter()
        .map(|(label, dir)| {
            let names = std::iter::once(FLOOR.to_owned())
                .chain(functions.iter().cloned())
                .filter(|name| dir.join(name).is_file())
                .collect();
            let arm64 = match label.as_str() {
                "" => target.join("lambda"),
                _ => dir.join("lambda"),
            };
            Set {
                label,
                dir,
                arm64,
                names,
            }
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let sets = sets();
    if let Some(set) = sets
        .iter()
        .find(|s| s.names.first().map(String::as_str) != Some(FLOOR))
    {
        println!(
            "{}/{FLOOR} is missing: scripts/cold-start.sh builds it",
            set.dir.display()
        );
        return;
    }
    let mut samples: Vec<Vec<Samples>> = sets
        .iter()
        .map(|set| set.names.iter().map(|_| Samples::default()).collect())
        .collect();
    for _ in 0..RUNS {
        for (set, samples) in sets.iter().zip(samples.iter_mut()) {
            for (name, s) in set.names.iter().zip(samples.iter_mut()) {
                if let Some((r, first, kib)) = one_run(&set.dir.join(name), name).await {
                    s.ready.push(r);
                    s.responded.push(first);
                    s.peak_kib = s.peak_kib.max(kib);
                }
            }
        }
    }
    println!(
        "| function | bootstrap (x86_64) | bootstrap (arm64) | ready (median of {RUNS}) | vs floor | first response | peak memory |"
    );
    println!(
        "|----------|--------------------|-------------------|--------------------|----------|----------------|-------------|"
    );
    for (set, samples) in sets.iter().zip(samples) {
        let floor = median(samples[0].ready.clone());
        for (name, s) in set.names.iter().zip(samples) {
            let label = match set.label.as_str() {
                "" => name.clone(),
                label => format!("{name} ({label})"),
            };
            let x86 = std::fs::metadata(set.dir.join(name)).map_or(0, |m| m.len());
            let arm = std::fs::metadata(set.arm64.join(name).join("bootstrap"))
                .map_or("-".to_owned(), |m| mib(m.len()));
            if s.ready.is_empty() {
                println!("| {label} | {} | {arm} | did not start | | | |", mib(x86));
                continue;
            }
            let ready = median(s.ready);
            println!(
                "| {label} | {} | {arm} | {ready:.1?} | {:.2}x | {:.1?} | {:.1} MiB |",
                mib(x86),
                ready.as_secs_f64() / floor.as_secs_f64(),
                median(s.responded),
                s.peak_kib as f64 / 1024.0
            );
        }
    }
}
