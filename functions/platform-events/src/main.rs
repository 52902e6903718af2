// The write path nests the SDK's futures deeper than the default limit of 128 queries.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent};
use shared::platform_events::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::app::serve_events(
        "platform-events",
        |app, event: LambdaEvent<SqsEvent>| async move {
            Ok::<_, Error>(platform_events::handle(app, event.payload).await)
        },
    )
    .await
}
