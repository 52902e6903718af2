use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::publisher::{Publisher, StreamEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::app::init_tracing();
    let publisher = Publisher::from_env().await?;
    run(service_fn(|event: LambdaEvent<StreamEvent>| {
        let publisher = &publisher;
        let context = event.context.clone();
        let handled =
            async move { Ok::<_, Error>(event_publisher::handle(publisher, event.payload).await) };
        shared::app::in_invocation_span("event-publisher", &context, handled)
    }))
    .await
}
