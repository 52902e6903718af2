#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::serve_http(operators::handle).await
}
