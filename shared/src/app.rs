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
    /// Creates plus registrations per caller per 24 hours (`MAX_ORGANISATIONS_PER_USER_PER_DAY`).
    pub max_organisations_per_user_per_day: usize,
    /// How long an invitation may be claimed (`INVITATION_TTL_DAYS`).
    pub invitation_ttl_days: u32,
    /// Pending invitations per organisation (`MAX_PENDING_INVITATIONS_PER_ORGANISATION`).
    pub max_pending_invitations: u32,
    /// The console invitation mails link to (`CONSOLE_URL`).
    pub console_url: String,
    /// Mails and VAT number changes per organisation per 24 hours
    /// (`MAX_MAILS_PER_ORGANISATION_PER_DAY`, `MAX_VAT_CHANGES_PER_ORGANISATION_PER_DAY`).
    pub budgets: crate::domain::budgets::Budgets,
    /// The identity provider's group whose members, with the operator scope, are platform
    /// operators (`OPERATOR_GROUP`; docs/security.md).
    pub operator_group: String,
    /// The accounts whose platform events are applied (`PLATFORM_EVENT_PRODUCER_ACCOUNTS`);
    /// `None` (not set: local development) admits every account.
    pub platform_event_producer_accounts: Option<Vec<String>>,
}

/// The operator group when `OPERATOR_GROUP` is not set (the template's `OperatorGroup`).
pub const DEFAULT_OPERATOR_GROUP: &str = "organisations-operators";

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
    #[error(transparent)]
    TrustStore(#[from] crate::aws::TrustStoreError),
}

/// A limit from the environment: a whole number of at least 1 (0 would refuse every request
/// it counts; the template's `MinValue: 1` says the same).
fn limit_from_env<L: std::str::FromStr + PartialOrd + From<u8>>(
    name: &'static str,
) -> Result<Option<L>, ConfigError> {
    std::env::var(name)
        .ok()
        .map(|value| parse_limit(name, value))
        .transpose()
}

