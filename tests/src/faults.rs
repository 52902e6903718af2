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
        let address = serve(|_| {
            let mut response = FakeResponse::json(400, CONFLICT_BODY);
            response.content_type = "application/x-amz-json-1.0";
            response
        })
        .await;
        Self {
            remaining: Arc::new(AtomicUsize::new(count)),
            served: Arc::new(AtomicUsize::new(0)),
            address,
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
        let request = context.request_mut();
        let is_transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with("TransactWriteItems"));
        if !is_transaction {
            return Ok(());
        }
        let take = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if take.is_ok() {
            self.served.fetch_add(1, Ordering::SeqCst);
            let uri = format!("{}/", self.address);
            request.set_uri(uri.as_str())?;
        }
        Ok(())
    }
}
