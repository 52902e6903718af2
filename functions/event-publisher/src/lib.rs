//! The `event-publisher` function: a batch of stream records in, the records to deliver again
//! out (the event source mapping reports them with `ReportBatchItemFailures`; docs/events.md).

use shared::publisher::{DynamoDbEventResponse, Publisher, StreamEvent};

pub async fn handle(publisher: &Publisher, batch: StreamEvent) -> DynamoDbEventResponse {
    publisher.publish(batch).await
}