fn parse_limit<L: std::str::FromStr + PartialOrd + From<u8>>(
    name: &'static str,
    value: String,
) -> Result<L, ConfigError> {
    match value.parse() {
        Ok(limit) if limit >= L::from(1) => Ok(limit),
        _ => Err(ConfigError::Invalid(name, value)),
    }
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
            max_organisations_per_user_per_day:
                crate::domain::decisions::DEFAULT_ORGANISATIONS_PER_USER_PER_DAY,
            invitation_ttl_days: crate::domain::memberships::DEFAULT_INVITATION_TTL_DAYS,
            max_pending_invitations: crate::domain::memberships::DEFAULT_MAX_PENDING_INVITATIONS,
            console_url: "http://127.0.0.1:3000".to_owned(),
            budgets: crate::domain::budgets::Budgets::default(),
            operator_group: DEFAULT_OPERATOR_GROUP.to_owned(),
            platform_event_producer_accounts: None,
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
    /// - `PUBLIC_API_URL`: base of verification links; empty: the request's own host and stage
    ///   ([`request_base_url`]);
    /// - the limits `MAX_ORGANISATIONS_PER_USER_PER_DAY`, `MAX_MAILS_PER_ORGANISATION_PER_DAY`,
    ///   `MAX_VAT_CHANGES_PER_ORGANISATION_PER_DAY` (docs/plans.md).
    /// - `INVITATION_TTL_DAYS` (default 14), `MAX_PENDING_INVITATIONS_PER_ORGANISATION`
    ///   (default 500), `CONSOLE_URL` (the link in invitation mails).
    pub async fn from_env() -> Result<Self, ConfigError> {
        refuse_local_verifier_in_lambda(|name| std::env::var(name).ok())?;
        let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
        let config = crate::aws::sdk_config()?;
        let store = Store::from_config(&config, table);
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
        refuse_plain_http_vies_in_lambda(&vies_url, |name| std::env::var(name).ok())?;
        let vies = ViesClient::new(&vies_url, timeout)
            .map_err(|e| ConfigError::Invalid("VIES_BASE_URL", e))?;
        let mut app = Self::new(store, local_jwt)
            .with_mailer(mailer)
            .with_vies(vies);
        if let Some(limit) = limit_from_env("MAX_ORGANISATIONS_PER_USER_PER_DAY")? {
            app.max_organisations_per_user_per_day = limit;
        }
        if let Ok(days) = std::env::var("INVITATION_TTL_DAYS") {
            app.invitation_ttl_days = days
                .parse()
                .ok()
                .filter(|d| (1..=365).contains(d))
                .ok_or_else(|| ConfigError::Invalid("INVITATION_TTL_DAYS", days.clone()))?;
        }
        if let Some(limit) = limit_from_env("MAX_PENDING_INVITATIONS_PER_ORGANISATION")? {
            app.max_pending_invitations = limit;
        }
        if let Ok(url) = std::env::var("CONSOLE_URL") {
            app.console_url = url.trim_end_matches('/').to_owned();
        }
        if let Some(limit) = limit_from_env("MAX_MAILS_PER_ORGANISATION_PER_DAY")? {
            app.budgets.mails_per_organisation_per_day = limit;
        }
        if let Some(limit) = limit_from_env("MAX_VAT_CHANGES_PER_ORGANISATION_PER_DAY")? {
            app.budgets.vat_changes_per_organisation_per_day = limit;
        }
        if let Ok(group) = std::env::var("OPERATOR_GROUP") {
            // One group name: the claim's values are separated by spaces, commas and brackets.
            let group = group.trim();
            if group.is_empty()
                || group.contains(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']'))
            {
                return Err(ConfigError::Invalid("OPERATOR_GROUP", group.to_owned()));
            }
            app.operator_group = group.to_owned();
        }
        if let Ok(accounts) = std::env::var("PLATFORM_EVENT_PRODUCER_ACCOUNTS") {
            app.platform_event_producer_accounts = Some(
                crate::producers::parse_accounts(&accounts)
                    .map_err(|e| ConfigError::Invalid("PLATFORM_EVENT_PRODUCER_ACCOUNTS", e))?,
            );
        }
        if let Ok(url) = std::env::var("PUBLIC_API_URL") {
            app.public_api_url = url.trim_end_matches('/').to_owned();
        }
        Ok(app)
    }
}

/// Whether the process runs in the AWS Lambda service. Managed runtimes set `AWS_EXECUTION_ENV`
/// to `AWS_Lambda_<runtime>`, but Lambda leaves it undefined for OS-only runtimes such as ours
/// (`provided.al2023`); there, `AWS_LAMBDA_LOG_GROUP_NAME` and `LAMBDA_TASK_ROOT` tell. `cargo
/// lambda watch` (`make dev`) sets none of the three (it sets `AWS_LAMBDA_FUNCTION_NAME`,
/// `AWS_LAMBDA_RUNTIME_API` and a few more; checked with cargo-lambda 1.9.2).
fn in_lambda_service(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    var("AWS_EXECUTION_ENV").is_some_and(|v| v.starts_with("AWS_Lambda_"))
        || set("AWS_LAMBDA_LOG_GROUP_NAME")
        || set("LAMBDA_TASK_ROOT")
}

/// The local bearer-token verifier trusts anyone who knows `LOCAL_JWT_SECRET`. In AWS the
/// authorizer verifies tokens, so a function there that has the secret refuses to start.
fn refuse_local_verifier_in_lambda(
    var: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if var("LOCAL_JWT_SECRET").is_some_and(|s| !s.is_empty()) && in_lambda_service(&var) {
        tracing::error!(
            "refusing to start: LOCAL_JWT_SECRET is set in the AWS Lambda service; the local token \
             verifier is for development only, remove the variable from the function's configuration"
        );
        return Err(ConfigError::Invalid(
            "LOCAL_JWT_SECRET",
            "it must not be set in the AWS Lambda service (development only)".to_owned(),
        ));
    }
    Ok(())
}

