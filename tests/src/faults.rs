//! DynamoDB faults that DynamoDB Local never produces, injected at the network boundary: the
//! SDK's request is sent to a local server that answers as the real service does, and the SDK
//! parses that answer as it would in AWS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::fake_http::{serve, FakeResponse};

/// What DynamoDB answers when a transaction collides with another one.
const CONFLICT_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}],"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]"}"#;

/// Sends the first `count` TransactWriteItems requests to a server that answers
/// `TransactionCanceledException` with reason `TransactionConflict`.
#[derive(Debug, Clone)]
pub struct TransactionConflicts {
    remaining: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
    address: String,
}

impl TransactionConflicts {
    pub async fn start(count: usize) -> Self {
        Self {
            remaining: Arc::new(AtomicUsize::new(count)),
            served: Arc::new(AtomicUsize::new(0)),
            address: error_server(400, CONFLICT_BODY).await,
        }
    }

    /// Sends the next `count` TransactWriteItems requests to the fault server.
    pub fn arm(&self, count: usize) {
        self.remaining.store(count, Ordering::SeqCst);
    }

    /// How many conflicts were injected so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

impl Intercept for TransactionConflicts {
    fn name(&self) -> &'static str {
        "TransactionConflicts"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        divert(context, "TransactWriteItems", &self.address, || {
            let take = self
                .remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if take.is_ok() {
                self.served.fetch_add(1, Ordering::SeqCst);
            }
            take.is_ok()
        })
    }
}

/// A loopback server that answers every request as DynamoDB answers a transaction conflict
/// (`TransactionCanceledException`, reason `TransactionConflict`); its base URL.
pub async fn transaction_conflict_server() -> String {
    error_server(400, CONFLICT_BODY).await
}

/// A loopback server that answers every request as DynamoDB answers an error: `status`, `body`.
async fn error_server(status: u16, body: &'static str) -> String {
    serve(move |_| {
        let mut response = FakeResponse::json(status, body);
        response.content_type = "application/x-amz-json-1.0";
        response
    })
    .await
}

/// Sends the request to the fault server at `address` when it calls DynamoDB's `operation` (its
/// `x-amz-target`) and `fail` says so; else it goes on to DynamoDB Local.
fn divert(
    context: &mut BeforeTransmitInterceptorContextMut<'_>,
    operation: &str,
    address: &str,
    fail: impl FnOnce() -> bool,
) -> Result<(), BoxError> {
    let request = context.request_mut();
    let calls = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        == Some(operation)
        || operation == "*";
    if calls && fail() {
        request.set_uri(format!("{address}/").as_str())?;
    }
    Ok(())
}

/// What DynamoDB answers (HTTP 400) when it throttles a request: the error types of the
/// DynamoDB API reference ("Common errors", and each operation's errors).
pub const THROTTLING: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;
pub const PROVISIONED_THROUGHPUT_EXCEEDED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
pub const REQUEST_LIMIT_EXCEEDED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded","message":"Throughput exceeds the current throughput limit for your account."}"#;

/// What DynamoDB answers when it fails a request on its side (HTTP 500; the SDK retries it, up to
/// its attempts, then gives up).
const INTERNAL_ERROR_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;

/// Lets the first `pass` requests of one DynamoDB operation (e.g. `BatchWriteItem`) through to
/// DynamoDB Local, then sends every further one (each retry too) to a server that answers
/// `InternalServerError`, until [`FailAfter::disarm`]: a dependency that fails in the middle of
/// a job.
#[derive(Debug, Clone)]
pub struct FailAfter {
    operation: &'static str,
    passes_left: Arc<AtomicUsize>,
    armed: Arc<std::sync::atomic::AtomicBool>,
    failed: Arc<AtomicUsize>,
    address: String,
}

impl FailAfter {
    pub async fn start(operation: &'static str, pass: usize) -> Self {
        Self::answering(operation, pass, 500, INTERNAL_ERROR_BODY).await
    }

    /// The same, answering `status` with `body` (e.g. [`THROTTLING`] with 400); `operation`
    /// `"*"` fails every operation.
    pub async fn answering(
        operation: &'static str,
        pass: usize,
        status: u16,
        body: &'static str,
    ) -> Self {
        Self {
            operation,
            passes_left: Arc::new(AtomicUsize::new(pass)),
            armed: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            failed: Arc::new(AtomicUsize::new(0)),
            address: error_server(status, body).await,
        }
    }

    /// Lets every request through from now on.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// How many requests were failed so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    /// `client` with this fault in its requests' path.
    pub fn client(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for FailAfter {
    fn name(&self) -> &'static str {
        "FailAfter"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        divert(context, self.operation, &self.address, || {
            let passed = self
                .passes_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            let fail = self.armed.load(Ordering::SeqCst) && passed.is_err();
            if fail {
                self.failed.fetch_add(1, Ordering::SeqCst);
            }
            fail
        })
    }
}
