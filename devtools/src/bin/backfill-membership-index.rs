//! Once after deploying the memberships list onto a table that already holds members: gives
//! every member item stored before it the `gsi1` keys `GET /api/v1/memberships` finds it by
//! (`shared::storage::backfill`, docs/storage.md). Safe to repeat and to run beside the API.
//!
//! `TABLE_NAME=<table> backfill-membership-index [--dry-run]`, with the AWS SDK's usual
//! environment (`AWS_PROFILE` or keys, `AWS_REGION`; `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB
//! Local). Needs `dynamodb:Scan` and `dynamodb:UpdateItem` on the table. Prints what it found,
//! indexed and skipped; a skipped item changed meanwhile and is found by the next run.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: TABLE_NAME=<table> backfill-membership-index [--dry-run]";
    let table = std::env::var("TABLE_NAME").map_err(|_| usage)?;
    let dry_run = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--dry-run") => true,
        Some(_) => return Err(usage.into()),
    };
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = shared::storage::Store::new(aws_sdk_dynamodb::Client::new(&config), &table);
    let report = store.backfill_membership_index(dry_run).await?;
    println!(
        "{table}: {} member items without index keys, {} {}, {} skipped (changed meanwhile: run again)",
        report.found,
        report.indexed,
        if dry_run { "would be indexed" } else { "indexed" },
        report.skipped
    );
    Ok(())
}