/// Inside AWS, VIES is reached over https only: a plain `http://` `VIES_BASE_URL` (a local fake,
/// or a typo) would send VAT numbers in clear and let anyone on the path answer "valid". Like
/// `LOCAL_JWT_SECRET`, such a function refuses to start there, with an ERROR line saying why.
fn refuse_plain_http_vies_in_lambda(
    vies_url: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let https = vies_url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    if !https && in_lambda_service(&var) {
        tracing::error!(
            "refusing to start: VIES_BASE_URL is not an https:// URL in the AWS Lambda service; \
             VIES is reached over https only there"
        );
        return Err(ConfigError::Invalid(
            "VIES_BASE_URL",
            "it must be an https:// URL in the AWS Lambda service".to_owned(),
        ));
    }
    Ok(())
}

/// Structured JSON logs (CloudWatch-friendly). The level comes from Lambda's advanced logging
/// controls (`AWS_LAMBDA_LOG_LEVEL`, set by the template's `LoggingConfig.ApplicationLogLevel`:
/// TRACE, DEBUG, INFO, WARN, ERROR, FATAL), falling back to `RUST_LOG` locally, then `info`.
pub fn init_tracing() {
    let filter = log_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let _ = tracing::subscriber::set_global_default(json_logs(&filter, std::io::stdout));
}

/// The functions' log format: one JSON object per line with the current span's fields (the
/// invocation's: [`request_span`], [`invocation_span`]), written to `writer` (stdout in Lambda;
/// tests capture it).
pub fn json_logs<W>(filter: &str, writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    // Targets (`info`, `warn,shared=debug`), not EnvFilter: EnvFilter's span and field
    // directives bring a regex engine into every binary (docs/benchmarks.md). A filter that
    // does not parse means `info`.
    let targets = filter
        .parse::<tracing_subscriber::filter::Targets>()
        .unwrap_or_else(|_| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        });
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(targets)
}

/// The filter directive from Lambda's level (which wins) or `RUST_LOG`.
fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> String {
    match lambda_level.map(str::to_ascii_lowercase).as_deref() {
        Some("fatal") => "error".to_owned(),
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => level.to_owned(),
        _ => rust_log
            .filter(|s| !s.is_empty())
            .unwrap_or("info")
            .to_owned(),
    }
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
    lambda_http::run(lambda_http::service_fn(
        move |request: lambda_http::Request| {
            let response = Invocation::of(&request).answer(handle(app, request));
            async move { Ok::<_, std::convert::Infallible>(response.await) }
        },
    ))
    .await
}

/// The whole `main` of a function that API Gateway does not call (a schedule, a queue): logs,
/// the [`App`] from the environment, and the Lambda runtime calling `handle` for every event,
/// each in its [`invocation_span`] named after `function`.
pub async fn serve_events<E, R, F, Fut>(
    function: &'static str,
    handle: F,
) -> Result<(), lambda_http::Error>
where
    E: serde::de::DeserializeOwned,
    R: serde::Serialize,
    F: Fn(&'static App, lambda_http::LambdaEvent<E>) -> Fut,
    Fut: std::future::Future<Output = Result<R, lambda_http::Error>>,
{
    init_tracing();
    // As in `serve_http`: built once, shared by plain reference.
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<E>| {
            let context = event.context.clone();
            in_invocation_span(function, &context, handle(app, event))
        },
    ))
    .await
}

/// One HTTP invocation: its span ([`request_span`]) and its route, which its answer is
/// counted under (the metrics `4xx` and `5xx`, [`crate::metrics::answered`]).
pub struct Invocation {
    span: tracing::Span,
    route: &'static str,
    base_url: String,
}

tokio::task_local! {
    /// The base URL the current request reached the API at ([`request_base_url`]).
    static REQUEST_BASE_URL: String;
}

