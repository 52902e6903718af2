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
//!
//! The clients trust the roots of Amazon Trust Services only (`shared/certs/`), not the system's
//! store: every AWS service endpoint presents a certificate that chains to Amazon Root CA 1-4 /
//! Starfield Services Root G2 (AWS Security Blog, "How to Prepare for AWS's Move to Its Own
//! Certificate Authority", updated 2024-11-18). Besides trusting 5 roots instead of ~140, this
//! saves the SDK's load of the system's store at every cold start (it reads and parses every file
//! of `/etc/ssl/certs` and the bundle: 2.4 of the 4.5 ms to ready on this machine,
//! docs/benchmarks.md). `AWS_CA_BUNDLE` (the AWS CLI's and SDKs' variable: a PEM file) replaces
//! them, e.g. for an endpoint behind a TLS-inspecting proxy; a file that cannot be read or holds no
//! usable certificate stops the function at start with a message that says so. Endpoints reached
//! over plain HTTP (DynamoDB Local) need no certificate. Unlike the SDK's default client, this one
//! does not read `HTTPS_PROXY`; a Lambda function reaches AWS without a proxy.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_types::sdk_config::SharedHttpClient;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use rustls::pki_types::{pem::PemObject, CertificateDer};

/// The SDK's own default (aws-config's `timeout_config::default_provider`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of a call that connected but does not answer: the SDK sets no limit by default,
/// so such a call would run into the function's timeout (10 s for the API functions) and API
/// Gateway would answer 500/503 of its own. A healthy DynamoDB, SES or EventBridge call takes
/// milliseconds; a timed-out attempt is retried like any transient failure (the SDK's idempotency
/// token makes a retried TransactWriteItems safe).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// All attempts of one call: after it, the call fails with a timeout, which the API answers with
/// 503 and `Retry-After` (`storage::StoreError::Unavailable`) well inside the function's 10 s.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The roots the AWS SDK clients trust unless `AWS_CA_BUNDLE` says otherwise.
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    #[error("AWS_CA_BUNDLE names {path}, which cannot be read: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("AWS_CA_BUNDLE names {path}, which {reason}")]
    Unusable { path: String, reason: String },
    #[error("the AWS SDK's TLS settings were refused: {0}")]
    Tls(String),
}

/// The configuration every client of a function is built from; no I/O unless `AWS_CA_BUNDLE` is
/// set.
pub fn sdk_config() -> Result<SdkConfig, TrustStoreError> {
    sdk_config_from(var)
}

fn sdk_config_from(var: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, TrustStoreError> {
    let http_client = https_client(trust_anchors(&var)?)?;
    let mut retry = RetryConfig::standard();
    if let Some(attempts) = var("AWS_MAX_ATTEMPTS").and_then(|v| v.parse().ok()) {
        if attempts > 0 {
            retry = retry.with_max_attempts(attempts);
        }
    }
    if let Some(mode) = var("AWS_RETRY_MODE").and_then(|v| v.parse::<RetryMode>().ok()) {
        retry = retry.with_retry_mode(mode);
    }
    Ok(SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
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
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .service_config(EnvironmentEndpoints)
        .build())
}

/// The PEM certificates the clients trust: `AWS_CA_BUNDLE`'s, else Amazon Trust Services' roots.
fn trust_anchors(var: impl Fn(&str) -> Option<String>) -> Result<Vec<u8>, TrustStoreError> {
    let Some(path) = var("AWS_CA_BUNDLE") else {
        return Ok(AMAZON_TRUST_SERVICES_ROOTS.to_vec());
    };
    let pem = std::fs::read(&path).map_err(|source| TrustStoreError::Unreadable {
        path: path.clone(),
        source,
    })?;
    match usable_certificates(&pem) {
        Ok(0) => Err(TrustStoreError::Unusable {
            path,
            reason: "holds no PEM certificate".to_owned(),
        }),
        Ok(_) => Ok(pem),
        Err(reason) => Err(TrustStoreError::Unusable { path, reason }),
    }
}

/// How many certificates of `pem` a root store takes. The SDK's connector panics on a PEM
/// certificate it cannot parse or add (aws-smithy-http-client 1.5, `rustls_root_certs`), so each
/// one is checked here first, at start-up.
fn usable_certificates(pem: &[u8]) -> Result<usize, String> {
    let mut roots = rustls::RootCertStore::empty();
    for (position, certificate) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let certificate =
            certificate.map_err(|e| format!("is not PEM at certificate {}: {e}", position + 1))?;
        roots
            .add(certificate)
            .map_err(|e| format!("has an unusable certificate {}: {e}", position + 1))?;
    }
    Ok(roots.len())
}

