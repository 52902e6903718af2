//! The `platform-events` function: an SQS batch in, the failed messages out (the SQS event
//! source reports them with `ReportBatchItemFailures`; docs/platform-events.md).

use shared::platform_events::{apply_batch, SqsBatchResponse, SqsEvent};
use shared::App;

pub async fn handle(app: &App, batch: SqsEvent) -> SqsBatchResponse {
    apply_batch(&app.store, batch).await
}