/// `https://<requestContext.domainName>` and, for a named stage, `/<stage>`: where the request
/// reached the API (its execute-api host, or the custom domain it came through; a custom
/// domain's mapping to `$default` adds no stage). Empty without a domain name.
fn base_url_of(request: &lambda_http::Request) -> String {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return String::new();
    };
    let Some(domain) = context.domain_name.as_deref().filter(|d| !d.is_empty()) else {
        return String::new();
    };
    match context.stage.as_deref() {
        Some(stage) if !stage.is_empty() && stage != "$default" => {
            format!("https://{domain}/{stage}")
        }
        _ => format!("https://{domain}"),
    }
}

/// The base URL of the request being answered (inside [`Invocation::answer`]), if it has one:
/// the verification links' base when `PUBLIC_API_URL` is empty (the first deploy, before a
/// custom domain).
pub fn request_base_url() -> Option<String> {
    REQUEST_BASE_URL
        .try_with(Clone::clone)
        .ok()
        .filter(|url| !url.is_empty())
}

impl Invocation {
    pub fn of(request: &lambda_http::Request) -> Self {
        Self {
            span: request_span(request),
            route: crate::routes::route_key(request),
            base_url: base_url_of(request),
        }
    }

    /// `response` (the handler's work) under the invocation's span, then counted.
    pub async fn answer<Fut>(self, response: Fut) -> lambda_http::Response<lambda_http::Body>
    where
        Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
    {
        let response = REQUEST_BASE_URL
            .scope(
                self.base_url,
                tracing::Instrument::instrument(response, self.span),
            )
            .await;
        crate::metrics::answered(self.route, response.status().as_u16());
        response
    }
}

/// Whether this execution environment has served an invocation yet.
static WARM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True for the first invocation of this execution environment (its cold start), then false.
fn first_invocation() -> bool {
    !WARM.swap(true, std::sync::atomic::Ordering::Relaxed)
}

/// The span of one invocation of a function that API Gateway does not call (a queue, the
/// table's stream, a schedule): the Lambda request id, the X-Ray trace id and whether this was a
/// cold start, on every log line of the invocation. (lambda_runtime's own span carries the ids
/// but not the cold start, and it is not the current span of lines logged in nested spans.)
pub fn invocation_span(function: &'static str, context: &lambda_http::Context) -> tracing::Span {
    tracing::info_span!(
        "invocation",
        function,
        lambda_request_id = context.request_id.as_str(),
        trace_id = context.xray_trace_id.as_deref().unwrap_or(""),
        cold_start = first_invocation(),
    )
}

/// `invocation` run inside [`invocation_span`]: what a non-HTTP function's `main` hands the
/// runtime.
pub fn in_invocation_span<F: std::future::Future>(
    function: &'static str,
    context: &lambda_http::Context,
    invocation: F,
) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(invocation, invocation_span(function, context))
}

