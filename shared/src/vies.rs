//! The EU's VAT Information Exchange System (VIES), REST flavour:
//! `POST {base}/check-vat-number` with `{"countryCode": "NL", "vatNumber": "123456789B01"}`.
//!
//! Only a definite answer counts: `valid: true` is valid, `valid: false` with no fault is
//! invalid. Member-state and service faults (`MS_UNAVAILABLE`, `TIMEOUT`, `MS_MAX_CONCURRENT_REQ`,
//! `GLOBAL_MAX_CONCURRENT_REQ`, `SERVICE_UNAVAILABLE`, …) arrive as HTTP 200 with `userError`
//! or as an error status with `errorWrappers`; they, timeouts, 5xx and anything unreadable are
//! "could not check".
//!
//! VIES is no free amplifier: each function instance makes at most [`MAX_CONCURRENT_CALLS`]
//! calls at once (a call waits up to the timeout for a slot), and after
//! [`FAILURES_BEFORE_PAUSE`] consecutive failures it calls VIES for no one for [`PAUSE`]: the
//! answer is then "could not check" (the status `UNAVAILABLE`, which the scheduled
//! re-validation picks up later). The metric `ViesCallsLimited` counts both, by `Reason`
//! (docs/observability.md).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;

use crate::domain::vat::VatNumber;
use crate::domain::verification::ViesAnswer;
use crate::metrics::ViesOutcome;

/// HTTP/1.1 over rustls on aws-lc-rs with the system's root certificates: the TLS stack the AWS
/// SDK's own client (aws-smithy-http-client) already links, so VIES adds no second one.
type Http = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A VIES answer is a few hundred bytes; anything beyond this is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// VIES calls one function instance makes at once.
pub const MAX_CONCURRENT_CALLS: usize = 4;
/// Consecutive failed calls after which VIES is not called for [`PAUSE`].
pub const FAILURES_BEFORE_PAUSE: u32 = 5;
/// How long VIES is not called after [`FAILURES_BEFORE_PAUSE`] consecutive failures.
pub const PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct ViesClient {
    /// Built on the first check: most functions never ask VIES, and building an HTTPS client
    /// (TLS configuration, root certificates) would only add to their cold start.
    http: Arc<OnceLock<Result<Http, String>>>,
    timeout: Duration,
    endpoint: http::Uri,
    /// Shared by every clone: one per function instance (the `App` is built once).
    guard: Arc<Guard>,
}

/// The instance's VIES budget: the call slots and the failure breaker.
#[derive(Debug)]
struct Guard {
    slots: Semaphore,
    breaker: Mutex<Breaker>,
    failures_before_pause: u32,
    pause: Duration,
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    paused_until: Option<Instant>,
}

impl Guard {
    fn new(concurrency: usize, failures_before_pause: u32, pause: Duration) -> Self {
        Self {
            slots: Semaphore::new(concurrency.max(1)),
            breaker: Mutex::new(Breaker::default()),
            failures_before_pause: failures_before_pause.max(1),
            pause,
        }
    }

    /// Whether VIES is paused now.
    fn paused(&self) -> bool {
        let breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        breaker
            .paused_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Counts a call's outcome: a definite answer closes the breaker, the
    /// `failures_before_pause`th failure in a row pauses VIES.
    fn record(&self, failed: bool) {
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if !failed {
            breaker.consecutive_failures = 0;
            return;
        }
        breaker.consecutive_failures += 1;
        if breaker.consecutive_failures >= self.failures_before_pause {
            breaker.consecutive_failures = 0;
            breaker.paused_until = Some(Instant::now() + self.pause);
            crate::metrics::vies_limited(ViesLimit::PauseStarted.as_str());
            tracing::warn!(
                failures = self.failures_before_pause,
                pause_seconds = self.pause.as_secs(),
                "VIES failed repeatedly; not calling it for a while"
            );
        }
    }
}

/// Why a VIES call was held back (the metric `ViesCallsLimited`'s `Reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViesLimit {
    /// The instance had [`MAX_CONCURRENT_CALLS`] in flight: the call waited for a slot.
    Queued,
    /// No slot came free within the timeout: not called.
    Busy,
    /// VIES is paused after consecutive failures: not called.
    Paused,
    /// A pause began.
    PauseStarted,
}

