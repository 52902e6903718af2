//! Metrics in CloudWatch's embedded metric format (EMF): one JSON document per line on stdout,
//! which CloudWatch Logs turns into metrics of the namespace `METRICS_NAMESPACE` (the template's
//! `MetricsNamespace`, default [`DEFAULT_NAMESPACE`]). Names, dimensions, alarms and sources:
//! `docs/observability.md`.
//!
//! Why a module of our own and not a crate: `metrics_cloudwatch_embedded` (0.10, for the
//! `metrics` facade) is the well-kept Rust EMF emitter, and it fits Lambda, but not these
//! functions: (1) it aggregates in one process-wide recorder and writes when the invocation is
//! flushed by its wrapper of the runtime, so the tests, which run concurrently in one binary,
//! could not tell their metrics apart; here each metric set is written when it happens and a
//! test captures what its own task emits ([`capture`]); (2) its flush unwraps a mutex and
//! `expect`s the clock, and metrics must never break a request; (3) writing at once needs no
//! flush, so nothing is lost when an invocation times out, and it adds no dependency to the
//! binaries. AWS publishes no Rust EMF library. The format is the EMF specification's; the
//! lines are a handful per invocation (one per answer, per VIES answer, per mail, ...).
//!
//! The pure domain (`crate::domain`) never emits: the callers that know an outcome do. Writing
//! is best effort: a failed write of stdout is ignored, and nothing here panics.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::sync::LazyLock;

use serde_json::{json, Map, Value};

/// The namespace when `METRICS_NAMESPACE` is not set (as in the template's default).
pub const DEFAULT_NAMESPACE: &str = "Organisations";

/// The namespace of every metric: `METRICS_NAMESPACE`, or [`DEFAULT_NAMESPACE`].
static NAMESPACE: LazyLock<String> =
    LazyLock::new(|| namespace_from(std::env::var("METRICS_NAMESPACE").ok().as_deref()).to_owned());

fn namespace_from(value: Option<&str>) -> &str {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

/// The `level` of the lines. With the JSON log format, Lambda filters application logs by the
/// `level` member of each JSON line, read only with a valid RFC 3339 `timestamp` member, and
/// takes a line without either as INFO: metrics carry the configured level when it is above
/// INFO, and their time, so that turning logs down never silences an alarm.
static LEVEL: LazyLock<&'static str> =
    LazyLock::new(|| level_for(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref()));

fn level_for(lambda_level: Option<&str>) -> &'static str {
    match lambda_level.map(str::to_ascii_uppercase).as_deref() {
        Some("WARN") => "WARN",
        Some("ERROR") => "ERROR",
        Some("FATAL") => "FATAL",
        _ => "INFO",
    }
}

/// Lines go to stdout only where a Lambda runtime collects it (in AWS, and under `cargo lambda
/// watch`): tests, benches and tools would only print them between their own output.
static TO_STDOUT: LazyLock<bool> =
    LazyLock::new(|| std::env::var("AWS_LAMBDA_RUNTIME_API").is_ok_and(|v| !v.is_empty()));

tokio::task_local! {
    static CAPTURED: RefCell<Vec<String>>;
}

/// Runs `future` and returns, with its output, the lines it emitted (in its own task; a task it
/// spawns writes as usual). They are not written to stdout. For tests.
pub async fn capture<F: Future>(future: F) -> (F::Output, Vec<String>) {
    CAPTURED
        .scope(RefCell::new(Vec::new()), async {
            let output = future.await;
            let lines = CAPTURED.try_with(RefCell::take).unwrap_or_default();
            (output, lines)
        })
        .await
}

/// One metric set: the dimension sets it is published under (each a list of dimension names;
/// an empty list publishes it without dimensions), the dimensions' values, and the metrics with
/// their values, all counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSet<'a> {
    pub dimension_sets: &'a [&'a [&'static str]],
    pub dimensions: &'a [(&'static str, &'a str)],
    pub metrics: &'a [(&'static str, u64)],
}

