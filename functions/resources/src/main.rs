use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::app::init_tracing();
    let app = shared::App::from_env().await?;
    run(service_fn(|request| {
        let app = &app;
        async move { Ok::<_, Error>(resources::handle(app, request).await) }
    }))
    .await
}
