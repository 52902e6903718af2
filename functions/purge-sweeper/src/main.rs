#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::app::serve_events("purge-sweeper", purge_sweeper::handle).await
}