impl MetricSet<'_> {
    /// The EMF document of this set, at `timestamp_ms`, as one line (without its newline).
    pub fn line(&self, namespace: &str, timestamp_ms: i64, level: &str) -> String {
        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": self.dimension_sets,
                    "Metrics": self
                        .metrics
                        .iter()
                        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert("level".to_owned(), Value::from(level));
        // Lambda's log-level filtering takes the `level` of a JSON line only together with a
        // valid RFC 3339 `timestamp`; without one the line is INFO, dropped at WARN and above
        // (AWS Lambda Developer Guide, "Log-level filtering"), and so would be the metric.
        if let Some(time) = chrono::DateTime::from_timestamp_millis(timestamp_ms) {
            root.insert(
                "timestamp".to_owned(),
                Value::from(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
        }
        for (name, value) in self.dimensions {
            root.insert((*name).to_owned(), Value::from(*value));
        }
        for (name, value) in self.metrics {
            root.insert((*name).to_owned(), Value::from(*value));
        }
        Value::Object(root).to_string()
    }

    /// Writes the set: to the capturing task's list inside [`capture`], else to stdout where a
    /// Lambda runtime reads it. Never fails.
    pub fn emit(&self) {
        let line = self.line(&NAMESPACE, chrono::Utc::now().timestamp_millis(), &LEVEL);
        let captured = CAPTURED
            .try_with(|lines| {
                if let Ok(mut lines) = lines.try_borrow_mut() {
                    lines.push(line.clone());
                }
            })
            .is_ok();
        if !captured && *TO_STDOUT {
            // One write of the whole line, under stdout's lock: no other output splits it.
            let _ = std::io::stdout()
                .lock()
                .write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// A country code as a dimension value: two ASCII capitals (the VAT prefixes), else `other`,
/// so that the dimension stays bounded whatever a caller passes.
fn country(code: &str) -> &str {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        code
    } else {
        "other"
    }
}

/// What VIES answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViesOutcome {
    Valid,
    Invalid,
    /// Could not check (member state unavailable, timeout, 5xx, unreadable answer, ...).
    Unavailable,
}

impl ViesOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
        }
    }
}

/// `ViesAnswers` by `Outcome` and `Country`, and by `Outcome` alone (the alarm's rate).
pub fn vies_answer(country_code: &str, outcome: ViesOutcome) {
    MetricSet {
        dimension_sets: &[&["Outcome", "Country"], &["Outcome"]],
        dimensions: &[
            ("Outcome", outcome.as_str()),
            ("Country", country(country_code)),
        ],
        metrics: &[("ViesAnswers", 1)],
    }
    .emit();
}

/// `ViesCallsLimited` by `Reason`: a VIES call that waited for one of the instance's slots
/// (`queued`), found none within the timeout (`busy`), or was not made because VIES is paused
/// after consecutive failures (`paused`); and each pause as it begins (`pause-started`).
pub fn vies_limited(reason: &str) {
    MetricSet {
        dimension_sets: &[&["Reason"]],
        dimensions: &[("Reason", reason)],
        metrics: &[("ViesCallsLimited", 1)],
    }
    .emit();
}

/// `ConflictRetries`: times one write loop read and decided again after a conflict.
pub fn conflict_retries(retries: u64) {
    MetricSet {
        dimension_sets: &[&[]],
        dimensions: &[],
        metrics: &[("ConflictRetries", retries)],
    }
    .emit();
}

/// What became of a platform event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformEventOutcome {
    /// It changed what is recorded.
    Applied,
    /// The event recorded already, delivered again.
    Duplicate,
    /// Older than what is recorded (or about an organisation that no longer holds the slug).
    Stale,
    /// Malformed, about an unknown organisation, from the future, or over a limit: reported as
    /// failed (and, after the queue's retries, in the dead-letter queue).
    Refused,
    /// The write failed (reported as failed, delivered again).
    Failed,
    /// From an account not in `PLATFORM_EVENT_PRODUCER_ACCOUNTS`: refused unread (reported as
    /// failed, so in the dead-letter queue after the queue's retries).
    ForeignAccount,
}

impl PlatformEventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::ForeignAccount => "foreign-account",
        }
    }
}

/// `PlatformEvents` by `Outcome`.
pub fn platform_event(outcome: PlatformEventOutcome) {
    MetricSet {
        dimension_sets: &[&["Outcome"]],
        dimensions: &[("Outcome", outcome.as_str())],
        metrics: &[("PlatformEvents", 1)],
    }
    .emit();
}

/// What became of a verification mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    Failed,
    /// Not sent: the address had its hourly share.
    Suppressed,
}

impl MailOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
        }
    }
}

/// `Mails` by `Outcome`.
pub fn mail(outcome: MailOutcome) {
    MetricSet {
        dimension_sets: &[&["Outcome"]],
        dimensions: &[("Outcome", outcome.as_str())],
        metrics: &[("Mails", 1)],
    }
    .emit();
}

/// `OutboundEvents` by `Outcome` (`published`, `failed`) for one batch of the table's stream;
/// an outcome with no event is not written.
pub fn outbound_events(published: u64, failed: u64) {
    for (outcome, count) in [("published", published), ("failed", failed)] {
        if count > 0 {
            MetricSet {
                dimension_sets: &[&["Outcome"]],
                dimensions: &[("Outcome", outcome)],
                metrics: &[("OutboundEvents", count)],
            }
            .emit();
        }
    }
}

