//! What a function builds once at cold start and every request shares.

use std::time::Duration;

use crate::auth::LocalJwtVerifier;
use crate::mail::Mailer;
use crate::storage::Store;
use crate::vies::ViesClient;

#[derive(Clone, Debug)]
pub struct App {
    pub store: Store,
    /// Set only where no API Gateway authorizer runs (local development).
    pub local_jwt: Option<LocalJwtVerifier>,
    pub mailer: Mailer,
    /// `None`: VAT numbers stay `PENDING` until VIES can be asked.
    pub vies: Option<ViesClient>,
    /// Base of the links in verification mails, e.g. `https://api.example.com`.
    pub public_api_url: String,
}

/// Default VIES REST endpoint of the European Commission.
pub const VIES_DEFAULT_URL: &str = "https://ec.europa.eu/taxation_customs/vies/rest-api";
/// VIES is slow at times; a request that waits longer gets "could not check" and a retry later.
pub const VIES_DEFAULT_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error("LOCAL_JWT_SECRET is not a usable HS256 key: {0}")]
    LocalJwtSecret(#[from] jsonwebtoken::errors::Error),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, String),
}

impl App {
    /// An app with no mailer and no VIES client (see [`App::with_mailer`], [`App::with_vies`]).
    pub fn new(store: Store, local_jwt: Option<LocalJwtVerifier>) -> Self {
        Self {
            store,
            local_jwt,
            mailer: Mailer::Disabled,
            vies: None,
            public_api_url: "http://127.0.0.1:9000".to_owned(),
        }
    }

    pub fn with_mailer(mut self, mailer: Mailer) -> Self {
        self.mailer = mailer;
        self
    }

    pub fn with_vies(mut self, vies: ViesClient) -> Self {
        self.vies = Some(vies);
        self
    }

    /// Reads the configuration from the environment:
    /// - `TABLE_NAME` (required);
    /// - the AWS SDK's own variables (region, credentials, `AWS_ENDPOINT_URL_DYNAMODB` for
    ///   DynamoDB Local);
    /// - `LOCAL_JWT_SECRET` (+ optional `LOCAL_JWT_ISSUER`, `LOCAL_JWT_AUDIENCE`): enables the
    ///   local bearer-token verifier. Never set it in AWS, where the authorizer verifies tokens;
    /// - mail: `MAIL_OUTBOX_DIR` (local: one file per message) or `MAIL_FROM` (SES v2 sender);
    /// - `VIES_BASE_URL` (default: the Commission's REST API), `VIES_TIMEOUT_MS` (default 4000);
    /// - `PUBLIC_API_URL`: base of verification links.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let store = Store::new(aws_sdk_dynamodb::Client::new(&config), table);
        let local_jwt = std::env::var("LOCAL_JWT_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|secret| {
                let issuer = std::env::var("LOCAL_JWT_ISSUER").ok();
                let audience = std::env::var("LOCAL_JWT_AUDIENCE").ok();
                LocalJwtVerifier::hs256(secret.as_bytes(), issuer.as_deref(), audience.as_deref())
            })
            .transpose()?;
        if local_jwt.is_some() {
            tracing::warn!(
                "LOCAL_JWT_SECRET is set: bearer tokens are verified locally (development only)"
            );
        }
        let mailer = match (std::env::var("MAIL_OUTBOX_DIR"), std::env::var("MAIL_FROM")) {
            (Ok(dir), _) if !dir.is_empty() => Mailer::Outbox { dir: dir.into() },
            (_, Ok(from)) if !from.is_empty() => Mailer::Ses {
                client: aws_sdk_sesv2::Client::new(&config),
                from,
            },
            _ => Mailer::Disabled,
        };
        let timeout = match std::env::var("VIES_TIMEOUT_MS") {
            Ok(ms) => Duration::from_millis(
                ms.parse()
                    .map_err(|_| ConfigError::Invalid("VIES_TIMEOUT_MS", ms.clone()))?,
            ),
            Err(_) => VIES_DEFAULT_TIMEOUT,
        };
        let vies_url =
            std::env::var("VIES_BASE_URL").unwrap_or_else(|_| VIES_DEFAULT_URL.to_owned());
        let vies = ViesClient::new(&vies_url, timeout)
            .map_err(|e| ConfigError::Invalid("VIES_BASE_URL", e.to_string()))?;
        let mut app = Self::new(store, local_jwt)
            .with_mailer(mailer)
            .with_vies(vies);
        if let Ok(url) = std::env::var("PUBLIC_API_URL") {
            app.public_api_url = url.trim_end_matches('/').to_owned();
        }
        Ok(app)
    }
}

/// Structured JSON logs (CloudWatch-friendly), level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .try_init();
}

/// The whole `main` of an HTTP function: logs, the [`App`] from the environment, and the Lambda
/// runtime calling `handle` for every request.
pub async fn serve_http<F, Fut>(handle: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
{
    init_tracing();
    // Built once per execution environment and used until it ends: leaking it hands every
    // request a plain shared reference, with no Arc traffic on the request path.
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_http::run(lambda_http::service_fn(move |request| {
        let response = handle(app, request);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    }))
    .await
}
