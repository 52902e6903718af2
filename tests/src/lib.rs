//! Test support: DynamoDB Local, a fresh table per test, real API Gateway v2 events, tokens,
//! and faults injected at the network boundary.

pub mod dynamodb;
pub mod events;
pub mod fake_http;
pub mod faults;
pub mod logs;
pub mod outbound;
pub mod platform;
pub mod vies;

use std::sync::Arc;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_types::config_bag::ConfigBag;
use shared::auth::LocalJwtVerifier;
use shared::storage::{schema, Store};
use shared::App;

pub use events::{ApiRequest, Reply, TestUser};

use shared::routes::{Group, Router};

/// Sends `request` to the function that serves its route, as API Gateway would.
pub async fn send(app: &App, request: ApiRequest) -> Reply {
    dispatch(app, request.build()).await
}

/// Sends an already built request (e.g. one read from an event fixture) to its function.
pub async fn dispatch(app: &App, request: lambda_http::Request) -> Reply {
    let group = [
        Group::Organisations,
        Group::Members,
        Group::Activity,
        Group::Validation,
        Group::Resources,
        Group::Operators,
    ]
    .into_iter()
    .find(|g| Router::for_group(*g).resolve(&request).is_ok());
    // As `shared::app::serve_http` runs a handler: in the invocation's span, its answer counted.
    let invocation = shared::app::Invocation::of(&request);
    // On the heap: a debug build's handler futures (the write path nests many) are large, and
    // a test's runtime polls them on the test thread's stack (2 MiB).
    let response = Box::pin(invocation.answer(handle(app, group, request))).await;
    Reply::from_response(response)
}

async fn handle(
    app: &App,
    group: Option<Group>,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    match group {
        Some(Group::Organisations) => organisations::handle(app, request).await,
        Some(Group::Members) => members::handle(app, request).await,
        Some(Group::Activity) => activity::handle(app, request).await,
        Some(Group::Validation) => validation::handle(app, request).await,
        Some(Group::Resources) => resources::handle(app, request).await,
        Some(Group::Operators) => operators::handle(app, request).await,
        None => shared::http::respond(&request, Err(shared::ApiError::NotFound("no route".into()))),
    }
}

/// The HS256 secret of test and development tokens.
pub const TEST_JWT_SECRET: &str = "local-development-secret-change-me";

/// Records the operations of the DynamoDB requests a client sends, in order: their count is the
/// round trips (for assertions and benches).
#[derive(Debug, Default, Clone)]
pub struct RoundTrips(Arc<std::sync::Mutex<Vec<String>>>);

impl RoundTrips {
    pub fn get(&self) -> usize {
        self.lock().len()
    }
    pub fn reset(&self) {
        self.lock().clear();
    }
    /// The operations sent since the last reset, in the order they were sent.
    pub fn operations(&self) -> Vec<String> {
        self.lock().clone()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Intercept for RoundTrips {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }
    // Once per operation (the serialized request is reused by retries), with the operation's
    // metadata in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or("?", |m| m.name())
            .to_owned();
        self.lock().push(operation);
        Ok(())
    }
}

/// A fresh table on DynamoDB Local and an [`App`] over it, as a function would build it, with
/// a mail outbox directory of its own.
pub struct TestEnv {
    pub app: App,
    pub round_trips: RoundTrips,
    pub table: String,
    pub endpoint: String,
    pub outbox: std::path::PathBuf,
}

/// A mail the app wrote to the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mail {
    /// The verification code in the mail's link.
    pub fn code(&self) -> String {
        let start = self
            .body
            .find("/verify-email/")
            .expect("a verification link")
            + "/verify-email/".len();
        self.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_faults(None).await
    }

    /// With `faults`, TransactWriteItems calls are routed to the fault server while it has
    /// faults left to serve.
    pub async fn with_faults(faults: Option<faults::TransactionConflicts>) -> Self {
        let endpoint = dynamodb::endpoint();
        let round_trips = RoundTrips::default();
        let client = client(&endpoint, Some(round_trips.clone()), faults);
        let table = format!("orgs-test-{}", uuid::Uuid::new_v4().simple());
        schema::create_table(&client, &table)
            .await
            .expect("create the test table on DynamoDB Local");
        let verifier = LocalJwtVerifier::hs256(TEST_JWT_SECRET.as_bytes(), None, None)
            .expect("the test secret is a valid key");
        let outbox = std::env::temp_dir().join(format!("orgs-outbox-{table}"));
        let app = App::new(Store::new(client, &table), Some(verifier)).with_mailer(
            shared::mail::Mailer::Outbox {
                dir: outbox.clone(),
            },
        );
        round_trips.reset();
        Self {
            app,
            round_trips,
            table,
            endpoint,
            outbox,
        }
    }

    /// Asks `vies` (a [`vies::FakeVies`]) with a short timeout.
    pub fn with_vies(mut self, vies: &vies::FakeVies, timeout: std::time::Duration) -> Self {
        let client = shared::vies::ViesClient::new(&vies.url, timeout).expect("a VIES client");
        self.app = self.app.with_vies(client);
        self
    }

    /// Mails in the outbox, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("a mail file");
                let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                };
                Mail {
                    to: header("To:"),
                    subject: header("Subject:"),
                    body: body.to_owned(),
                }
            })
            .collect()
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// The items of the organisation's partition whose sort key starts with `prefix` (all of
    /// them for `""`), read straight from the table.
    /// Seeds the records of a membership (member, by subject, by e-mail) as they are, without
    /// a change of the organisation: for tests whose subject is not the members endpoint.
    pub async fn seed_member(&self, slug: &str, member: &shared::domain::member::Member) {
        use shared::storage::entities::MemberBySubject;
        let slug = shared::domain::Slug::parse(slug).expect("a slug");
        let store = self.store();
        store.seed(member, &slug).await.expect("seed member");
        if member.subject.is_some() {
            store
                .seed(&MemberBySubject(member), &slug)
                .await
                .expect("seed member by subject");
        }
        if let Some(email) = &member.email {
            let lookup = shared::domain::records::EmailLookup {
                email: email.clone(),
                member_identity: member.identity,
                subject: member.subject.clone(),
            };
            store
                .seed(&lookup, &slug)
                .await
                .expect("seed member by e-mail");
        }
    }

    pub async fn partition(&self, slug: &str, prefix: &str) -> Vec<shared::storage::Item> {
        let query = self
            .store()
            .client()
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{slug}")))
            .consistent_read(true);
        let query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        };
        query.send().await.expect("query").items.unwrap_or_default()
    }
}

/// A DynamoDB client for DynamoDB Local at `endpoint`.
pub fn client(
    endpoint: &str,
    round_trips: Option<RoundTrips>,
    faults: Option<faults::TransactionConflicts>,
) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .endpoint_url(endpoint);
    if let Some(counter) = round_trips {
        config = config.interceptor(counter);
    }
    if let Some(faults) = faults {
        config = config.interceptor(faults);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// Creates an organisation of `organisation_type` named `name` with `admin` as its first
/// member; returns its slug.
pub async fn create_organisation(
    app: &App,
    admin: &TestUser,
    name: &str,
    organisation_type: &str,
) -> String {
    let reply = send(
        app,
        ApiRequest::post("/api/v1/organisations")
            .by(admin)
            .json(serde_json::json!({
                "organisationName": name,
                "organisationType": organisation_type,
                "contactEmail": "ops@example.com",
                "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                                       {"agreementSlug": "privacy-policy"}]
            })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["slug"]["slugValue"]
        .as_str()
        .expect("a slug")
        .to_owned()
}
