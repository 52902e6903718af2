//! Metrics survive Lambda's log-level filtering (the template's `LogLevel`, Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`): a function run in a process of its own with
//! `AWS_LAMBDA_LOG_LEVEL=WARN` writes its embedded metric format lines to stdout, and the lines
//! that Lambda's filter would keep still carry every metric.
//!
//! Lambda's rule for runtimes without built-in JSON logging (ours, `provided.al2023`), from the
//! AWS Lambda Developer Guide, "Log-level filtering": a JSON line's level is its `level` member,
//! used only with a valid RFC 3339 `timestamp` member; a line without a valid level, or without
//! a valid timestamp, is INFO. Lines below the configured level are dropped.

use std::process::Command;

use api_tests::{send, ApiRequest, TestEnv};
use serde_json::Value;

const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or(2)
}

/// The level Lambda gives a line of stdout (INFO unless a JSON object has a valid `level` and a
/// valid RFC 3339 `timestamp`).
fn lambda_level(line: &str) -> &'static str {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
        return "INFO";
    };
    let timestamp_valid = object
        .get("timestamp")
        .and_then(Value::as_str)
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
    let level = object.get("level").and_then(Value::as_str).and_then(|l| {
        LEVELS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(l))
            .copied()
    });
    match level {
        Some(level) if timestamp_valid => level,
        _ => "INFO",
    }
}

/// The lines Lambda keeps at `configured`.
fn kept<'a>(stdout: &'a str, configured: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|line| rank(lambda_level(line)) >= rank(configured))
        .collect()
}

/// The filter as modelled: a metric line without its timestamp is INFO, so WARN drops it; with
/// it and a WARN level, it stays.
#[test]
fn the_modelled_filter_drops_untimed_lines() {
    let untimed = r#"{"_aws":{"Timestamp":1795867200000,"CloudWatchMetrics":[]},"level":"WARN"}"#;
    let timed = r#"{"_aws":{"Timestamp":1795867200000,"CloudWatchMetrics":[]},"level":"WARN","timestamp":"2026-11-28T12:00:00.000Z"}"#;
    assert!(kept(untimed, "WARN").is_empty());
    assert_eq!(kept(timed, "WARN"), vec![timed]);
    assert!(kept(timed, "ERROR").is_empty());
    assert_eq!(kept("not json", "INFO"), vec!["not json"]);
}

/// The parent: runs [`a_function_at_warn`] in a process of its own as Lambda would configure
/// it, and filters its stdout as Lambda would.
#[test]
fn metrics_survive_log_level_filtering_at_warn() {
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new(exe)
        .args([
            "--exact",
            "log_level::a_function_at_warn",
            "--ignored",
            // Quiet: no "test <name> ... " prefix before the function's own first line.
            "--quiet",
            "--test-threads=1",
        ])
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        // What a Lambda runtime sets: metric lines go to stdout (shared::metrics).
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .expect("the function's process runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metric_lines: Vec<&str> = stdout.lines().filter(|l| l.contains("\"_aws\"")).collect();
    assert!(!metric_lines.is_empty(), "no metric lines: {stdout}");
    let surviving: Vec<&str> = kept(&stdout, "WARN")
        .into_iter()
        .filter(|l| l.contains("\"_aws\""))
        .collect();
    assert_eq!(surviving, metric_lines, "Lambda drops metric lines at WARN");
    // Among them the answer that the request got.
    assert!(
        surviving.iter().any(|l| {
            let document: Value = serde_json::from_str(l).unwrap_or_default();
            document["Route"] == "GET /api/v1/organisations/{organisationSlug}"
                && document["4xx"] == 1
        }),
        "{surviving:?}"
    );
}

/// The child: a request through the organisations function's handler, with the function's own
/// logging (`AWS_LAMBDA_LOG_LEVEL` as the parent set it). Run only by the parent.
#[tokio::test]
#[ignore = "run by metrics_survive_log_level_filtering_at_warn in a process of its own"]
async fn a_function_at_warn() {
    shared::app::init_tracing();
    let env = TestEnv::new().await;
    let reply = send(
        &env.app,
        ApiRequest::get("/api/v1/organisations/nobody-here"),
    )
    .await;
    assert_eq!(reply.status, 401);
}
