use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::app::init_tracing();
    let app = shared::App::from_env().await?;
    run(service_fn(|event: LambdaEvent<Value>| {
        let app = &app;
        let context = event.context.clone();
        shared::app::in_invocation_span(
            "purge-sweeper",
            &context,
            purge_sweeper::handle(app, event),
        )
    }))
    .await
}
