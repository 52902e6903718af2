//! `make dev`'s outbound events: reads the DynamoDB stream of `TABLE_NAME` on DynamoDB Local and
//! hands its records, in the Lambda DynamoDB-stream event shape and through the event source
//! mapping's filter, to the event publisher, as the `event-publisher` function gets them in AWS
//! (docs/events.md). With `EVENTS_OUTBOX_DIR` (make dev: `.local/events/`) each event becomes a
//! file `<eventId>.json`; with `EVENT_BUS_NAME` instead, it is put on that bus.
//!
//! Like the event source mapping, a batch with failed records is delivered again from its first
//! failed record (after a pause, up to 10 times; then the record is skipped and logged).
//!
//! stream-pump [--from trim-horizon|latest] [--interval-ms 250] [--parent PID]
//!   --from: where to start in the stream (default: trim-horizon, the last 24 hours: a restart
//!           rewrites the same files, since eventIds are deterministic);
//!   --parent: exit when this process has gone (make dev passes its shell's pid).

use std::time::Duration;

use devtools::stream::{batches, ensure_stream, lambda_event, streams_client, Start, StreamReader};
use shared::publisher::Publisher;

/// Deliveries of a batch with failed records before its first failed record is skipped.
const MAX_DELIVERIES: u32 = 10;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::app::init_tracing();
    let mut start = Start::TrimHorizon;
    let mut interval = Duration::from_millis(250);
    let mut parent: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--from" => {
                start = match value()?.as_str() {
                    "latest" => Start::Latest,
                    "trim-horizon" => Start::TrimHorizon,
                    other => return Err(format!("--from {other}: trim-horizon or latest").into()),
                }
            }
            "--interval-ms" => interval = Duration::from_millis(value()?.parse()?),
            "--parent" => parent = Some(value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME must be set")?;
    let publisher = Publisher::from_env().await?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let arn = ensure_stream(&dynamodb, &table).await?;
    let mut reader = StreamReader::new(streams_client(&config), &arn, start);
    tracing::info!(table, stream = arn, sink = ?sink_name(&publisher), "stream pump started");

    let mut pending: Vec<serde_json::Value> = Vec::new();
    let mut deliveries = 0u32;
    loop {
        if parent.as_deref().is_some_and(|pid| !alive(pid)) {
            tracing::info!("parent process gone; stream pump stops");
            return Ok(());
        }
        match reader.poll().await {
            Ok(records) => pending.extend(batches(&records).into_iter().flatten()),
            Err(error) => tracing::warn!(%error, "reading the stream failed; trying again"),
        }
        while let Some(batch) = batches(&pending).into_iter().next() {
            let size = batch.len();
            let sequence: Vec<Option<String>> = batch
                .iter()
                .map(|r| r["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned))
                .collect();
            let response = publisher.publish(lambda_event(batch)?).await;
            let first_failed = response
                .batch_item_failures
                .iter()
                .filter_map(|f| sequence.iter().position(|s| *s == f.item_identifier))
                .min();
            match first_failed {
                None => {
                    pending.drain(..size);
                    deliveries = 0;
                }
                Some(index) => {
                    pending.drain(..index);
                    deliveries += 1;
                    if deliveries >= MAX_DELIVERIES {
                        tracing::error!(
                            sequence_number = sequence[index].as_deref(),
                            "record still not published after {MAX_DELIVERIES} deliveries; skipped"
                        );
                        pending.remove(0);
                        deliveries = 0;
                    }
                    break;
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}

fn sink_name(publisher: &Publisher) -> String {
    match &publisher.sink {
        shared::publisher::Sink::Outbox { dir } => format!("outbox {}", dir.display()),
        shared::publisher::Sink::EventBridge { bus, .. } => format!("bus {bus}"),
    }
}

/// Whether process `pid` still runs.
fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