impl ViesLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Busy => "busy",
            Self::Paused => "paused",
            Self::PauseStarted => "pause-started",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckResponse {
    valid: Option<bool>,
    user_error: Option<String>,
    name: Option<String>,
    address: Option<String>,
    #[serde(default)]
    error_wrappers: Vec<ErrorWrapper>,
}

#[derive(Debug, Deserialize)]
struct ErrorWrapper {
    error: Option<String>,
}

/// VIES writes "---" where it holds no value.
fn registry_text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v != "---")
}

/// An error with its causes: hyper's own messages ("client error (Connect)") say little alone.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn build_http() -> Result<Http, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| chain(&e))?
        // https in production; plain http for a local fake in the tests.
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https))
}

enum Failure {
    Timeout,
    Request(String),
    Body(String),
}

impl ViesClient {
    /// `base_url` without the trailing `/check-vat-number`; `timeout` bounds the whole call.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let endpoint = format!("{}/check-vat-number", base_url.trim_end_matches('/'));
        let uri: http::Uri = endpoint.parse().map_err(|e| format!("{endpoint}: {e}"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => return Err(format!("{endpoint}: not an http(s) URL")),
        }
        Ok(Self {
            http: Default::default(),
            timeout,
            endpoint: uri,
            guard: Arc::new(Guard::new(
                MAX_CONCURRENT_CALLS,
                FAILURES_BEFORE_PAUSE,
                PAUSE,
            )),
        })
    }

    /// The same client with other limits (tests: a short pause).
    pub fn with_limits(
        mut self,
        concurrency: usize,
        failures_before_pause: u32,
        pause: Duration,
    ) -> Self {
        self.guard = Arc::new(Guard::new(concurrency, failures_before_pause, pause));
        self
    }

    fn http(&self) -> Result<&Http, &str> {
        self.http
            .get_or_init(build_http)
            .as_ref()
            .map_err(String::as_str)
    }

    /// The request and the whole answer, within `timeout` (connecting included).
    async fn post(&self, http: &Http, body: String) -> Result<(u16, Bytes), Failure> {
        let request = http::Request::post(self.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Request(chain(&e)))?;
        let exchange = async {
            let response = http
                .request(request)
                .await
                .map_err(|e| Failure::Request(chain(&e)))?;
            let status = response.status().as_u16();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| Failure::Body(chain(e.as_ref())))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    /// Asks VIES about `vat` within the instance's budget; every answer VIES gave is counted in
    /// the metric `ViesAnswers` by outcome and country, every call held back in
    /// `ViesCallsLimited`.
    pub async fn check(&self, vat: &VatNumber) -> ViesAnswer {
        let guard = &self.guard;
        if guard.paused() {
            crate::metrics::vies_limited(ViesLimit::Paused.as_str());
            return ViesAnswer::Unavailable("VIES_PAUSED".into());
        }
        let _slot = match guard.slots.try_acquire() {
            Ok(slot) => slot,
            Err(_) => {
                crate::metrics::vies_limited(ViesLimit::Queued.as_str());
                match tokio::time::timeout(self.timeout, guard.slots.acquire()).await {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        crate::metrics::vies_limited(ViesLimit::Busy.as_str());
                        return ViesAnswer::Unavailable("VIES_BUSY".into());
                    }
                }
            }
        };
        // It may have paused while this call waited.
        if guard.paused() {
            crate::metrics::vies_limited(ViesLimit::Paused.as_str());
            return ViesAnswer::Unavailable("VIES_PAUSED".into());
        }
        let answer = self.ask(vat).await;
        guard.record(matches!(answer, ViesAnswer::Unavailable(_)));
        crate::metrics::vies_answer(
            vat.country_code(),
            match &answer {
                ViesAnswer::Valid { .. } => ViesOutcome::Valid,
                ViesAnswer::Invalid => ViesOutcome::Invalid,
                ViesAnswer::Unavailable(_) => ViesOutcome::Unavailable,
            },
        );
        answer
    }

