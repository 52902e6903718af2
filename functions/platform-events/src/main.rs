// The write path nests the SDK's futures deeper than the default limit of 128 queries.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::events::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::app::init_tracing();
    let app = shared::App::from_env().await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let app = &app;
        let context = event.context.clone();
        let handled =
            async move { Ok::<_, Error>(platform_events::handle(app, event.payload).await) };
        shared::app::in_invocation_span("platform-events", &context, handled)
    }))
    .await
}