/// `IdempotentReplays` by `Route`: a retried request answered with the first answer.
pub fn idempotent_replay(route: &str) {
    MetricSet {
        dimension_sets: &[&["Route"]],
        dimensions: &[("Route", route)],
        metrics: &[("IdempotentReplays", 1)],
    }
    .emit();
}

/// `4xx` and `5xx` by `Route` for every answer: 1 for the answer's class, 0 for the other (and
/// both 0 for any other status), so that their average is the route's error rate.
pub fn answered(route: &str, status: u16) {
    MetricSet {
        dimension_sets: &[&["Route"]],
        dimensions: &[("Route", route)],
        metrics: &[
            ("4xx", u64::from((400..500).contains(&status))),
            ("5xx", u64::from((500..600).contains(&status))),
        ],
    }
    .emit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document() {
        let set = MetricSet {
            dimension_sets: &[&["Outcome", "Country"], &["Outcome"]],
            dimensions: &[("Outcome", "unavailable"), ("Country", "DE")],
            metrics: &[("ViesAnswers", 1)],
        };
        let line = set.line("Orgs-test", 1_795_867_200_123, "INFO");
        assert!(!line.contains('\n'));
        let document: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            document,
            json!({
                "_aws": {
                    "Timestamp": 1_795_867_200_123_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Orgs-test",
                        "Dimensions": [["Outcome", "Country"], ["Outcome"]],
                        "Metrics": [{"Name": "ViesAnswers", "Unit": "Count"}]
                    }]
                },
                "level": "INFO",
                "timestamp": "2026-11-28T12:00:00.123Z",
                "Outcome": "unavailable",
                "Country": "DE",
                "ViesAnswers": 1
            })
        );
    }

    #[test]
    fn every_dimension_and_metric_of_a_set_is_a_member_of_its_line() {
        let set = MetricSet {
            dimension_sets: &[&["Route"]],
            dimensions: &[("Route", "GET /api/v1/organisations/{organisationSlug}")],
            metrics: &[("4xx", 1), ("5xx", 0)],
        };
        let document: Value = serde_json::from_str(&set.line("N", 0, "WARN")).unwrap();
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        for names in directive["Dimensions"].as_array().unwrap() {
            for name in names.as_array().unwrap() {
                assert!(document[name.as_str().unwrap()].is_string(), "{name}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(document[metric["Name"].as_str().unwrap()].is_number());
        }
        assert_eq!(document["4xx"], 1);
        assert_eq!(document["5xx"], 0);
        assert_eq!(document["level"], "WARN");
    }

    #[test]
    fn a_set_without_dimensions_has_one_empty_dimension_set() {
        let set = MetricSet {
            dimension_sets: &[&[]],
            dimensions: &[],
            metrics: &[("ConflictRetries", 3)],
        };
        let document: Value = serde_json::from_str(&set.line("N", 0, "INFO")).unwrap();
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(document["ConflictRetries"], 3);
    }

    #[test]
    fn the_namespace_and_level_come_from_the_environment() {
        assert_eq!(namespace_from(None), DEFAULT_NAMESPACE);
        assert_eq!(namespace_from(Some("  ")), DEFAULT_NAMESPACE);
        assert_eq!(namespace_from(Some("Orgs-prod")), "Orgs-prod");
        assert_eq!(level_for(None), "INFO");
        assert_eq!(level_for(Some("DEBUG")), "INFO");
        assert_eq!(level_for(Some("warn")), "WARN");
        assert_eq!(level_for(Some("FATAL")), "FATAL");
    }

    #[test]
    fn country_dimensions_stay_bounded() {
        assert_eq!(country("DE"), "DE");
        assert_eq!(country("de"), "other");
        assert_eq!(country("DEU"), "other");
        assert_eq!(country(""), "other");
    }

    #[tokio::test]
    async fn capture_takes_the_lines_of_its_task_only() {
        let ((), lines) = capture(async {
            answered("GET /x", 404);
            answered("GET /x", 200);
            answered("GET /x", 503);
            mail(MailOutcome::Suppressed);
        })
        .await;
        let documents: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let classes: Vec<(u64, u64)> = documents[..3]
            .iter()
            .map(|d| (d["4xx"].as_u64().unwrap(), d["5xx"].as_u64().unwrap()))
            .collect();
        assert_eq!(classes, [(1, 0), (0, 0), (0, 1)]);
        assert_eq!(documents[3]["Outcome"], "suppressed");
        assert_eq!(documents[3]["Mails"], 1);
        assert_eq!(
            documents[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            DEFAULT_NAMESPACE
        );
        // Outside a capture nothing is collected (and, outside a Lambda runtime, not printed).
        let ((), none) = capture(async {}).await;
        assert!(none.is_empty());
    }
}