    async fn ask(&self, vat: &VatNumber) -> ViesAnswer {
        let http = match self.http() {
            Ok(http) => http,
            Err(e) => return ViesAnswer::Unavailable(format!("no HTTP client: {e}")),
        };
        let body = serde_json::json!({
            "countryCode": vat.country_code(),
            "vatNumber": vat.number(),
        });
        let (status, bytes) = match self.post(http, body.to_string()).await {
            Ok(answer) => answer,
            Err(Failure::Timeout) => return ViesAnswer::Unavailable("TIMEOUT".into()),
            Err(Failure::Request(e)) => {
                return ViesAnswer::Unavailable(format!("request failed: {e}"))
            }
            Err(Failure::Body(e)) => {
                return ViesAnswer::Unavailable(format!("reading the answer failed: {e}"))
            }
        };
        let parsed: CheckResponse = match serde_json::from_slice(&bytes) {
            Ok(parsed) => parsed,
            Err(_) => return ViesAnswer::Unavailable(format!("unreadable answer (HTTP {status})")),
        };
        let answer = interpret(status, parsed);
        // The registry's name and address are the VAT owner's: not logged.
        let outcome = match &answer {
            ViesAnswer::Valid { .. } => "valid",
            ViesAnswer::Invalid => "invalid",
            ViesAnswer::Unavailable(_) => "unavailable",
        };
        tracing::info!(country = vat.country_code(), outcome, "VIES answered");
        answer
    }
}

fn interpret(status: u16, parsed: CheckResponse) -> ViesAnswer {
    if let Some(fault) = parsed.error_wrappers.into_iter().find_map(|w| w.error) {
        return ViesAnswer::Unavailable(fault);
    }
    let fault = parsed.user_error.filter(|e| e != "VALID" && e != "INVALID");
    match (status, parsed.valid, fault) {
        (_, _, Some(fault)) => ViesAnswer::Unavailable(fault),
        (200, Some(true), None) => ViesAnswer::Valid {
            name: registry_text(parsed.name),
            address: registry_text(parsed.address),
        },
        (200, Some(false), None) => ViesAnswer::Invalid,
        (status, _, None) => ViesAnswer::Unavailable(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> CheckResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn only_definite_answers_count() {
        assert_eq!(
            interpret(
                200,
                parse(r#"{"valid":true,"userError":"VALID","name":"ACME BV","address":"---"}"#)
            ),
            ViesAnswer::Valid {
                name: Some("ACME BV".into()),
                address: None
            }
        );
        assert_eq!(
            interpret(200, parse(r#"{"valid":false,"userError":"INVALID"}"#)),
            ViesAnswer::Invalid
        );
        for fault in [
            "MS_UNAVAILABLE",
            "TIMEOUT",
            "MS_MAX_CONCURRENT_REQ",
            "GLOBAL_MAX_CONCURRENT_REQ",
            "SERVICE_UNAVAILABLE",
        ] {
            let body = format!(r#"{{"valid":false,"userError":"{fault}"}}"#);
            assert_eq!(
                interpret(200, parse(&body)),
                ViesAnswer::Unavailable(fault.into())
            );
        }
        assert_eq!(
            interpret(
                500,
                parse(r#"{"actionSucceed":false,"errorWrappers":[{"error":"MS_UNAVAILABLE"}]}"#)
            ),
            ViesAnswer::Unavailable("MS_UNAVAILABLE".into())
        );
        assert!(matches!(
            interpret(503, parse(r#"{}"#)),
            ViesAnswer::Unavailable(_)
        ));
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(ViesClient::new(
            "https://ec.europa.eu/taxation_customs/vies/rest-api",
            TIMEOUT
        )
        .is_ok());
        assert!(ViesClient::new("http://127.0.0.1:8080/", TIMEOUT).is_ok());
        assert!(ViesClient::new("ftp://example.org", TIMEOUT).is_err());
        assert!(ViesClient::new("not a url", TIMEOUT).is_err());
    }

    const TIMEOUT: Duration = Duration::from_secs(2);

    /// The HTTPS client builds (aws-lc-rs, the system's roots) and a refused connection is
    /// "could not check", not a panic. The answers themselves are tested against a fake VIES in
    /// tests/it/validation.rs and tests/it/vat_revalidation.rs.
    #[tokio::test]
    async fn an_unreachable_vies_is_unavailable() {
        let vat = VatNumber::parse("NL004495445B01").unwrap();
        for base in ["https://127.0.0.1:9", "http://127.0.0.1:9"] {
            let client = ViesClient::new(base, TIMEOUT).unwrap();
            assert!(client.http().is_ok(), "{base}: {:?}", client.http().err());
            match client.check(&vat).await {
                ViesAnswer::Unavailable(why) => {
                    assert!(why.starts_with("request failed: "), "{why}")
                }
                other => panic!("{base}: {other:?}"),
            }
        }
    }
}
