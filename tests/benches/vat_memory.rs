//! Peak memory of the VAT re-validation job against the number of due organisations: the release
//! `vat-revalidation` bootstrap, started against a local Lambda runtime API (as
//! `cold_start.rs` does) with DynamoDB Local and a fake VIES that answers at once, runs one
//! scheduled invocation over a fresh table with N due organisations (written straight into the
//! table). Peak memory is the process's `VmHWM` (peak resident set) read from `/proc` after its
//! response, before it is stopped.
//!
//! `scripts/vat-memory.sh [N ...]` builds the bootstrap and runs this (default N: 0 1000 10000);
//! `VAT_BOOTSTRAP=<path>` measures another build of it (e.g. of an older commit).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::fake_http::{serve_async, FakeResponse};
use api_tests::vies::{seed_vat_schedule, FakeVies};
use api_tests::TestEnv;
use serde_json::Value;

/// Longest a run may take: the invocation's deadline is this far away.
const RUN_LIMIT: Duration = Duration::from_secs(900);

#[derive(Default)]
struct Invocation {
    response: Option<(Instant, String)>,
}

fn bootstrap() -> PathBuf {
    if let Ok(path) = std::env::var("VAT_BOOTSTRAP") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| api_tests::dynamodb::repo_root().join("target"));
    target.join("release/vat-revalidation")
}

/// `count` organisations with a VAT number (NL, DE and BE in turn), all due.
async fn seed_due(env: &TestEnv, count: usize) {
    let now = chrono::Utc::now();
    let numbers = ["NL004495445B01", "DE136695976", "BE0403170701"];
    seed_vat_schedule(env, "memory", &numbers, count, |i| {
        now - chrono::Duration::seconds(i as i64)
    })
    .await;
}

/// One invocation of the bootstrap over `env`'s table: (time from exec to its response, peak
/// KiB, response).
async fn invoke(binary: &PathBuf, env: &TestEnv, vies: &FakeVies) -> (Duration, u64, Value) {
    let invocation = Arc::new(Mutex::new(Invocation::default()));
    let polled = Arc::new(Mutex::new(false));
    let (inv, first) = (invocation.clone(), polled.clone());
    let api = serve_async(move |request| {
        let (inv, first) = (inv.clone(), first.clone());
        async move {
            let now = Instant::now();
            if request.method == "GET" && request.path.ends_with("/runtime/invocation/next") {
                let again = std::mem::replace(&mut *first.lock().expect("polled"), true);
                if again {
                    // The second poll waits until the process is stopped.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let deadline =
                    chrono::Utc::now() + chrono::Duration::from_std(RUN_LIMIT).unwrap_or_default();
                let mut response = FakeResponse::json(200, "{}");
                response.headers = vec![
                    ("lambda-runtime-aws-request-id".into(), "memory-1".into()),
                    (
                        "lambda-runtime-deadline-ms".into(),
                        deadline.timestamp_millis().to_string(),
                    ),
                    (
                        "lambda-runtime-invoked-function-arn".into(),
                        "arn:aws:lambda:eu-west-1:123456789012:function:vat-revalidation".into(),
                    ),
                    (
                        "lambda-runtime-trace-id".into(),
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                ];
                return response;
            }
            inv.lock()
                .expect("invocation")
                .response
                .get_or_insert((now, request.body));
            FakeResponse::json(202, "{}")
        }
    })
    .await;
    let spawned = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.trim_start_matches("http://"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "vat-revalidation")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &env.endpoint)
        .env("TABLE_NAME", &env.table)
        .env("VIES_BASE_URL", &vies.url)
        .env("VIES_TIMEOUT_MS", "10000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the bootstrap");
    let status = format!("/proc/{}/status", child.id());
    let limit = Instant::now() + RUN_LIMIT + Duration::from_secs(30);
    let peak = |status: &str| -> u64 {
        std::fs::read_to_string(status)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let (took, peak_kib, body) = loop {
        let response = invocation.lock().expect("invocation").response.clone();
        if let Some((at, body)) = response {
            // VmHWM is the peak so far: read it before the process is stopped.
            let peak_kib = peak(&status);
            break (at - spawned, peak_kib, body);
        }
        if Instant::now() > limit || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            panic!("the bootstrap did not answer");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    (
        took,
        peak_kib,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[tokio::main]
async fn main() {
    let binary = bootstrap();
    if !binary.is_file() {
        println!(
            "{} is missing: scripts/vat-memory.sh builds it",
            binary.display()
        );
        return;
    }
    let mut counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace([',', '_'], "").parse().ok())
        .collect();
    if counts.is_empty() {
        counts = vec![0, 1000, 10_000];
    }
    let vies = FakeVies::start().await;
    println!("bootstrap: {}\n", binary.display());
    println!("| due | seen | checked | exec to response | peak memory (VmHWM) | vs first row |");
    println!("|-----|------|---------|------------------|---------------------|--------------|");
    let mut reference = None;
    for count in counts {
        let env = TestEnv::new().await;
        seed_due(&env, count).await;
        let asked = vies.requests().len();
        let (took, peak_kib, report) = invoke(&binary, &env, &vies).await;
        // `due` before the paging change, `seen` after.
        let seen = report.get("seen").or_else(|| report.get("due"));
        let checked = &report["checked"];
        assert_eq!(
            checked.as_u64().map(|c| c as usize),
            Some(vies.requests().len() - asked),
            "{report}"
        );
        let reference = *reference.get_or_insert(peak_kib);
        println!(
            "| {count} | {} | {checked} | {took:.1?} | {:.1} MiB | {:.2}x |",
            seen.cloned().unwrap_or(Value::Null),
            peak_kib as f64 / 1024.0,
            peak_kib as f64 / reference.max(1) as f64
        );
        eprintln!("report for {count} due: {report}");
    }
}
