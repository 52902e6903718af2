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
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault server");
        let address = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut read = 0;
                    // Read the head, then as much body as Content-Length says.
                    loop {
                        let Ok(n) = socket.read(&mut buffer[read..]).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        read += n;
                        let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let length = text[..head_end]
                                .lines()
                                .find_map(|l| {
                                    let (name, value) = l.split_once(':')?;
                                    name.eq_ignore_ascii_case("content-length")
                                        .then(|| value.trim().parse::<usize>().ok())
                                        .flatten()
                                })
                                .unwrap_or(0);
                            if read >= head_end + 4 + length {
                                break;
                            }
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fault\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{CONFLICT_BODY}",
                        CONFLICT_BODY.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
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
