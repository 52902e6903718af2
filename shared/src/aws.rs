//! The AWS SDK's shared configuration, read from the environment only: what Lambda gives a
//! function (`AWS_REGION`, the role's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
//! `AWS_SESSION_TOKEN`) and what `make dev` and the tests set (`AWS_ENDPOINT_URL_<SERVICE>`,
//! e.g. `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local).
//!
//! `aws_config::load_defaults` would do the same in Lambda, but its provider chains (profile
//! files, web identity and STS, ECS, IMDS) come with it into every binary, and it reads the
//! profile files at each cold start; docs/benchmarks.md. The settings it would take from the
//! environment and that this service may use are read here: `AWS_MAX_ATTEMPTS`,
//! `AWS_RETRY_MODE`, `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The SDK's own default (aws-config's `timeout_config::default_provider`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The configuration every client of a function is built from; no I/O.
pub fn sdk_config() -> SdkConfig {
    let mut retry = RetryConfig::standard();
    if let Some(attempts) = var("AWS_MAX_ATTEMPTS").and_then(|v| v.parse().ok()) {
        if attempts > 0 {
            retry = retry.with_max_attempts(attempts);
        }
    }
    if let Some(mode) = var("AWS_RETRY_MODE").and_then(|v| v.parse::<RetryMode>().ok()) {
        retry = retry.with_retry_mode(mode);
    }
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(
            var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .map(Region::new),
        )
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .service_config(EnvironmentEndpoints)
        .build()
}

/// Endpoint overrides from the environment, as aws-config reads them: `AWS_ENDPOINT_URL_<SERVICE>`
/// (the service id upper-cased, spaces as underscores: `AWS_ENDPOINT_URL_DYNAMODB`), then
/// `AWS_ENDPOINT_URL`.
#[derive(Debug)]
struct EnvironmentEndpoints;

impl LoadServiceConfig for EnvironmentEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        service_setting(&key, var)
    }
}

fn service_setting(
    key: &ServiceConfigKey<'_>,
    var: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let service = key.service_id().to_uppercase().replace(' ', "_");
    var(&format!("{}_{service}", key.env())).or_else(|| var(key.env()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(service: &str) -> ServiceConfigKey<'_> {
        ServiceConfigKey::builder()
            .service_id(service)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap()
    }

    #[test]
    fn a_service_endpoint_wins_over_the_general_one() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL_DYNAMODB" => Some("http://127.0.0.1:8000".to_owned()),
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS" => Some("http://127.0.0.1:8001".to_owned()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000".to_owned()),
            _ => None,
        };
        let setting = |service| service_setting(&key(service), env);
        assert_eq!(
            setting("DynamoDB").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            setting("DynamoDB Streams").as_deref(),
            Some("http://127.0.0.1:8001")
        );
        assert_eq!(setting("SESv2").as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(service_setting(&key("SESv2"), |_| None), None);
    }

    /// The clients the functions build from it come up without aws-config's loader (no sleep
    /// or HTTP client missing: the SDK's defaults fill them in).
    #[tokio::test]
    async fn clients_build_from_it() {
        let config = sdk_config();
        assert_eq!(config.behavior_version(), Some(BehaviorVersion::latest()));
        assert!(config.credentials_provider().is_some());
        let _ = aws_sdk_sesv2::Client::new(&config);
        let _ = aws_sdk_eventbridge::Client::new(&config);
    }
}
