#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::app::serve_events("vat-revalidation", vat_revalidation::handle).await
}