/// The span of one invocation: every log line of it carries the Lambda request id, API
/// Gateway's request id (also the `x-request-id` of the response), the route, the X-Ray trace
/// id, whether this was a cold start, and once known the organisation's slug and the caller's
/// `sub` (recorded by `routes::PathParams::slug` and `auth::authenticate`).
pub fn request_span(request: &lambda_http::Request) -> tracing::Span {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let cold_start = first_invocation();
    let lambda = request.lambda_context_ref();
    let route = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.clone(),
        _ => None,
    };
    tracing::info_span!(
        "request",
        lambda_request_id = lambda.map_or("", |c| c.request_id.as_str()),
        request_id = %crate::http::request_id(request),
        route = route.as_deref().unwrap_or(""),
        trace_id = lambda.and_then(|c| c.xray_trace_id.as_deref()).unwrap_or(""),
        cold_start,
        slug = tracing::field::Empty,
        sub = tracing::field::Empty,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_limit_is_a_whole_number_of_at_least_one() {
        let limit = |value: &str| super::parse_limit::<usize>("MAX_X", value.to_owned()).ok();
        assert_eq!(limit("1"), Some(1));
        assert_eq!(limit("200"), Some(200));
        // 0 would refuse every request (and once made every create panic): refused at start.
        assert_eq!(limit("0"), None);
        assert_eq!(limit("-1"), None);
        assert_eq!(limit("ten"), None);
        assert_eq!(super::parse_limit::<u32>("MAX_X", "0".into()).ok(), None);
    }

    #[test]
    fn the_lambda_log_level_wins_over_rust_log() {
        assert_eq!(super::log_filter(Some("DEBUG"), Some("warn")), "debug");
        assert_eq!(super::log_filter(Some("FATAL"), None), "error");
        assert_eq!(
            super::log_filter(None, Some("warn,shared=debug")),
            "warn,shared=debug"
        );
        assert_eq!(super::log_filter(Some("nonsense"), None), "info");
    }

    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_local_verifier_refuses_to_start_in_the_lambda_service() {
        // What `cargo lambda watch` (make dev) gives a function: it starts.
        let watch = [
            ("LOCAL_JWT_SECRET", "local-development-secret-change-me"),
            ("AWS_LAMBDA_FUNCTION_NAME", "organisations"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096"),
            (
                "AWS_LAMBDA_RUNTIME_API",
                "http://127.0.0.1:9000/.rt/organisations",
            ),
        ];
        assert!(refuse_local_verifier_in_lambda(env(&watch)).is_ok());

        // The Lambda service, provided.al2023 (no AWS_EXECUTION_ENV), and a managed runtime.
        let provided = [
            ("LOCAL_JWT_SECRET", "oops"),
            ("AWS_LAMBDA_FUNCTION_NAME", "prod-organisations"),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/prod-organisations",
            ),
            ("LAMBDA_TASK_ROOT", "/var/task"),
        ];
        let refused = refuse_local_verifier_in_lambda(env(&provided)).unwrap_err();
        assert!(refused
            .to_string()
            .starts_with("LOCAL_JWT_SECRET is not valid"));
        let managed = [
            ("LOCAL_JWT_SECRET", "oops"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_java21"),
        ];
        assert!(refuse_local_verifier_in_lambda(env(&managed)).is_err());

        // In the service without the secret (or with an empty one): it starts.
        assert!(refuse_local_verifier_in_lambda(env(&provided[1..])).is_ok());
        let empty = [("LOCAL_JWT_SECRET", ""), ("LAMBDA_TASK_ROOT", "/var/task")];
        assert!(refuse_local_verifier_in_lambda(env(&empty)).is_ok());
        // Another execution environment (e.g. ECS) is not Lambda.
        let ecs = [
            ("LOCAL_JWT_SECRET", "s"),
            ("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE"),
        ];
        assert!(refuse_local_verifier_in_lambda(env(&ecs)).is_ok());
    }

    #[test]
    fn vies_over_plain_http_refuses_to_start_in_the_lambda_service() {
        let lambda = [("LAMBDA_TASK_ROOT", "/var/task")];
        let refused =
            refuse_plain_http_vies_in_lambda("http://vies.example/rest-api", env(&lambda))
                .unwrap_err();
        assert!(refused
            .to_string()
            .starts_with("VIES_BASE_URL is not valid"));
        assert!(refuse_plain_http_vies_in_lambda("HTTP://vies.example", env(&lambda)).is_err());
        assert!(refuse_plain_http_vies_in_lambda(VIES_DEFAULT_URL, env(&lambda)).is_ok());
        // Locally (make dev, the tests' fake VIES) plain http is fine.
        let watch = [("AWS_LAMBDA_FUNCTION_NAME", "organisations")];
        assert!(refuse_plain_http_vies_in_lambda("http://127.0.0.1:8089", env(&watch)).is_ok());
    }
}
