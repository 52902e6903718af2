//! What a function builds once at cold start and every request shares.

use crate::auth::LocalJwtVerifier;
use crate::storage::Store;

#[derive(Clone, Debug)]
pub struct App {
    pub store: Store,
    /// Set only where no API Gateway authorizer runs (local development).
    pub local_jwt: Option<LocalJwtVerifier>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error("LOCAL_JWT_SECRET is not a usable HS256 key: {0}")]
    LocalJwtSecret(#[from] jsonwebtoken::errors::Error),
}

impl App {
    pub fn new(store: Store, local_jwt: Option<LocalJwtVerifier>) -> Self {
        Self { store, local_jwt }
    }

    /// Reads the configuration from the environment:
    /// - `TABLE_NAME` (required);
    /// - the AWS SDK's own variables (region, credentials, `AWS_ENDPOINT_URL_DYNAMODB` for
    ///   DynamoDB Local);
    /// - `LOCAL_JWT_SECRET` (+ optional `LOCAL_JWT_ISSUER`, `LOCAL_JWT_AUDIENCE`): enables the
    ///   local bearer-token verifier. Never set it in AWS, where the authorizer verifies tokens.
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
        Ok(Self::new(store, local_jwt))
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
