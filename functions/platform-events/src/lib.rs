//! The `platform-events` function: an SQS batch in, the failed messages out (the SQS event
//! source reports them with `ReportBatchItemFailures`; docs/platform-events.md).

use shared::platform_events::{apply_batch, SqsBatchResponse, SqsEvent};
use shared::producers::screen;
use shared::App;

/// Messages from accounts that are not producers are refused unread
/// (`PLATFORM_EVENT_PRODUCER_ACCOUNTS`); the rest are applied.
pub async fn handle(app: &App, batch: SqsEvent) -> SqsBatchResponse {
    let (batch, refused) = screen(batch, app.platform_event_producer_accounts.as_deref());
    let mut response = apply_batch(&app.store, batch).await;
    for message_id in refused {
        response.add_failure(message_id);
    }
    response
}