/// The SDK's own client (hyper 1, rustls on aws-lc-rs, the SDK's cipher suites and timeouts) with
/// `pem` as its only trust anchors instead of the system's store.
fn https_client(pem: Vec<u8>) -> Result<SharedHttpClient, TrustStoreError> {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| TrustStoreError::Tls(e.to_string()))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
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
        let config = sdk_config().unwrap();
        assert_eq!(config.behavior_version(), Some(BehaviorVersion::latest()));
        assert!(config.credentials_provider().is_some());
        let _ = aws_sdk_sesv2::Client::new(&config);
        let _ = aws_sdk_eventbridge::Client::new(&config);
    }

    #[test]
    fn the_bundled_roots_are_amazon_trust_services_five() {
        assert_eq!(usable_certificates(AMAZON_TRUST_SERVICES_ROOTS), Ok(5));
        let names: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
            .map(|c| c.unwrap())
            .collect();
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(
                names
                    .iter()
                    .any(|der| der.windows(name.len()).any(|w| w == name.as_bytes())),
                "{name} missing"
            );
        }
    }

    #[test]
    fn a_bundle_that_cannot_be_used_stops_the_start_with_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("ca-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let no_pem = dir.join("notes.txt");
        std::fs::write(&no_pem, "not a certificate").unwrap();
        let broken = dir.join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let with = |path: &std::path::Path| {
            let path = path.display().to_string();
            sdk_config_from(move |name| (name == "AWS_CA_BUNDLE").then(|| path.clone()))
                .unwrap_err()
                .to_string()
        };
        let missing = with(&dir.join("absent.pem"));
        assert!(
            missing.starts_with("AWS_CA_BUNDLE names ") && missing.contains("cannot be read"),
            "{missing}"
        );
        assert!(with(&no_pem).ends_with("holds no PEM certificate"));
        assert!(
            with(&broken).contains("unusable certificate 1"),
            "{}",
            with(&broken)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A TLS server on 127.0.0.1 whose certificate (for `localhost`) a test CA signed
    /// (tests/fixtures/tls; the CA's key was not kept). It answers every request with an empty
    /// ListEventBuses result.
    async fn tls_server() -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        let certs = CertificateDer::pem_file_iter(format!("{fixtures}/server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(format!("{fixtures}/server.key"))
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue; // the client refused the certificate
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let read = tls.read(&mut buffer).await.unwrap();
                    request.extend_from_slice(&buffer[..read]);
                }
                let body = br#"{"EventBuses":[]}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                tls.write_all(head.as_bytes()).await.unwrap();
                tls.write_all(body).await.unwrap();
                tls.shutdown().await.unwrap();
            }
        });
        port
    }

    /// An EventBridge call (any SDK client would do; the DynamoDB SDK is named only in
    /// `storage/`, lib.rs's `layers` test).
    async fn list_event_buses(port: u16, ca_bundle: Option<&str>) -> Result<(), String> {
        let ca_bundle = ca_bundle.map(str::to_owned);
        let config = sdk_config_from(move |name| match name {
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            "AWS_MAX_ATTEMPTS" => Some("1".to_owned()),
            "AWS_CA_BUNDLE" => ca_bundle.clone(),
            _ => None,
        })
        .unwrap();
        let client = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&config)
                .credentials_provider(aws_credential_types::Credentials::new(
                    "akid", "secret", None, None, "test",
                ))
                .endpoint_url(format!("https://localhost:{port}"))
                .build(),
        );
        client
            .list_event_buses()
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{:?}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))
    }

    #[tokio::test]
    async fn the_clients_trust_amazon_trust_services_only_unless_aws_ca_bundle_says_otherwise() {
        let port = tls_server().await;
        let refused = list_event_buses(port, None).await.unwrap_err();
        assert!(refused.contains("UnknownIssuer"), "{refused}");
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
        list_event_buses(port, Some(ca)).await.unwrap();
    }
}
