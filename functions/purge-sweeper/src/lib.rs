//! The `purge-sweeper` function: one scheduled run of [`shared::storage::Store::sweep_pending`],
//! which empties the partitions of deleted organisations that their DELETE left unfinished.

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::storage::sweep::{Budget, SweepReport};
use shared::App;

/// Time kept in hand at the end of a run: a chunk started just before the stop ends well
/// within it (one Query and a few BatchWriteItems, their retries included).
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// Items one run deletes at most (with 2 WCU per large item, about 17 minutes of one
/// partition's 1,000 WCU/s: the time budget ends a run first).
pub const MAX_ITEMS_PER_RUN: u64 = 500_000;

/// The schedule's event carries nothing this job needs. A run in which a partition's sweep
/// failed ends in an error, so that the function's error alarm sees it; what it deleted stays
/// deleted and the next run resumes.
pub async fn handle(
    app: &App,
    event: LambdaEvent<Value>,
) -> Result<SweepReport, lambda_runtime::Error> {
    let budget = Budget::before_deadline(MAX_ITEMS_PER_RUN, event.context.deadline, SAFETY_MARGIN);
    let report = app.store.sweep_pending(budget).await?;
    tracing::info!(
        finished = report.partitions_finished,
        left = report.partitions_left,
        failed = report.partitions_failed,
        deleted = report.items_deleted,
        budget_spent = report.budget_spent,
        "purge sweep run"
    );
    if report.partitions_failed > 0 {
        return Err(format!(
            "{} partition sweeps failed ({report:?}); the next run resumes them",
            report.partitions_failed
        )
        .into());
    }
    Ok(report)
}
