//! Creates the table named by `TABLE_NAME` (as `template.yaml` declares it) on the DynamoDB that
//! the AWS SDK's environment points at, e.g. `AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000`.
//! An existing table is left as it is.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME must be set")?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    match client.describe_table().table_name(&table).send().await {
        Ok(_) => println!("table {table} exists"),
        Err(e) if e.code() == Some("ResourceNotFoundException") => {
            shared::storage::schema::create_table(&client, &table).await?;
            println!("table {table} created");
        }
        Err(e) => return Err(aws_sdk_dynamodb::Error::from(e).into()),
    }
    Ok(())
}
