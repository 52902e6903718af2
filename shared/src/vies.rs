//! The EU's VAT Information Exchange System (VIES), REST flavour:
//! `POST {base}/check-vat-number` with `{"countryCode": "NL", "vatNumber": "123456789B01"}`.
//!
//! Only a definite answer counts: `valid: true` is valid, `valid: false` with no fault is
//! invalid. Member-state and service faults (`MS_UNAVAILABLE`, `TIMEOUT`, `MS_MAX_CONCURRENT_REQ`,
//! `GLOBAL_MAX_CONCURRENT_REQ`, `SERVICE_UNAVAILABLE`, …) arrive as HTTP 200 with `userError`
//! or as an error status with `errorWrappers`; they, timeouts, 5xx and anything unreadable are
//! "could not check".

use std::time::Duration;

use serde::Deserialize;

use crate::domain::vat::VatNumber;
use crate::domain::verification::ViesAnswer;

#[derive(Debug, Clone)]
pub struct ViesClient {
    /// Built on the first check: most functions never ask VIES, and building an HTTPS client
    /// (TLS configuration, root certificates) would only add to their cold start.
    http: std::sync::Arc<std::sync::OnceLock<Result<reqwest::Client, String>>>,
    timeout: Duration,
    endpoint: String,
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

impl ViesClient {
    /// `base_url` without the trailing `/check-vat-number`; `timeout` bounds the whole call.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let endpoint = format!("{}/check-vat-number", base_url.trim_end_matches('/'));
        reqwest::Url::parse(&endpoint).map_err(|e| format!("{endpoint}: {e}"))?;
        Ok(Self {
            http: Default::default(),
            timeout,
            endpoint,
        })
    }

    fn http(&self) -> Result<&reqwest::Client, &str> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }

    pub async fn check(&self, vat: &VatNumber) -> ViesAnswer {
        let http = match self.http() {
            Ok(http) => http,
            Err(e) => return ViesAnswer::Unavailable(format!("no HTTP client: {e}")),
        };
        let body = serde_json::json!({
            "countryCode": vat.country_code(),
            "vatNumber": vat.number(),
        });
        let response = match http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_string())
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return ViesAnswer::Unavailable("TIMEOUT".into()),
            Err(e) => return ViesAnswer::Unavailable(format!("request failed: {e}")),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return ViesAnswer::Unavailable(format!("reading the answer failed: {e}")),
        };
        let parsed: CheckResponse = match serde_json::from_slice(&bytes) {
            Ok(parsed) => parsed,
            Err(_) => return ViesAnswer::Unavailable(format!("unreadable answer (HTTP {status})")),
        };
        let answer = interpret(status.as_u16(), parsed);
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
}
